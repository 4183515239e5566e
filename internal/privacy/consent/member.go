package consent

import (
	"encoding/json"
	"strings"

	"github.com/omniroi/omniroi/internal/jsonscan"
)

// Member returns the raw value of key in the JSON object obj, or nil. Keys match as
// encoding/json matches struct fields (ASCII case-insensitively); a repeated key gives
// the last value, as there. It reads past other members without decoding them, which
// is what makes the collection gate cheap for events that carry consent or contact data.
// Input that is not an object gives nil.
func Member(obj []byte, key string) []byte {
	i := jsonscan.SkipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i = jsonscan.SkipWS(obj, i+1)
	var found []byte
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return nil
		}
		end := jsonscan.SkipValue(obj, i)
		if end < 0 {
			return nil
		}
		k := obj[i+1 : end-1]
		match := false
		if len(k) == len(key) || strings.IndexByte(string(k), '\\') >= 0 {
			ks := string(k)
			if strings.IndexByte(ks, '\\') >= 0 {
				_ = json.Unmarshal(obj[i:end], &ks)
			}
			match = strings.EqualFold(ks, key)
		}
		i = jsonscan.SkipWS(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		v0 := jsonscan.SkipWS(obj, i+1)
		v1 := jsonscan.SkipValue(obj, v0)
		if v1 < 0 {
			return nil
		}
		if match {
			found = obj[v0:v1]
		}
		i = jsonscan.SkipWS(obj, v1)
		if i < len(obj) && obj[i] == ',' {
			i = jsonscan.SkipWS(obj, i+1)
			continue
		}
		break
	}
	return found
}

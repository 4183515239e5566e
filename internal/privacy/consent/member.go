package consent

import (
	"encoding/json"
	"strings"
)

// Member returns the raw value of key in the JSON object obj, or nil. Keys match as
// encoding/json matches struct fields (ASCII case-insensitively); a repeated key gives
// the last value, as there. It reads past other members without decoding them, which
// is what makes the collection gate cheap for events that carry consent or contact data.
// Input that is not an object gives nil.
func Member(obj []byte, key string) []byte {
	i := ws(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i = ws(obj, i+1)
	var found []byte
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return nil
		}
		end := skip(obj, i)
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
		i = ws(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		v0 := ws(obj, i+1)
		v1 := skip(obj, v0)
		if v1 < 0 {
			return nil
		}
		if match {
			found = obj[v0:v1]
		}
		i = ws(obj, v1)
		if i < len(obj) && obj[i] == ',' {
			i = ws(obj, i+1)
			continue
		}
		break
	}
	return found
}

func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skip returns the index just past the JSON value at b[i], or -1.
func skip(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			case '"':
				j := skip(b, i)
				if j < 0 {
					return -1
				}
				i = j - 1
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

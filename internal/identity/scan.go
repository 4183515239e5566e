package identity

import (
	"encoding/json"

	"github.com/omniroi/omniroi/internal/jsonscan"
)

// decodeBody fills f from an event body as json.Unmarshal would, without decoding (or
// validating) the parts identity resolution ignores: bodies in the log were validated and
// normalised at ingest, and decoding them whole was the processor's largest cost after
// SQLite. Anything unusual (escaped or non-ASCII keys, a repeated key, a context that is
// not an object, a syntax surprise) falls back to json.Unmarshal.
func decodeBody(body []byte, f *bodyFields) {
	var traits, ctx []byte
	ok := scanObject(body, func(key, val []byte) bool {
		switch {
		case foldEq(key, "previousId"):
			if f.PreviousID != nil {
				return false
			}
			f.PreviousID = val
		case foldEq(key, "groupId"):
			if f.GroupID != nil {
				return false
			}
			f.GroupID = val
		case foldEq(key, "traits"):
			if traits != nil {
				return false
			}
			traits = val
		case foldEq(key, "properties"):
			if f.Properties != nil {
				return false
			}
			f.Properties = val
		case foldEq(key, "context"):
			if ctx != nil || val[0] != '{' && string(val) != "null" {
				return false
			}
			ctx = val
		}
		return true
	})
	var ctxTraits []byte
	if ok && ctx != nil && ctx[0] == '{' {
		ok = scanObject(ctx, func(key, val []byte) bool {
			if foldEq(key, "traits") {
				if ctxTraits != nil {
					return false
				}
				ctxTraits = val
			}
			return true
		})
	}
	if !ok {
		*f = bodyFields{}
		_ = json.Unmarshal(body, f) // a field of an odd type only loses that field
		return
	}
	if traits != nil {
		_ = json.Unmarshal(traits, &f.Traits)
	}
	if ctxTraits != nil {
		_ = json.Unmarshal(ctxTraits, &f.Context.Traits)
	}
}

// foldEq reports whether key equals name ignoring ASCII case, as encoding/json matches
// field names (scanObject only passes keys without escapes or non-ASCII bytes).
func foldEq(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range key {
		a, b := key[i], name[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// scanObject calls fn with each key and raw value of the JSON object in b. It returns
// false when b is not a plain object, a key has an escape or a non-ASCII byte, or fn
// returns false.
func scanObject(b []byte, fn func(key, val []byte) bool) bool {
	i := jsonscan.SkipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = jsonscan.SkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return jsonscan.SkipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		k0 := i + 1
		for i = k0; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' || b[i] >= 0x80 || b[i] < 0x20 {
				return false
			}
		}
		if i >= len(b) {
			return false
		}
		key := b[k0:i]
		i = jsonscan.SkipWS(b, i+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		v0 := jsonscan.SkipWS(b, i+1)
		v1 := jsonscan.SkipValue(b, v0)
		if v1 < 0 || !fn(key, b[v0:v1:v1]) {
			return false
		}
		i = jsonscan.SkipWS(b, v1)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return jsonscan.SkipWS(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = jsonscan.SkipWS(b, i+1)
	}
}

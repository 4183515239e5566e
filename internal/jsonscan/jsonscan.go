// Package jsonscan walks raw JSON text without decoding it: the hot paths that need one
// or two members of an event body (identity resolution, the collection gate) use it to
// skip the rest. It does not validate: callers either hold text that was validated at
// ingest or fall back to encoding/json when a scan gives up.
package jsonscan

// SkipWS returns the index of the first byte at or after i that is not JSON white space.
func SkipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// SkipValue returns the index just past the JSON value starting at b[i], or -1 when no
// complete value starts there. Strings, objects and arrays are matched by their
// delimiters (escapes and nested strings included); anything else must be a run of the
// bytes numbers and the literals true, false and null are made of.
func SkipValue(b []byte, i int) int {
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
				j := SkipValue(b, i)
				if j < 0 {
					return -1
				}
				i = j - 1
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z' || b[j] == 'E') {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

package recommend

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/omniroi/omniroi/internal/jsonscan"
)

// orderLine is what a model takes from one line of an order's items: the product it
// names (product_id, else id, else sku) and the quantity.
type orderLine struct {
	id       string
	quantity float64
}

// orderLines reads the lines of an order's items JSON; ok is false when the text is not
// valid JSON of the expected shape (the order is then skipped). The common shape (an
// array of objects whose id members are plain strings and whose quantity is a number)
// is scanned without decoding the other members, which the processor wrote from a
// decoded event; anything else goes through encoding/json, so both give the same lines.
func orderLines(items []byte, out []orderLine) ([]orderLine, bool) {
	if lines, ok := scanOrderLines(items, out); ok {
		return lines, true
	}
	var lines []struct {
		ProductID json.RawMessage `json:"product_id"`
		ID        json.RawMessage `json:"id"`
		SKU       json.RawMessage `json:"sku"`
		Quantity  float64         `json:"quantity"`
	}
	if json.Unmarshal(items, &lines) != nil {
		return out[:0], false
	}
	out = out[:0]
	for _, l := range lines {
		id := rawID(l.ProductID)
		if id == "" {
			id = rawID(l.ID)
		}
		if id == "" {
			id = rawID(l.SKU)
		}
		out = append(out, orderLine{id: id, quantity: l.Quantity})
	}
	return out, true
}

// scanOrderLines is orderLines' fast path; ok false means "not the plain shape", not
// "invalid".
func scanOrderLines(b []byte, out []orderLine) ([]orderLine, bool) {
	out = out[:0]
	i := jsonscan.SkipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return out, false
	}
	i = jsonscan.SkipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return out, jsonscan.SkipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return out, false
		}
		var ids [3]string // product_id, id, sku
		var q float64
		i = jsonscan.SkipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
		} else {
			for {
				k0 := i
				k1 := jsonscan.SkipValue(b, k0)
				if k1 < 0 || b[k0] != '"' {
					return out, false
				}
				key := b[k0+1 : k1-1]
				i = jsonscan.SkipWS(b, k1)
				if i >= len(b) || b[i] != ':' {
					return out, false
				}
				v0 := jsonscan.SkipWS(b, i+1)
				v1 := jsonscan.SkipValue(b, v0)
				if v1 < 0 {
					return out, false
				}
				v := b[v0:v1]
				switch string(key) {
				case "product_id", "id", "sku":
					s, ok := plainString(v)
					if !ok {
						return out, false
					}
					switch string(key) {
					case "product_id":
						ids[0] = s
					case "id":
						ids[1] = s
					default:
						ids[2] = s
					}
				case "quantity":
					if string(v) == "null" {
						break // encoding/json leaves the number as it was
					}
					f, ok := plainNumber(v)
					if !ok {
						return out, false
					}
					q = f
				default:
					// encoding/json matches member names without regard to case: a
					// name that folds to one of ours takes the slow path.
					if len(key) <= len("product_id") && (strings.EqualFold(string(key), "product_id") || strings.EqualFold(string(key), "id") ||
						strings.EqualFold(string(key), "sku") || strings.EqualFold(string(key), "quantity")) {
						return out, false
					}
					for _, c := range key {
						if c == '\\' || c >= utf8.RuneSelf {
							return out, false
						}
					}
				}
				i = jsonscan.SkipWS(b, v1)
				if i >= len(b) {
					return out, false
				}
				if b[i] == '}' {
					i++
					break
				}
				if b[i] != ',' {
					return out, false
				}
				i = jsonscan.SkipWS(b, i+1)
			}
		}
		id := ids[0]
		if id == "" {
			id = ids[1]
		}
		if id == "" {
			id = ids[2]
		}
		out = append(out, orderLine{id: id, quantity: q})
		i = jsonscan.SkipWS(b, i)
		if i >= len(b) {
			return out, false
		}
		if b[i] == ']' {
			return out, jsonscan.SkipWS(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return out, false
		}
		i = jsonscan.SkipWS(b, i+1)
	}
}

// plainString is rawID of a JSON string without escapes or bytes outside ASCII (null: "").
func plainString(v []byte) (string, bool) {
	if string(v) == "null" {
		return "", true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return "", false
		}
	}
	return strings.TrimSpace(string(v[1 : len(v)-1])), true
}

// plainNumber parses a JSON number.
func plainNumber(v []byte) (float64, bool) {
	if !jsonNumber(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// jsonNumber reports whether v is a number by JSON's grammar.
func jsonNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		j := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		j := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(v)
}

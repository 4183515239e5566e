package recommend

import (
	"encoding/json"
	"testing"
)

// The scanned order lines are what encoding/json gives, for the plain shape and for
// everything the scan hands over to it.
func TestOrderLinesAsEncodingJSON(t *testing.T) {
	for _, items := range []string{
		`[{"product_id":"w-sourdough","name":"Sourdough loaf","category":"bread","price":5.50,"quantity":1},{"product_id":"w-pastrybox","quantity":2}]`,
		` [ { "id" : " a ", "quantity" : 1.5e1 } , {"sku":"s1"} ] `,
		`[{"product_id":null,"id":"b","quantity":null}]`,
		`[{"product_id":"x","quantity":3,"quantity":null}]`,
		`[{"product_id":"x","product_id":"y"}]`,
		`[{"Product_ID":"folded","quantity":2}]`,
		`[{"QUANTITY":4,"product_id":"q"}]`,
		`[{"product_id":"caf\u00e9"}]`,
		`[{"product_id":"café"}]`,
		`[{"product_id":12,"quantity":1}]`,
		`[{"product_id":"x","quantity":"2"}]`,
		`[{"product_id":"x","quantity":01}]`,
		`[{"product_id":"x","quantity":1e400}]`,
		`[{"product_id":"x","nested":{"product_id":"no","a":[1,{"b":"]"}]}}]`,
		`[{}]`,
		`[]`,
		`[1]`,
		`null`,
		``,
		`[{"product_id":"x"}`,
		`[{"product_id":"x"},]`,
		`[{"product_id" "x"}]`,
		`[{"product_id":"x"}] x`,
	} {
		got, ok := orderLines([]byte(items), nil)
		var lines []struct {
			ProductID json.RawMessage `json:"product_id"`
			ID        json.RawMessage `json:"id"`
			SKU       json.RawMessage `json:"sku"`
			Quantity  float64         `json:"quantity"`
		}
		err := json.Unmarshal([]byte(items), &lines)
		if ok != (err == nil) {
			t.Errorf("%s: ok %v, encoding/json: %v", items, ok, err)
			continue
		}
		if !ok {
			continue
		}
		if len(got) != len(lines) {
			t.Errorf("%s: %d lines, want %d", items, len(got), len(lines))
			continue
		}
		for i, l := range lines {
			id := rawID(l.ProductID)
			if id == "" {
				id = rawID(l.ID)
			}
			if id == "" {
				id = rawID(l.SKU)
			}
			if got[i].id != id || got[i].quantity != l.Quantity {
				t.Errorf("%s: line %d is %+v, want %q × %g", items, i, got[i], id, l.Quantity)
			}
		}
	}
}

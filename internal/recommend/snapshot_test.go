package recommend

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

// TestModelRoundTrip stores a model and reads it back with the same catalogue and
// rules: the model read is the model built, field by field, and recommends the same.
func TestModelRoundTrip(t *testing.T) {
	d := numericBakery(t, nil)
	// Views and a cart add after the last order, pins and blocks, a customer's traits:
	// so that every part of the model holds something.
	for i := range 20 {
		c := fmt.Sprint(1000 + i)
		d.Interactions = append(d.Interactions,
			Interaction{Customer: c, Product: "jam", Time: 20 * 86400000, Kind: View},
			Interaction{Customer: c, Product: "rye", Time: 20*86400000 + 1, Kind: View},
			Interaction{Customer: c, Product: "cinnamon", Time: 20*86400000 + 2, Kind: Cart})
	}
	d.Pins = []ProductRule{{ProductID: "jam", Placement: "home", Rule: RulePin}, {ProductID: "water", Rule: RuleBlock}}
	d.Traits = map[string]string{"1000": `{"consent":{"personalisation":false}}`}
	m := build(t, d)
	m.Version = "v1"
	m.Built = m.Built.Round(0) // the monotonic clock reading is not stored
	checkFilled(t, reflect.ValueOf(m).Elem())

	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalModel(b, m.cat, m.rules)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("fields that differ: %v", differing(got, m))
		t.Fatal("the model read back is not the model built")
	}
	for _, r := range []Request{
		{CustomerID: 2000, Placement: "home", Personalised: true},
		{CustomerID: 1001, Placement: "cart", Personalised: true, Products: []string{"coffee"}},
		{Placement: "product", Products: []string{"sourdough"}, Location: "store"},
		{CustomerID: 1003, Placement: "email", Personalised: true, N: 8},
	} {
		if g, w := got.Recommend(r), m.Recommend(r); !reflect.DeepEqual(g, w) || len(w) == 0 {
			t.Errorf("%+v:\n%+v\nwant\n%+v", r, g, w)
		}
	}
	if _, err := UnmarshalModel(b[:len(b)/2], m.cat, m.rules); err == nil {
		t.Error("a truncated stored model was read")
	}
}

// checkFilled fails for each field of v that holds its zero value, except skip.
func checkFilled(t *testing.T, v reflect.Value, skip ...string) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Type().Field(i).Name
		if !slices.Contains(skip, f) && v.Field(i).IsZero() {
			t.Errorf("Model.%s is empty in the built model: the test would not see it dropped", f)
		}
	}
}

// differing names the fields of two models that differ (unexported ones included).
func differing(a, b *Model) []string {
	field := func(v reflect.Value, i int) any {
		f := v.Field(i)
		return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
	}
	var out []string
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range av.NumField() {
		if !reflect.DeepEqual(field(av, i), field(bv, i)) {
			out = append(out, av.Type().Field(i).Name)
		}
	}
	return out
}

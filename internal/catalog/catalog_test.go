package catalog

import "testing"

func TestAvailable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p        Product
		location string
		want     bool
	}{
		{Product{Availability: InStock}, "", true},        // stock not tracked
		{Product{Availability: OutOfStock}, "web", false}, // the shop says so
		{Product{Availability: InStock, Stock: map[string]int64{"web": 0, "store": 2}}, "web", false},
		{Product{Availability: InStock, Stock: map[string]int64{"web": 0, "store": 2}}, "store", true},
		{Product{Availability: InStock, Stock: map[string]int64{"web": 0, "store": 2}}, "", true}, // somewhere
		{Product{Availability: InStock, Stock: map[string]int64{"web": 0}}, "", false},
		{Product{Availability: InStock, Stock: map[string]int64{"web": 0}}, "market", true}, // not tracked there
		{Product{Availability: Backorder, Stock: map[string]int64{"web": 3}}, "web", true},
	} {
		if got := c.p.Available(c.location); got != c.want {
			t.Errorf("%+v at %q: %v, want %v", c.p, c.location, got, c.want)
		}
	}
}

func TestGetResolvesVariantsAndSKUs(t *testing.T) {
	t.Parallel()
	c := New([]Product{
		{ID: "cake", Title: "Cake"},
		{ID: "cake/S", ParentID: "cake", SKU: "CAKE-S", Title: "Cake (small)"},
		{ID: "bread", SKU: "BR-1", Title: "Bread"},
	})
	for id, want := range map[string]string{"cake/S": "cake", "CAKE-S": "cake", "BR-1": "bread", "bread": "bread"} {
		if p := c.Get(id); p == nil || p.ID != want {
			t.Errorf("Get(%q) = %+v, want %s", id, p, want)
		}
	}
	if c.Get("nope") != nil || c.Len() != 2 || len(c.Get("cake").Variants) != 1 {
		t.Fatalf("products %d, cake %+v", c.Len(), c.Get("cake"))
	}
	if m, ok := (&Product{PriceMinor: 400, CostMinor: 300}).MarginShare(); !ok || m != 0.25 {
		t.Fatalf("margin %v %v", m, ok)
	}
	if _, ok := (&Product{PriceMinor: 400}).MarginShare(); ok {
		t.Fatal("unknown cost has a margin")
	}
}

package attribution

import "testing"

// TestPathStats: paths are grouped by channel path with consecutive repeats collapsed,
// and every conversion and null lands in exactly one path.
func TestPathStats(t *testing.T) {
	t.Parallel()
	tp := func(chs ...string) []Touch {
		var out []Touch
		for _, c := range chs {
			out = append(out, Touch{Channel: c})
		}
		return out
	}
	js := []Path{
		{Touches: tp("Email", "Email", "Paid Search"), Conversions: 1, Value: 10},
		{Touches: tp("Email", "Paid Search"), Conversions: 1, Value: 5},
		{Touches: tp("Email", "Paid Search", "Email"), Nulls: 1},
		{Touches: tp("Direct"), Nulls: 2},
	}
	set, err := Compile(js)
	if err != nil {
		t.Fatal(err)
	}
	ps := PathStats(set)
	got := map[string]PathStat{}
	var conv, nulls float64
	for _, p := range ps {
		got[p.Key()] = p
		conv += p.Conversions
		nulls += p.Nulls
	}
	if conv != 2 || nulls != 3 {
		t.Errorf("paths hold %v conversions and %v nulls, want 2 and 3", conv, nulls)
	}
	if p := got["Email → Paid Search"]; p.Conversions != 2 || p.Value != 15 {
		t.Errorf("Email → Paid Search: %+v, want both converting journeys (repeats collapsed)", p)
	}
	if p := got["Email → Paid Search → Email"]; p.Nulls != 1 {
		t.Errorf("a return to a channel is a new step: %+v", got)
	}
}

package mix

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// FuzzReadCSV: a model input file either is refused with a message, or gives days in
// strictly increasing order with one value per day and channel; whatever passes the
// model's own check (validate) is finite, with no negative spend.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("date,revenue,search,social\n2024-01-01,100,10,5\n2024-01-02,120,12,\n2024-01-03,90,0,4\n"))
	f.Add([]byte("\ufeffdate,revenue,search,social\n2024/01/02,1e3,NaN,1\n2024-01-01T10:00:00Z,5,-1,2\n"))
	f.Add([]byte("date,revenue,search,social\n2024-01-01,1,1,1\n2024-01-01,2,2,2\n"))
	cols := CSVColumns{Date: "date", Target: "revenue", Spend: []string{"search", "social"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadCSV(bytes.NewReader(data), cols)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		n := d.Len()
		if n == 0 || len(d.Target) != n || len(d.Spend) != len(cols.Spend) {
			t.Fatalf("%d days, %d targets, %d channels", n, len(d.Target), len(d.Spend))
		}
		for i := 1; i < n; i++ {
			if !d.Dates[i].After(d.Dates[i-1]) {
				t.Fatalf("days out of order or twice: %v then %v", d.Dates[i-1], d.Dates[i])
			}
		}
		for _, s := range d.Spend {
			if len(s) != n {
				t.Fatalf("a channel with %d values for %d days", len(s), n)
			}
		}
		if _, err := d.validate(); err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused series gives an empty message")
			}
			return
		}
		for i, v := range d.Target {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("day %d: target %v passed the check", i, v)
			}
		}
		for c, s := range d.Spend {
			for i, v := range s {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("channel %d day %d: spend %v passed the check", c, i, v)
				}
			}
		}
	})
}

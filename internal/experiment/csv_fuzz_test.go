package experiment

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzReadCSV: a unit file for `omniroi experiment analyze` is refused with a message or
// read into arms whose units add up; the analysis of what was read either says why it
// cannot run or gives a JSON document whose p-values are probabilities, whose intervals are
// ordered, and whose verdict is in words.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("unit,variant,value\nu1,control,0\nu2,b,1\nu3,control,1\nu4,b,1\n"), uint8(0))
	f.Add([]byte("unit,variant,value,pre_value\nu1,a,12.5,10\nu2,b,0,3\nu3,a,7,7\nu4,b,30,12\nu5,a,0,0\nu6,b,4,1\n"), uint8(1))
	f.Add([]byte("variant,value,unit\nx,1e308,1\ny,-1e308,2\nx,NaN,3\n"), uint8(2))
	types := []MetricType{"", Mean, Proportion}
	f.Fuzz(func(t *testing.T, data []byte, typ uint8) {
		d, err := ReadCSV(bytes.NewReader(data), types[int(typ)%len(types)])
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		var n float64
		for _, a := range d.Arms {
			n += a.Moments.N
		}
		if int(n) != d.Units {
			t.Fatalf("arms hold %v units, the file %d", n, d.Units)
		}
		res, err := Analyze(d.Arms, Options{Type: d.Type, CUPED: d.HasPre})
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused analysis gives an empty message")
			}
			return
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("the result does not encode: %v", err)
		}
		if strings.TrimSpace(res.Verdict.Text) == "" {
			t.Fatalf("no verdict in words: %+v", res.Verdict)
		}
		finite := func(v Num) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
		for _, v := range res.Variants {
			if finite(v.PValue) && (v.PValue < 0 || v.PValue > 1) {
				t.Fatalf("variant %q: p-value %v", v.Variant, v.PValue)
			}
			if finite(v.ProbBeatControl) && (v.ProbBeatControl < 0 || v.ProbBeatControl > 1) {
				t.Fatalf("variant %q: probability to beat control %v", v.Variant, v.ProbBeatControl)
			}
			if finite(v.DiffLow) && finite(v.DiffHigh) && v.DiffLow > v.DiffHigh {
				t.Fatalf("variant %q: difference interval %v..%v", v.Variant, v.DiffLow, v.DiffHigh)
			}
			if finite(v.LiftLow) && finite(v.LiftHigh) && v.LiftLow > v.LiftHigh {
				t.Fatalf("variant %q: lift interval %v..%v", v.Variant, v.LiftLow, v.LiftHigh)
			}
		}
	})
}

// FuzzReadGeoCSV: a daily series for the ad-channel tests is refused with a message or
// read into consecutive days with one value per day (and region), and no negative spend.
func FuzzReadGeoCSV(f *testing.F) {
	f.Add([]byte("date,value,spend\n2024-03-01,100,10\n2024-03-02,120,0\n2024-03-03,90,12\n"))
	f.Add([]byte("date,region,value,group,on\n2024-03-01,N1,10,treatment,1\n2024-03-01,S2,12,control,0\n2024-03-02,N1,11,treatment,1\n"))
	f.Add([]byte("date,value\n2024-03-01,1\n2024-03-03,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ReadGeoCSV(bytes.NewReader(data))
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refused file gives an empty message")
			}
			return
		}
		days := len(g.Dates)
		if days == 0 || len(g.Total) != days {
			t.Fatalf("%d days, %d totals", days, len(g.Total))
		}
		for i := 1; i < days; i++ {
			if g.Dates[i].Sub(g.Dates[i-1]).Hours() < 23 || g.Dates[i].Sub(g.Dates[i-1]).Hours() > 25 {
				t.Fatalf("days not consecutive: %v then %v", g.Dates[i-1], g.Dates[i])
			}
		}
		for r, s := range g.ByRegion {
			if len(s) != days {
				t.Fatalf("region %d with %d values for %d days", r, len(s), days)
			}
		}
		if g.HasSpend && len(g.Spend) != days {
			t.Fatalf("%d spend values for %d days", len(g.Spend), days)
		}
		for _, v := range g.Spend {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("spend %v", v)
			}
		}
	})
}

package attribution

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/testenv"
	"gonum.org/v1/gonum/mat"
)

// caRow is one row of ChannelAttribution's Data.csv, parsed independently of ReadPaths.
type caRow struct {
	path              []string
	conv, value, null float64
}

func loadCA(t *testing.T) (string, []caRow) {
	t.Helper()
	file := filepath.Join(testenv.SharedDataset(t, "channelattribution"), "Data.csv")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []caRow
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ";")
		if len(parts) != 4 {
			t.Fatalf("bad line %q", sc.Text())
		}
		var r caRow
		for _, c := range strings.Split(parts[0], ">") {
			r.path = append(r.path, strings.TrimSpace(c))
		}
		r.conv, _ = strconv.ParseFloat(parts[1], 64)
		r.value, _ = strconv.ParseFloat(parts[2], 64)
		r.null, _ = strconv.ParseFloat(parts[3], 64)
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return file, rows
}

func readCA(t *testing.T, file string) []Path {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	js, err := ReadPaths(f)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestChannelAttributionData(t *testing.T) {
	t.Parallel()
	file, rows := loadCA(t)
	js := readCA(t, file)

	// README figures of the dataset.
	var conv, value, nulls float64
	for _, j := range js {
		conv += j.Conversions
		value += j.Value
		nulls += j.Nulls
	}
	if len(js) != 5408 || conv != 19785 || !near(value, 74802.9716) || nulls != 68602 {
		t.Errorf("ReadPaths: %d paths, %v conversions, %v value, %v nulls", len(js), conv, value, nulls)
	}

	// Heuristics, recomputed row by row the way ChannelAttribution's heuristic_models does.
	type cv struct{ c, v float64 }
	exp := map[string]map[string]cv{"first_touch": {}, "last_touch": {}, "linear": {}, "position_based": {}}
	addTo := func(model, ch string, f float64, r caRow) {
		x := exp[model][ch]
		exp[model][ch] = cv{x.c + f*r.conv, x.v + f*r.value}
	}
	for _, r := range rows {
		n := len(r.path)
		addTo("first_touch", r.path[0], 1, r)
		addTo("last_touch", r.path[n-1], 1, r)
		for i, ch := range r.path {
			addTo("linear", ch, 1/float64(n), r)
			var w float64
			switch {
			case n == 1:
				w = 1
			case n == 2:
				w = 0.5
			case i == 0 || i == n-1:
				w = 0.4
			default:
				w = 0.2 / float64(n-2)
			}
			addTo("position_based", ch, w, r)
		}
	}
	for model, e := range exp {
		res := run(t, model, Config{}, js...)
		if len(res.ByChannel) != 12 {
			t.Errorf("%s: %d channels", model, len(res.ByChannel))
		}
		for _, c := range res.ByChannel {
			if !near(c.Conversions, e[c.Key].c) || !near(c.Value, e[c.Key].v) {
				t.Errorf("%s %s: got %v / %v, want %v / %v", model, c.Key, c.Conversions, c.Value, e[c.Key].c, e[c.Key].v)
			}
		}
	}
	// No channel is called Direct here, so last_non_direct is last_touch.
	lnd, lt := run(t, "last_non_direct", Config{}, js...), run(t, "last_touch", Config{}, js...)
	for i := range lnd.ByChannel {
		if lnd.ByChannel[i] != lt.ByChannel[i] {
			t.Errorf("last_non_direct %v != last_touch %v", lnd.ByChannel[i], lt.ByChannel[i])
		}
	}
	if _, err := Must(ByName("time_decay")).Attribute(js); err == nil {
		t.Error("time_decay ran on a path file")
	}
}

// refMarkov computes removal effects with a dense solve over the full chain, built from the
// raw rows with string states.
func refMarkov(t *testing.T, rows []caRow, order int, ignoreNulls bool) (pConv float64, re map[string]float64) {
	t.Helper()
	if ignoreNulls {
		rows = append([]caRow(nil), rows...)
		for i := range rows {
			rows[i].null = 0
		}
	}
	states := map[string]int{"(start)": 0}
	chans := map[int][]string{}
	type tr struct{ from, to int }
	cnt := map[tr]float64{}
	const conv, null = -1, -2
	for _, r := range rows {
		var c []string
		for _, ch := range r.path {
			if len(c) == 0 || c[len(c)-1] != ch {
				c = append(c, ch)
			}
		}
		var wins [][]string
		if len(c) < order {
			wins = [][]string{c}
		}
		for i := 0; i+order <= len(c); i++ {
			wins = append(wins, c[i:i+order])
		}
		prev := 0
		for _, w := range wins {
			key := strings.Join(w, ",")
			id, ok := states[key]
			if !ok {
				id = len(states)
				states[key] = id
				chans[id] = w
			}
			cnt[tr{prev, id}] += r.conv + r.null
			prev = id
		}
		cnt[tr{prev, conv}] += r.conv
		cnt[tr{prev, null}] += r.null
	}
	n := len(states)
	out := make([]float64, n)
	for k, v := range cnt {
		out[k.from] += v
	}
	solve := func(removed string) float64 {
		a := mat.NewDense(n, n, nil)
		b := mat.NewVecDense(n, nil)
		for i := range n {
			a.Set(i, i, 1)
		}
		for k, v := range cnt {
			gone := false
			for _, ch := range chans[k.from] {
				gone = gone || ch == removed
			}
			if gone || out[k.from] == 0 {
				continue // a removed state goes to null: p = 0
			}
			switch k.to {
			case conv:
				b.SetVec(k.from, b.AtVec(k.from)+v/out[k.from])
			case null:
			default:
				a.Set(k.from, k.to, a.At(k.from, k.to)-v/out[k.from])
			}
		}
		var x mat.VecDense
		if err := x.SolveVec(a, b); err != nil {
			t.Fatal(err)
		}
		return x.AtVec(0)
	}
	pConv = solve("")
	re = map[string]float64{}
	seen := map[string]bool{}
	for _, w := range chans {
		for _, ch := range w {
			if !seen[ch] {
				seen[ch] = true
				re[ch] = 1 - solve(ch)/pConv
			}
		}
	}
	return pConv, re
}

func TestChannelAttributionMarkov(t *testing.T) {
	file, rows := loadCA(t)
	js := readCA(t, file)
	var totalConv, totalValue float64
	for _, r := range rows {
		totalConv += r.conv
		totalValue += r.value
	}
	// The overall conversion probability of the chain is the observed conversion rate.
	wantRate := totalConv / (totalConv + 68602)
	for _, tc := range []struct {
		order       int
		forceIter   bool
		ignoreNulls bool
		solverName  string
	}{{1, false, false, "dense LU"}, {2, false, false, "dense LU"}, {2, true, false, "Gauss-Seidel"}, {1, false, true, "dense LU"}} {
		old := denseLimit
		if tc.forceIter {
			denseLimit = 0
		}
		res, err := Markov{Order: tc.order, IgnoreNulls: tc.ignoreNulls}.Attribute(js)
		denseLimit = old
		if err != nil {
			t.Fatal(err)
		}
		checkSums(t, res)
		d := res.Details.(*MarkovDetails)
		if d.Solver != tc.solverName {
			t.Errorf("order %d: solver %s, want %s", tc.order, d.Solver, tc.solverName)
		}
		p, re := refMarkov(t, rows, tc.order, tc.ignoreNulls)
		rate := wantRate
		if tc.ignoreNulls {
			rate = 1
		}
		if !near(d.ConversionProbability, p) || !near(p, rate) {
			t.Errorf("order %d: p(conv) %v, reference %v, observed rate %v", tc.order, d.ConversionProbability, p, rate)
		}
		var sum float64
		for _, v := range re {
			sum += v
		}
		for _, c := range res.ByChannel {
			if got := d.RemovalEffect(c.Key); !near(got, re[c.Key]) {
				t.Errorf("order %d %s (%s): removal effect %v, reference %v", tc.order, c.Key, d.Solver, got, re[c.Key])
			}
			if w := re[c.Key] / sum * totalConv; !near(c.Conversions, w) {
				t.Errorf("order %d %s: %v conversions, reference %v", tc.order, c.Key, c.Conversions, w)
			}
			if w := re[c.Key] / sum * totalValue; !near(c.Value, w) {
				t.Errorf("order %d %s: %v value, reference %v", tc.order, c.Key, c.Value, w)
			}
		}
		t.Logf("order %d: %d states, p(conv) %.6f", tc.order, d.States, d.ConversionProbability)
	}
}

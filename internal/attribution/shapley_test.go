package attribution

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomPaths draws small journeys over nc channels named c0, c1, ...
func randomPaths(rng *rand.Rand, n, nc int) []Path {
	js := make([]Path, n)
	for i := range js {
		k := 1 + rng.IntN(4)
		for range k {
			js[i].Touches = append(js[i].Touches, Touch{Channel: fmt.Sprintf("c%d", rng.IntN(nc))})
		}
		js[i].Conversions = float64(rng.IntN(3))
		js[i].Nulls = float64(rng.IntN(4))
		js[i].Value = 7 * js[i].Conversions
	}
	return js
}

// permutations calls f with every ordering of 0..n-1.
func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// bruteShapley averages marginal contributions of v over all orderings of the channels.
func bruteShapley(names []string, v func(in map[string]bool) float64) map[string]float64 {
	phi := map[string]float64{}
	count := 0
	permutations(len(names), func(p []int) {
		count++
		in := map[string]bool{}
		prev := v(in)
		for _, i := range p {
			in[names[i]] = true
			cur := v(in)
			phi[names[i]] += cur - prev
			prev = cur
		}
	})
	for k := range phi {
		phi[k] /= float64(count)
	}
	return phi
}

func channelSet(j Path) map[string]bool {
	s := map[string]bool{}
	for _, t := range j.Touches {
		s[t.Channel] = true
	}
	return s
}

func setKey(s map[string]bool, names []string) string {
	k := ""
	for _, n := range names {
		if s[n] {
			k += n + ","
		}
	}
	return k
}

func namesOf(js []Path) []string {
	seen := map[string]bool{}
	var out []string
	for _, j := range js {
		for _, t := range j.Touches {
			if !seen[t.Channel] {
				seen[t.Channel] = true
				out = append(out, t.Channel)
			}
		}
	}
	return out
}

func TestShapleyBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		nc := 2 + trial%5
		js := randomPaths(rng, 30, nc)
		names := namesOf(js)
		// Coalition value: conversions of journeys whose channel set lies inside it.
		v := func(in map[string]bool) float64 {
			var x float64
			for _, j := range js {
				inside := true
				for ch := range channelSet(j) {
					inside = inside && in[ch]
				}
				if inside {
					x += j.Conversions
				}
			}
			return x
		}
		phi := bruteShapley(names, v)
		r := run(t, "shapley", Config{}, js...)
		for _, c := range r.ByChannel {
			if !near(c.Conversions, phi[c.Key]) {
				t.Errorf("trial %d %s: shapley %v, brute force %v", trial, c.Key, c.Conversions, phi[c.Key])
			}
		}
	}
}

// crGame is the counterfactual conversion-rate game written out from its definition.
func crGame(js []Path, names []string) func(in map[string]bool) float64 {
	type agg struct{ conv, n float64 }
	bySet := map[string]*agg{}
	sets := map[string]map[string]bool{}
	for _, j := range js {
		s := channelSet(j)
		k := setKey(s, names)
		if bySet[k] == nil {
			bySet[k] = &agg{}
			sets[k] = s
		}
		bySet[k].conv += j.Conversions
		bySet[k].n += j.Conversions + j.Nulls
	}
	cr := func(u map[string]bool) float64 {
		k := setKey(u, names)
		if a, ok := bySet[k]; ok && a.n > 0 {
			return a.conv / a.n
		}
		var c, n float64 // pooled over observed sets inside u
		for k2, s := range sets {
			inside := true
			for ch := range s {
				inside = inside && u[ch]
			}
			if inside {
				c += bySet[k2].conv
				n += bySet[k2].n
			}
		}
		if n == 0 {
			return 0
		}
		return c / n
	}
	return func(in map[string]bool) float64 {
		var x float64
		for k, s := range sets {
			inter := map[string]bool{}
			for ch := range s {
				if in[ch] {
					inter[ch] = true
				}
			}
			x += bySet[k].n * cr(inter)
		}
		return x
	}
}

func TestShapleyCRBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 15 {
		nc := 2 + trial%5 // up to 6 channels
		js := randomPaths(rng, 25, nc)
		names := namesOf(js)
		phi := bruteShapley(names, crGame(js, names))
		r := run(t, "shapley_cr", Config{}, js...)
		d := r.Details.(*ShapleyCRDetails)
		if d.SampledSets != 0 || d.StdErrors != nil {
			t.Errorf("exact case sampled: %+v", d)
		}
		for _, c := range r.ByChannel {
			if !near(c.Conversions, phi[c.Key]) {
				t.Errorf("trial %d %s: shapley_cr %v, brute force %v", trial, c.Key, c.Conversions, phi[c.Key])
			}
		}
	}
}

func TestShapleyCRSampled(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	js := randomPaths(rng, 60, 6)
	// Some long journeys so that sets of 4+ channels exist.
	for i := range 10 {
		j := Path{Conversions: float64(i % 2), Nulls: 1}
		for c := range 6 {
			if (i+c)%3 != 0 || c == i%6 {
				j.Touches = append(j.Touches, Touch{Channel: fmt.Sprintf("c%d", c)})
			}
		}
		js = append(js, j)
	}
	s, err := Compile(js)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := ShapleyCR{}.AttributeSet(s)
	if err != nil {
		t.Fatal(err)
	}
	sampled, err := ShapleyCR{ExactLimit: 2, Samples: 400, Seed: 9}.AttributeSet(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, sampled)
	d := sampled.Details.(*ShapleyCRDetails)
	if d.SampledSets == 0 || len(d.StdErrors) != len(s.Channels) || len(sampled.Notes) == 0 {
		t.Fatalf("nothing sampled: %+v", d)
	}
	ed := exact.Details.(*ShapleyCRDetails)
	for i, sv := range d.ShapleyValues {
		se := d.StdErrors[i].Value
		diff := math.Abs(sv.Value - ed.ShapleyValues[i].Value)
		if se <= 0 || diff > 4*se {
			t.Errorf("%s: sampled %v, exact %v, stated error %v", sv.Key, sv.Value, ed.ShapleyValues[i].Value, se)
		}
		t.Logf("%s: sampled %.4f exact %.4f se %.4f", sv.Key, sv.Value, ed.ShapleyValues[i].Value, se)
	}
}

// Channel sets beyond the dense-rate limit use the map-backed rate lookup; it must agree
// with the brute-force definition too.
func TestShapleyCRManyChannels(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	js := randomPaths(rng, 40, 5)
	// Add 20 channels seen once each in non-converting journeys, pushing the count past 20.
	for c := range 20 {
		js = append(js, Path{Touches: []Touch{{Channel: fmt.Sprintf("x%d", c)}}, Nulls: 1})
	}
	s, err := Compile(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Channels) <= denseRateLimit {
		t.Fatalf("only %d channels", len(s.Channels))
	}
	r, err := ShapleyCR{}.AttributeSet(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, r)
	// The x channels are null players of the 5-channel game: compare the rest by brute force.
	small := js[:40]
	names := namesOf(small)
	phi := bruteShapley(names, crGame(small, names))
	for _, c := range r.ByChannel {
		if !near(c.Conversions, phi[c.Key]) {
			t.Errorf("%s: %v, brute force %v", c.Key, c.Conversions, phi[c.Key])
		}
	}
}

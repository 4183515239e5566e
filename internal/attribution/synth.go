package attribution

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// syntheticCampaigns is the number of campaigns per synthetic channel.
const syntheticCampaigns = 3

// SyntheticSet generates n journeys over the given number of channels (channel 0 is
// "Direct") directly in compact form: on average 4 touches (1 + geometric), channel
// popularity falling like a Zipf law, 3 campaigns per channel, touch times spread over
// days before the conversion, and a conversion chance that depends on the channels
// touched. The same seed gives the same set.
func SyntheticSet(n, channels int, seed int64) *Set {
	channels = max(channels, 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x0a771b))
	s := &Set{
		Off:   make([]int64, 1, n+1),
		Ch:    make([]uint16, 0, n*4+n/8),
		Camp:  make([]uint32, 0, n*4+n/8),
		Age:   make([]float32, 0, n*4+n/8),
		Conv:  make([]float64, 0, n),
		Value: make([]float64, 0, n),
		Nulls: make([]float64, 0, n),
	}
	cum := make([]float64, channels)
	lift := make([]float64, channels)
	var tot float64
	for c := range channels {
		name := fmt.Sprintf("ch%02d", c)
		if c == 0 {
			name = "Direct"
		}
		s.Channels = append(s.Channels, name)
		for k := range syntheticCampaigns {
			s.Pairs = append(s.Pairs, Pair{Channel: uint16(c), Campaign: fmt.Sprintf("%s-c%d", name, k)})
		}
		tot += 1 / math.Pow(float64(c+1), 0.8)
		cum[c] = tot
		lift[c] = 0.01 + 0.04*float64((c*7)%channels)/float64(channels)
	}
	for c := range cum {
		cum[c] /= tot
	}
	for range n {
		k := 1
		for k < 64 && rng.Float64() < 0.75 { // geometric: mean 1 + 3 = 4 touches
			k++
		}
		age := rng.ExpFloat64() * 86400 // last touch about a day before
		p := 0.02
		start := len(s.Ch)
		for range k {
			u := rng.Float64()
			c := 0
			for c < channels-1 && cum[c] < u {
				c++
			}
			s.Ch = append(s.Ch, uint16(c))
			s.Camp = append(s.Camp, uint32(c*syntheticCampaigns+rng.IntN(syntheticCampaigns)))
			p += lift[c]
		}
		// Ages: oldest first, so fill backwards from the last touch.
		s.Age = s.Age[:len(s.Ch)]
		for i := len(s.Ch) - 1; i >= start; i-- {
			s.Age[i] = float32(age)
			age += rng.ExpFloat64() * 2 * 86400
		}
		s.Off = append(s.Off, int64(len(s.Ch)))
		if rng.Float64() < min(p, 0.9) {
			s.Conv = append(s.Conv, 1)
			s.Value = append(s.Value, math.Round(20+rng.ExpFloat64()*40))
			s.Nulls = append(s.Nulls, 0)
		} else {
			s.Conv = append(s.Conv, 0)
			s.Value = append(s.Value, 0)
			s.Nulls = append(s.Nulls, 1)
		}
	}
	return s
}

// Journeys expands a set back into journeys (touch times relative to a fixed conversion
// time). Meant for tests and small sets.
func (s *Set) Paths() []Path {
	conv := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Path, s.Len())
	for j := range out {
		ts := make([]Touch, 0, s.Off[j+1]-s.Off[j])
		for k := s.Off[j]; k < s.Off[j+1]; k++ {
			t := Touch{Channel: s.Channels[s.Ch[k]]}
			if s.Camp != nil {
				t.Campaign = s.Pairs[s.Camp[k]].Campaign
			}
			if s.Age != nil && !math.IsNaN(float64(s.Age[k])) {
				t.Time = conv.Add(-time.Duration(float64(s.Age[k]) * float64(time.Second)))
			}
			ts = append(ts, t)
		}
		out[j] = Path{Touches: ts, Conversions: s.Conv[j], Value: s.Value[j], Nulls: s.Nulls[j]}
		if s.Age != nil {
			out[j].ConvertedAt = conv
		}
		if s.Lead != nil {
			out[j].Milestones = []int{int(s.Lead[j]), int(s.Opp[j])}
		}
	}
	return out
}

// SyntheticPaths is SyntheticSet expanded into journeys (small n only: each touch is
// an allocation-sized struct).
func SyntheticPaths(n, channels int, seed int64) []Path {
	return SyntheticSet(n, channels, seed).Paths()
}

// BenchReport holds the figures of BenchAttribution.
type BenchReport struct {
	Journeys, Touches, Channels, Cores int
	Conversions                        float64
	// Wall-clock times, and the process CPU time of each step (0 when unknown; on a shared
	// machine CPU time is the steadier figure).
	Generate, GenerateCPU                             time.Duration
	RuleBased, RuleBasedCPU                           time.Duration // all 8 rule-based models, one pass
	RuleBasedAllConverting, RuleBasedAllConvertingCPU time.Duration // same, every journey converting
	Markov1, Markov1CPU                               time.Duration
	Shapley, ShapleyCPU                               time.Duration
	ShapleyCR, ShapleyCRCPU                           time.Duration
	PeakRSSBytes                                      int64 // VmHWM of the process (0 when unknown)
}

func (r BenchReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journeys=%d touches=%d conversions=%.0f channels=%d GOMAXPROCS=%d\n", r.Journeys, r.Touches, r.Conversions, r.Channels, r.Cores)
	line := func(name string, wall, cpu time.Duration) {
		tps := "-"
		if wall > 0 {
			tps = fmt.Sprintf("%.3g", float64(r.Touches)/wall.Seconds())
		}
		fmt.Fprintf(&b, "%-38s wall %7.3fs  cpu %7.3fs  %s touches/s\n", name, wall.Seconds(), cpu.Seconds(), tps)
	}
	line("generate", r.Generate, r.GenerateCPU)
	line("rule-based (8 models, one pass)", r.RuleBased, r.RuleBasedCPU)
	line("rule-based, every journey converting", r.RuleBasedAllConverting, r.RuleBasedAllConvertingCPU)
	line("markov order 1", r.Markov1, r.Markov1CPU)
	line("shapley", r.Shapley, r.ShapleyCPU)
	line("shapley_cr", r.ShapleyCR, r.ShapleyCRCPU)
	fmt.Fprintf(&b, "peak RSS %.0f MiB\n", float64(r.PeakRSSBytes)/(1<<20))
	return b.String()
}

// RuleModelNames are the rule-based models.
var RuleModelNames = []string{"first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
	"position_based", "w_shaped", "custom"}

// BenchAttribution generates n synthetic journeys over 12 channels and times the models on
// them (`omniroi bench attribution`).
func BenchAttribution(n int) (BenchReport, error) {
	const channels = 12
	r := BenchReport{Journeys: n, Channels: channels, Cores: runtime.GOMAXPROCS(0)}
	t0, c0 := time.Now(), processCPU()
	s := SyntheticSet(n, channels, 1)
	r.Generate, r.GenerateCPU = time.Since(t0), processCPU()-c0
	r.Touches = s.Touches()
	r.Conversions, _ = s.totals()
	timeIt := func(wall, cpu *time.Duration, names ...string) error {
		models := make([]Model, len(names))
		for i, name := range names {
			m, err := ByName(name)
			if err != nil {
				return err
			}
			models[i] = m
		}
		t, c := time.Now(), processCPU()
		if _, err := AttributeAll(s, models); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		*wall, *cpu = time.Since(t), processCPU()-c
		return nil
	}
	if err := timeIt(&r.RuleBased, &r.RuleBasedCPU, RuleModelNames...); err != nil {
		return r, err
	}
	if err := timeIt(&r.Markov1, &r.Markov1CPU, "markov"); err != nil {
		return r, err
	}
	if err := timeIt(&r.Shapley, &r.ShapleyCPU, "shapley"); err != nil {
		return r, err
	}
	if err := timeIt(&r.ShapleyCR, &r.ShapleyCRCPU, "shapley_cr"); err != nil {
		return r, err
	}
	// Rule-based models skip journeys without conversions; time them with every journey
	// converting as well (this rewrites the set, so it runs last).
	for j := range s.Conv {
		if s.Conv[j] == 0 {
			s.Conv[j], s.Value[j], s.Nulls[j] = 1, 30, 0
		}
	}
	if err := timeIt(&r.RuleBasedAllConverting, &r.RuleBasedAllConvertingCPU, RuleModelNames...); err != nil {
		return r, err
	}
	r.PeakRSSBytes = peakRSS()
	return r, nil
}

// peakRSS reads VmHWM from /proc/self/status (Linux); 0 elsewhere.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

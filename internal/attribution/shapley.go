package attribution

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
)

// Shapley is the simplified Shapley value of Zhao et al. (2018): the value of a coalition T
// is the conversions of journeys whose channel set lies inside T. That game is a sum of
// unanimity games, so the Shapley value has the closed form
//
//	phi_j = sum over channel sets S containing j of conversions(S) / |S|,
//
// i.e. each converting journey splits its conversions evenly over its distinct channels.
// It is exact for any number of channels and costs one pass over the touches.
type Shapley struct{}

func (Shapley) Name() string                          { return "shapley" }
func (Shapley) Convention() string                    { return conventions["shapley"] }
func (m Shapley) Attribute(js []Path) (Result, error) { return attributePaths(m, js) }

func (Shapley) AttributeSet(s *Set) (Result, error) {
	nc := len(s.Channels)
	chunks := (s.Len() + chunkSize - 1) / chunkSize
	parts := make([][]float64, chunks)
	_ = forChunks(s.Len(), func(c, lo, hi int) error {
		phi := make([]float64, nc)
		stamp := make([]int32, nc) // journey index+1 that last saw the channel
		var distinct []uint16
		for j := lo; j < hi; j++ {
			conv := s.Conv[j]
			if conv == 0 {
				continue
			}
			distinct = distinct[:0]
			for _, ch := range s.Ch[s.Off[j]:s.Off[j+1]] {
				if stamp[ch] != int32(j-lo+1) {
					stamp[ch] = int32(j - lo + 1)
					distinct = append(distinct, ch)
				}
			}
			x := conv / float64(len(distinct))
			for _, ch := range distinct {
				phi[ch] += x
			}
		}
		parts[c] = phi
		return nil
	})
	phi := make([]float64, nc)
	for _, p := range parts {
		for i, x := range p {
			phi[i] += x
		}
	}
	conv, _ := s.totals()
	share := make([]float64, nc)
	for i := range phi {
		if conv > 0 {
			share[i] = phi[i] / conv
		}
	}
	r := shareResult(s, "shapley", share)
	det := make([]NamedValue, nc)
	for i, name := range s.Channels {
		det[i] = NamedValue{Key: name, Value: phi[i]}
	}
	sort.Slice(det, func(a, b int) bool { return det[a].Key < det[b].Key })
	r.Details = map[string]any{"shapley_values": det}
	return r, nil
}

// ShapleyCR is the counterfactual Shapley value on conversion rates. Journeys are grouped
// by channel set S, with n(S) journeys (conversions + nulls) and rate CR(S) =
// conversions(S)/n(S). The value of a coalition T is the conversions we would expect if
// only the channels in T existed: v(T) = sum_S n(S) * CR(S ∩ T), with CR(∅) = 0 and, for a
// set nobody followed, the pooled rate of the observed sets inside it. v(all) is the total
// conversions, so the credits add up. By linearity the Shapley value is a sum over
// observed sets of the Shapley value of the game restricted to S, which is computed
// exactly when |S| <= ExactLimit (default 15; every journey qualifies when there are at
// most 15 channels) and by MonteCarlo permutations of S otherwise, with the standard
// error reported in Details.
type ShapleyCR struct {
	ExactLimit int   // largest channel set solved exactly; 0 means 15
	Samples    int   // permutations per sampled channel set; 0 means 2000
	Seed       int64 // for sampled sets
}

// ShapleyCRDetails is Result.Details of shapley_cr.
type ShapleyCRDetails struct {
	ShapleyValues  []NamedValue `json:"shapley_values"`
	StdErrors      []NamedValue `json:"std_errors,omitempty"` // of the sampled part; absent when exact
	ChannelSets    int          `json:"channel_sets"`
	SampledSets    int          `json:"sampled_sets"`
	SamplesPerSet  int          `json:"samples_per_set,omitempty"`
	MaxChannelsSet int          `json:"max_channels_in_a_set"`
}

func (ShapleyCR) Name() string                          { return "shapley_cr" }
func (ShapleyCR) Convention() string                    { return conventions["shapley_cr"] }
func (m ShapleyCR) Attribute(js []Path) (Result, error) { return attributePaths(m, js) }

// maxSetChannels is the most channels shapley_cr handles (sets are 64-bit masks).
const maxSetChannels = 64

// denseRateLimit: channel counts up to this keep conversion rates in a 2^n array.
const denseRateLimit = 20

// rates answers CR(U) for any channel set U.
type rates struct {
	sets  []uint64 // observed sets
	conv  []float64
	n     []float64
	obs   map[uint64]int
	dense []float64 // CR by mask when the channel count is small
	memo  map[uint64]float64
}

func newRates(sets []uint64, conv, n []float64, nc int) *rates {
	r := &rates{sets: sets, conv: conv, n: n, obs: make(map[uint64]int, len(sets))}
	for i, m := range sets {
		r.obs[m] = i
	}
	if nc <= denseRateLimit {
		size := 1 << nc
		sc := make([]float64, size)
		sn := make([]float64, size)
		for i, m := range sets {
			sc[m] += conv[i]
			sn[m] += n[i]
		}
		// Sum over subsets (zeta transform): sc[U] = conversions of journeys with set ⊆ U.
		for b := range nc {
			bit := 1 << b
			for u := range size {
				if u&bit != 0 {
					sc[u] += sc[u^bit]
					sn[u] += sn[u^bit]
				}
			}
		}
		r.dense = make([]float64, size)
		for u := range size {
			if i, ok := r.obs[uint64(u)]; ok && n[i] > 0 {
				r.dense[u] = conv[i] / n[i]
			} else if sn[u] > 0 {
				r.dense[u] = sc[u] / sn[u]
			}
		}
	} else {
		r.memo = map[uint64]float64{}
	}
	return r
}

func (r *rates) cr(u uint64) float64 {
	if r.dense != nil {
		return r.dense[u]
	}
	if i, ok := r.obs[u]; ok && r.n[i] > 0 {
		return r.conv[i] / r.n[i]
	}
	if v, ok := r.memo[u]; ok {
		return v
	}
	var c, n float64
	for i, m := range r.sets {
		if m&^u == 0 {
			c += r.conv[i]
			n += r.n[i]
		}
	}
	v := 0.0
	if n > 0 {
		v = c / n
	}
	r.memo[u] = v
	return v
}

// channelSets groups journeys by channel set (bit mask of channel ids).
func channelSets(s *Set) (sets []uint64, conv, n []float64, err error) {
	if len(s.Channels) > maxSetChannels {
		return nil, nil, nil, fmt.Errorf("%d channels; at most %d are supported", len(s.Channels), maxSetChannels)
	}
	chunks := (s.Len() + chunkSize - 1) / chunkSize
	type agg struct {
		idx  map[uint64]int
		sets []uint64
		c, n []float64
	}
	parts := make([]*agg, chunks)
	_ = forChunks(s.Len(), func(c, lo, hi int) error {
		a := &agg{idx: map[uint64]int{}}
		var last uint64
		lastI := -1
		for j := lo; j < hi; j++ {
			t := s.Conv[j] + s.Nulls[j]
			if t == 0 {
				continue
			}
			var m uint64
			for _, ch := range s.Ch[s.Off[j]:s.Off[j+1]] {
				m |= 1 << ch
			}
			i := lastI
			if m != last || lastI < 0 {
				var ok bool
				if i, ok = a.idx[m]; !ok {
					i = len(a.sets)
					a.idx[m] = i
					a.sets = append(a.sets, m)
					a.c = append(a.c, 0)
					a.n = append(a.n, 0)
				}
				last, lastI = m, i
			}
			a.c[i] += s.Conv[j]
			a.n[i] += t
		}
		parts[c] = a
		return nil
	})
	idx := map[uint64]int{}
	for _, a := range parts {
		for k, m := range a.sets {
			i, ok := idx[m]
			if !ok {
				i = len(sets)
				idx[m] = i
				sets = append(sets, m)
				conv = append(conv, 0)
				n = append(n, 0)
			}
			conv[i] += a.c[k]
			n[i] += a.n[k]
		}
	}
	return sets, conv, n, nil
}

func (m ShapleyCR) AttributeSet(s *Set) (Result, error) {
	limit := m.ExactLimit
	if limit <= 0 {
		limit = 15
	}
	samples := m.Samples
	if samples <= 0 {
		samples = 2000
	}
	sets, conv, n, err := channelSets(s)
	if err != nil {
		return Result{}, fmt.Errorf("shapley_cr: %w", err)
	}
	nc := len(s.Channels)
	rt := newRates(sets, conv, n, nc)
	phi := make([]float64, nc)
	variance := make([]float64, nc)
	det := &ShapleyCRDetails{ChannelSets: len(sets)}
	rng := rand.New(rand.NewPCG(uint64(m.Seed), 0x5eed))
	// Visit sets in a fixed order so sampled results do not depend on map order.
	order := make([]int, len(sets))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return sets[order[a]] < sets[order[b]] })
	var members []int
	for _, si := range order {
		S, ns := sets[si], n[si]
		members = members[:0]
		for x := S; x != 0; x &= x - 1 {
			members = append(members, bits.TrailingZeros64(x))
		}
		k := len(members)
		det.MaxChannelsSet = max(det.MaxChannelsSet, k)
		if k <= limit {
			exactShapleySet(rt, members, ns, phi)
			continue
		}
		det.SampledSets++
		det.SamplesPerSet = samples
		sampleShapleySet(rt, members, ns, samples, rng, phi, variance)
	}
	totalConv, _ := s.totals()
	share := make([]float64, nc)
	for i := range phi {
		if totalConv > 0 {
			share[i] = phi[i] / totalConv
		}
	}
	r := shareResult(s, "shapley_cr", share)
	for i, name := range s.Channels {
		det.ShapleyValues = append(det.ShapleyValues, NamedValue{Key: name, Value: phi[i]})
		if det.SampledSets > 0 {
			det.StdErrors = append(det.StdErrors, NamedValue{Key: name, Value: math.Sqrt(variance[i])})
		}
	}
	sort.Slice(det.ShapleyValues, func(a, b int) bool { return det.ShapleyValues[a].Key < det.ShapleyValues[b].Key })
	sort.Slice(det.StdErrors, func(a, b int) bool { return det.StdErrors[a].Key < det.StdErrors[b].Key })
	r.Details = det
	if det.SampledSets > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d channel sets with more than %d channels were sampled (%d permutations each); see std_errors", det.SampledSets, limit, samples))
	}
	for _, v := range phi {
		if v < 0 {
			r.Notes = append(r.Notes, "some channels have negative credit: journeys with them convert less often than without them")
			break
		}
	}
	return r, nil
}

// exactShapleySet adds ns times the Shapley value of U -> CR(U) restricted to the members.
func exactShapleySet(rt *rates, members []int, ns float64, phi []float64) {
	k := len(members)
	// weight[s] = s!(k-s-1)!/k!
	weight := make([]float64, k)
	for sz := range k {
		weight[sz] = math.Exp(lgammaInt(sz+1) + lgammaInt(k-sz) - lgammaInt(k+1))
	}
	full := 1<<k - 1
	masks := make([]uint64, full+1) // local subset -> global mask
	crs := make([]float64, full+1)
	for local := 1; local <= full; local++ {
		low := bits.TrailingZeros(uint(local))
		masks[local] = masks[local&(local-1)] | 1<<members[low]
		crs[local] = rt.cr(masks[local])
	}
	for local := 0; local < full; local++ {
		w := weight[bits.OnesCount(uint(local))] * ns
		for b := range k {
			if local&(1<<b) == 0 {
				phi[members[b]] += w * (crs[local|1<<b] - crs[local])
			}
		}
	}
}

func lgammaInt(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

// sampleShapleySet estimates the restricted Shapley value from random permutations and
// adds ns² * sample variance / samples to variance.
func sampleShapleySet(rt *rates, members []int, ns float64, samples int, rng *rand.Rand, phi, variance []float64) {
	k := len(members)
	sum := make([]float64, k)
	sumSq := make([]float64, k)
	perm := make([]int, k)
	for i := range perm {
		perm[i] = i
	}
	for range samples {
		rng.Shuffle(k, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		var mask uint64
		prev := 0.0
		for _, b := range perm {
			mask |= 1 << members[b]
			cur := rt.cr(mask)
			d := cur - prev
			sum[b] += d
			sumSq[b] += d * d
			prev = cur
		}
	}
	m := float64(samples)
	for b := range k {
		mean := sum[b] / m
		phi[members[b]] += ns * mean
		if samples > 1 {
			sv := (sumSq[b] - m*mean*mean) / (m - 1)
			variance[members[b]] += ns * ns * max(sv, 0) / m
		}
	}
}

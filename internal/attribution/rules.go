package attribution

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// weigher decides how one journey's credit is split. It returns the index of the touch that
// takes everything, or -1 after filling w[:n] with weights that sum to 1.
type weigher func(s *Set, j int, ch []uint16, w []float64) (int, error)

// runRules applies rule-based models to every journey with conversions or value in one
// pass over the touches, so running all of them costs one sweep of memory. With campaigns,
// credit is accumulated per campaign only and summed into channels at the end (each
// campaign belongs to one channel), which halves the additions per touch.
func runRules(s *Set, names []string, fs []weigher) ([]Result, error) {
	chunks := (s.Len() + chunkSize - 1) / chunkSize
	parts := make([][]*acc, chunks)
	byPair := s.Camp != nil
	err := forChunks(s.Len(), func(c, lo, hi int) error {
		accs := make([]*acc, len(fs))
		for i := range accs {
			accs[i] = newAcc(s)
		}
		parts[c] = accs
		w := make([]float64, 0, 64)
		for j := lo; j < hi; j++ {
			conv, val := s.Conv[j], s.Value[j]
			if conv == 0 && val == 0 {
				continue
			}
			off, end := s.Off[j], s.Off[j+1]
			ids := s.Ch[off:end]
			n := len(ids)
			var pids []uint32
			if byPair {
				pids = s.Camp[off:end]
			}
			if cap(w) < n {
				w = make([]float64, 0, 2*n)
			}
			w = w[:n]
			for m, f := range fs {
				a := accs[m]
				one, err := f(s, j, ids, w)
				if err != nil {
					return fmt.Errorf("%s: %w", names[m], err)
				}
				switch {
				case one >= 0 && byPair:
					a.pConv[pids[one]] += conv
					a.pVal[pids[one]] += val
				case one >= 0:
					a.chConv[ids[one]] += conv
					a.chVal[ids[one]] += val
				case byPair:
					for i, p := range pids {
						a.pConv[p] += conv * w[i]
						a.pVal[p] += val * w[i]
					}
				default:
					for i, c := range ids {
						a.chConv[c] += conv * w[i]
						a.chVal[c] += val * w[i]
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(fs))
	for m := range fs {
		total := newAcc(s)
		for _, p := range parts {
			total.add(p[m])
		}
		if byPair {
			for p, pr := range s.Pairs {
				total.chConv[pr.Channel] += total.pConv[p]
				total.chVal[pr.Channel] += total.pVal[p]
			}
		}
		out[m] = total.result(s, names[m])
	}
	return out, nil
}

// AttributeAll runs several models on one set. Rule-based models share a single pass over
// the touches; the others run one after another. Results come back in the given order.
func AttributeAll(s *Set, models []Model) ([]Result, error) {
	out := make([]Result, len(models))
	var names []string
	var fs []weigher
	var at []int
	for i, m := range models {
		rm, ok := m.(ruleModel)
		if !ok {
			continue
		}
		f, err := rm.weigh(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rm.name, err)
		}
		names, fs, at = append(names, rm.name), append(fs, f), append(at, i)
	}
	if len(fs) > 0 {
		rs, err := runRules(s, names, fs)
		if err != nil {
			return nil, err
		}
		for k, i := range at {
			out[i] = rs[k]
		}
	}
	for i, m := range models {
		if _, ok := m.(ruleModel); ok {
			continue
		}
		r, err := m.AttributeSet(s)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

type ruleModel struct {
	name, convention string
	weigh            func(s *Set) (weigher, error) // built per run so options are validated once
}

func (m ruleModel) Name() string       { return m.name }
func (m ruleModel) Convention() string { return m.convention }
func (m ruleModel) Attribute(js []Path) (Result, error) {
	return attributePaths(m, js)
}
func (m ruleModel) AttributeSet(s *Set) (Result, error) {
	rs, err := AttributeAll(s, []Model{m})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

func attributePaths(m Model, js []Path) (Result, error) {
	s, err := Compile(js)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	return m.AttributeSet(s)
}

func fixed(f weigher) func(*Set) (weigher, error) {
	return func(*Set) (weigher, error) { return f, nil }
}

func firstTouch(_ *Set, _ int, _ []uint16, _ []float64) (int, error) { return 0, nil }

func lastTouch(_ *Set, _ int, ch []uint16, _ []float64) (int, error) { return len(ch) - 1, nil }

// lastNonDirect credits the last touch that is not Direct; an all-Direct path credits Direct.
func lastNonDirect(s *Set) (weigher, error) {
	direct := make([]bool, len(s.Channels))
	for i, name := range s.Channels {
		direct[i] = isDirect(name)
	}
	return func(_ *Set, _ int, ch []uint16, _ []float64) (int, error) {
		for i := len(ch) - 1; i >= 0; i-- {
			if !direct[ch[i]] {
				return i, nil
			}
		}
		return len(ch) - 1, nil
	}, nil
}

// linear gives every touch 1/n, so a channel touched twice gets two shares
// (ChannelAttribution's linear_touch).
func linear(_ *Set, _ int, ch []uint16, w []float64) (int, error) {
	if len(ch) == 1 {
		return 0, nil
	}
	x := 1 / float64(len(ch))
	for i := range w {
		w[i] = x
	}
	return -1, nil
}

// firstMiddleLast splits first/middle/last weights: the middle weight is shared evenly by
// the middle touches; 2 touches renormalise first and last; 1 touch takes everything.
func firstMiddleLast(first, middle, last float64, w []float64) int {
	n := len(w)
	switch n {
	case 1:
		return 0
	case 2:
		if first+last == 0 {
			w[0], w[1] = 0.5, 0.5
			return -1
		}
		w[0], w[1] = first/(first+last), last/(first+last)
		return -1
	}
	tot := first + middle + last
	if tot == 0 {
		for i := range w {
			w[i] = 1 / float64(n)
		}
		return -1
	}
	m := middle / tot / float64(n-2)
	for i := range w {
		w[i] = m
	}
	w[0], w[n-1] = first/tot, last/tot
	return -1
}

func positionBased(_ *Set, _ int, _ []uint16, w []float64) (int, error) {
	return firstMiddleLast(0.4, 0.2, 0.4, w), nil
}

// wShaped: 30 % each to the first touch, the lead-creation touch and the
// opportunity-creation touch, 10 % shared by the other touches. Missing milestones fall back
// to the middle touch (index (n-1)/2) for lead and the last touch for opportunity. Anchors
// that fall on the same touch add up; when no touch is left for the 10 % it is shared
// evenly by the distinct anchor touches. 1 touch: 100 %; 2 touches: 50/50.
func wShaped(s *Set, j int, ch []uint16, w []float64) (int, error) {
	n := len(ch)
	switch n {
	case 1:
		return 0, nil
	case 2:
		w[0], w[1] = 0.5, 0.5
		return -1, nil
	}
	lead, opp := (n-1)/2, n-1
	if s.Lead != nil {
		if l := int(s.Lead[j]); l >= 0 {
			lead = l
		}
		if o := int(s.Opp[j]); o >= 0 {
			opp = o
		}
	}
	for i := range w {
		w[i] = 0
	}
	w[0] += 0.3
	w[lead] += 0.3
	w[opp] += 0.3
	rest := 0
	for i := range w {
		if w[i] == 0 {
			rest++
		}
	}
	if rest > 0 {
		for i := range w {
			if w[i] == 0 {
				w[i] = 0.1 / float64(rest)
			}
		}
		return -1, nil
	}
	anchors := 0
	for i := range w {
		if w[i] > 0 {
			anchors++
		}
	}
	for i := range w {
		if w[i] > 0 {
			w[i] += 0.1 / float64(anchors)
		}
	}
	return -1, nil
}

// timeDecay builds the weigher 2^(-age/halfLife), normalised per journey. Ages are measured
// from the conversion (or the last touch when the conversion time is unknown).
func timeDecay(halfLife time.Duration) func(*Set) (weigher, error) {
	return func(*Set) (weigher, error) {
		if halfLife <= 0 {
			return nil, fmt.Errorf("half-life must be positive, got %v", halfLife)
		}
		invH := 1 / halfLife.Seconds()
		return func(s *Set, j int, ch []uint16, w []float64) (int, error) {
			if s.Age == nil {
				return 0, ErrNeedsTimes
			}
			ages := s.Age[s.Off[j]:s.Off[j+1]]
			minAge := math.Inf(1)
			for _, a := range ages {
				if a != a { // NaN: unknown time
					return 0, fmt.Errorf("journey %d: %w", j, ErrNeedsTimes)
				}
				minAge = min(minAge, max(float64(a), 0))
			}
			// Measuring from the youngest touch keeps weights from underflowing to zero;
			// the common factor cancels in the normalisation.
			var sum float64
			for i, a := range ages {
				w[i] = exp2NonPos(-(max(float64(a), 0) - minAge) * invH)
				sum += w[i]
			}
			inv := 1 / sum
			for i := range w {
				w[i] *= inv
			}
			return -1, nil
		}, nil
	}
}

// exp2NonPos is 2^x for x <= 0, about 3 times faster than math.Exp2 (which time_decay calls
// once per touch) with a relative error below 1e-13, far finer than the float32 ages.
func exp2NonPos(x float64) float64 {
	if x < -1022 {
		return 0
	}
	i := math.Floor(x)
	t := (x - i) * math.Ln2 // in [0, ln 2)
	// e^t by its Taylor series to t^13 (remainder below 1e-13 on [0, ln 2)).
	p := 1 + t*(1+t*(1.0/2+t*(1.0/6+t*(1.0/24+t*(1.0/120+t*(1.0/720+t*(1.0/5040+t*(1.0/40320+
		t*(1.0/362880+t*(1.0/3628800+t*(1.0/39916800+t*(1.0/479001600+t*(1.0/6227020800)))))))))))))
	return p * math.Float64frombits(uint64(int64(i)+1023)<<52)
}

// ValidateCustomWeights checks custom model weights.
func ValidateCustomWeights(ws []float64) error {
	if len(ws) < 2 {
		return errors.New("custom weights: give 3 weights (first, middle, last) or a vector of at least 2 position weights")
	}
	var sum float64
	for i, x := range ws {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("custom weights: weight %d is %v; weights must be finite and >= 0", i+1, x)
		}
		sum += x
	}
	if sum == 0 {
		return errors.New("custom weights: at least one weight must be positive")
	}
	return nil
}

// custom: 3 weights mean first / middle (shared evenly) / last, like position_based. Any
// other length is a curve over relative position: touch i of n sits at x = i/(n-1) on
// [0,1], the k weights sit evenly on [0,1], and the touch gets the linear interpolation.
// Weights are normalised per journey; a journey whose weights are all zero is split evenly.
func custom(ws []float64) func(*Set) (weigher, error) {
	ws = append([]float64(nil), ws...)
	return func(*Set) (weigher, error) {
		if err := ValidateCustomWeights(ws); err != nil {
			return nil, err
		}
		if len(ws) == 3 {
			return func(_ *Set, _ int, _ []uint16, w []float64) (int, error) {
				return firstMiddleLast(ws[0], ws[1], ws[2], w), nil
			}, nil
		}
		k := len(ws)
		return func(_ *Set, _ int, ch []uint16, w []float64) (int, error) {
			n := len(ch)
			if n == 1 {
				return 0, nil
			}
			var sum float64
			for i := range w {
				x := float64(i) / float64(n-1) * float64(k-1)
				lo := int(math.Floor(x))
				if lo >= k-1 {
					w[i] = ws[k-1]
				} else {
					f := x - float64(lo)
					w[i] = ws[lo]*(1-f) + ws[lo+1]*f
				}
				sum += w[i]
			}
			for i := range w {
				if sum == 0 {
					w[i] = 1 / float64(n)
				} else {
					w[i] /= sum
				}
			}
			return -1, nil
		}, nil
	}
}

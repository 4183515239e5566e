package attribution

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Markov is the removal-effect Markov model of order 1 to 4 (ChannelAttribution's
// markov_model, solved exactly instead of by simulation).
type Markov struct {
	Order int
	// IgnoreNulls drops non-converting journeys, like calling ChannelAttribution's
	// markov_model without var_null. Off by default: without nulls every path converts and
	// removal effects only measure how often a channel sits on converting paths.
	IgnoreNulls bool
}

// MarkovDetails is Result.Details of markov.
type MarkovDetails struct {
	Order                 int            `json:"order"`
	States                int            `json:"states"`
	Solver                string         `json:"solver"`
	ConversionProbability float64        `json:"conversion_probability"`
	RemovalEffects        []NamedValue   `json:"removal_effects"`
	removal               map[string]int // name -> index in RemovalEffects
}

// NamedValue is one channel's number in Details.
type NamedValue struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
}

// RemovalEffect returns a channel's removal effect (0 when unknown).
func (d *MarkovDetails) RemovalEffect(channel string) float64 {
	if d.removal == nil {
		// Details read back from JSON (the dashboard's stored analyses) have no index.
		for _, e := range d.RemovalEffects {
			if e.Key == channel {
				return e.Value
			}
		}
		return 0
	}
	if i, ok := d.removal[channel]; ok {
		return d.RemovalEffects[i].Value
	}
	return 0
}

// MaxMarkovOrder is the highest supported order (states pack 4 channel ids in 64 bits).
const MaxMarkovOrder = 4

// denseLimit is the largest chain solved by dense LU; above it Gauss-Seidel is used.
// A variable so tests can force either path.
var denseLimit = 1500

func (m Markov) Name() string { return "markov" }
func (m Markov) Convention() string {
	return conventions["markov"]
}
func (m Markov) Attribute(js []Path) (Result, error) { return attributePaths(m, js) }

// chain is the estimated absorbing Markov chain. State 0 is the start.
type chain struct {
	rowStart []int32   // CSR over transient states
	cols     []int32   // target state
	probs    []float64 // transition probability
	conv     []float64 // probability of converting from each state
	members  [][]uint16
}

func (m Markov) AttributeSet(s *Set) (Result, error) {
	order := m.Order
	if order == 0 {
		order = 1
	}
	if order < 1 || order > MaxMarkovOrder {
		return Result{}, fmt.Errorf("markov: order must be 1 to %d, got %d", MaxMarkovOrder, order)
	}
	if m.IgnoreNulls {
		c := *s
		c.Nulls = make([]float64, len(s.Nulls))
		s = &c
	}
	var ch *chain
	if order == 1 {
		ch = firstOrderChain(s)
	} else {
		ch = higherOrderChain(s, order)
	}
	nStates := len(ch.conv)
	solver := "dense LU"
	if nStates > denseLimit {
		solver = "Gauss-Seidel"
	}
	removed := make([]bool, nStates)
	base, err := ch.solve(removed)
	if err != nil {
		return Result{}, fmt.Errorf("markov: %w", err)
	}
	// Which states each channel touches, for removals.
	byChannel := make([][]int32, len(s.Channels))
	for st, mem := range ch.members {
		for _, c := range mem {
			byChannel[c] = append(byChannel[c], int32(st))
		}
	}
	re := make([]float64, len(s.Channels))
	var sum float64
	for c := range s.Channels {
		if base == 0 || len(byChannel[c]) == 0 {
			continue
		}
		for i := range removed {
			removed[i] = false
		}
		for _, st := range byChannel[c] {
			removed[st] = true
		}
		p, err := ch.solve(removed)
		if err != nil {
			return Result{}, fmt.Errorf("markov: removing %s: %w", s.Channels[c], err)
		}
		re[c] = max(1-p/base, 0)
		sum += re[c]
	}
	share := make([]float64, len(s.Channels))
	det := &MarkovDetails{Order: order, States: nStates, Solver: solver, ConversionProbability: base, removal: map[string]int{}}
	for c, name := range s.Channels {
		if sum > 0 {
			share[c] = re[c] / sum
		}
		det.RemovalEffects = append(det.RemovalEffects, NamedValue{Key: name, Value: re[c]})
	}
	sort.Slice(det.RemovalEffects, func(i, j int) bool { return det.RemovalEffects[i].Key < det.RemovalEffects[j].Key })
	for i, nv := range det.RemovalEffects {
		det.removal[nv.Key] = i
	}
	r := shareResult(s, "markov", share)
	r.Details = det
	if base == 0 {
		r.Notes = append(r.Notes, "no conversions: every removal effect is 0")
	}
	return r, nil
}

// firstOrderChain counts transitions between collapsed channels. Each journey adds
// conversions+nulls along its path and ends in conversion (Conv) or null (Nulls).
func firstOrderChain(s *Set) *chain {
	nc := len(s.Channels)
	w := nc + 3 // columns: 0 start (unused), 1..nc channels, nc+1 conversion, nc+2 null
	chunks := (s.Len() + chunkSize - 1) / chunkSize
	parts := make([][]float64, chunks)
	_ = forChunks(s.Len(), func(c, lo, hi int) error {
		cnt := make([]float64, (nc+1)*w)
		for j := lo; j < hi; j++ {
			t := s.Conv[j] + s.Nulls[j]
			if t == 0 {
				continue
			}
			prev, last := 0, -1
			for _, c := range s.Ch[s.Off[j]:s.Off[j+1]] {
				if int(c) == last {
					continue
				}
				cnt[prev*w+int(c)+1] += t
				prev, last = int(c)+1, int(c)
			}
			cnt[prev*w+nc+1] += s.Conv[j]
			cnt[prev*w+nc+2] += s.Nulls[j]
		}
		parts[c] = cnt
		return nil
	})
	cnt := make([]float64, (nc+1)*w)
	for _, p := range parts {
		for i, x := range p {
			cnt[i] += x
		}
	}
	ch := &chain{conv: make([]float64, nc+1), members: make([][]uint16, nc+1)}
	for st := 0; st <= nc; st++ {
		if st > 0 {
			ch.members[st] = []uint16{uint16(st - 1)}
		}
		row := cnt[st*w : (st+1)*w]
		var tot float64
		for _, x := range row {
			tot += x
		}
		ch.rowStart = append(ch.rowStart, int32(len(ch.cols)))
		if tot == 0 {
			continue
		}
		for to := 1; to <= nc; to++ {
			if row[to] > 0 {
				ch.cols = append(ch.cols, int32(to))
				ch.probs = append(ch.probs, row[to]/tot)
			}
		}
		ch.conv[st] = row[nc+1] / tot
	}
	ch.rowStart = append(ch.rowStart, int32(len(ch.cols)))
	return ch
}

// higherOrderChain uses states that are k-tuples of consecutive channels (after collapsing
// repeats); a path shorter than k is one state holding the whole path.
func higherOrderChain(s *Set, k int) *chain {
	ids := map[uint64]int32{0: 0} // key 0 is the start state
	members := [][]uint16{nil}
	type edge struct{ from, to int32 }
	trans := map[edge]float64{}
	var convW, nullW []float64
	grow := func() {
		convW = append(convW, 0)
		nullW = append(nullW, 0)
	}
	grow()
	var buf []uint16
	for j := range s.Conv {
		t := s.Conv[j] + s.Nulls[j]
		if t == 0 {
			continue
		}
		buf = buf[:0]
		for _, c := range s.Ch[s.Off[j]:s.Off[j+1]] {
			if len(buf) == 0 || buf[len(buf)-1] != c {
				buf = append(buf, c)
			}
		}
		nWin := max(len(buf)-k+1, 1)
		prev := int32(0)
		for i := range nWin {
			win := buf[i:min(i+k, len(buf))]
			var key uint64
			for _, c := range win {
				key = key<<16 | uint64(c+1)
			}
			id, ok := ids[key]
			if !ok {
				id = int32(len(members))
				ids[key] = id
				members = append(members, dedupe(win))
				grow()
			}
			trans[edge{prev, id}] += t
			prev = id
		}
		convW[prev] += s.Conv[j]
		nullW[prev] += s.Nulls[j]
	}
	n := len(members)
	rows := make([][]edge, n)
	for e := range trans {
		rows[e.from] = append(rows[e.from], e)
	}
	ch := &chain{conv: make([]float64, n), members: members}
	for st := range n {
		r := rows[st]
		sort.Slice(r, func(a, b int) bool { return r[a].to < r[b].to }) // deterministic sums
		tot := convW[st] + nullW[st]
		for _, e := range r {
			tot += trans[e]
		}
		ch.rowStart = append(ch.rowStart, int32(len(ch.cols)))
		if tot == 0 {
			continue
		}
		for _, e := range r {
			ch.cols = append(ch.cols, e.to)
			ch.probs = append(ch.probs, trans[e]/tot)
		}
		ch.conv[st] = convW[st] / tot
	}
	ch.rowStart = append(ch.rowStart, int32(len(ch.cols)))
	return ch
}

func dedupe(win []uint16) []uint16 {
	var out []uint16
	for _, c := range win {
		seen := false
		for _, o := range out {
			seen = seen || o == c
		}
		if !seen {
			out = append(out, c)
		}
	}
	return out
}

// solve returns the probability of reaching conversion from the start state when the
// removed states lead to null. It solves (I - Q) p = r exactly.
func (ch *chain) solve(removed []bool) (float64, error) {
	n := len(ch.conv)
	if n <= denseLimit {
		return ch.solveDense(removed)
	}
	return ch.solveGaussSeidel(removed)
}

func (ch *chain) solveDense(removed []bool) (float64, error) {
	n := len(ch.conv)
	idx := make([]int, n)
	m := 0
	for i := range n {
		idx[i] = -1
		if !removed[i] {
			idx[i] = m
			m++
		}
	}
	if idx[0] < 0 {
		return 0, nil
	}
	a := mat.NewDense(m, m, nil)
	b := mat.NewVecDense(m, nil)
	for i := range n {
		ri := idx[i]
		if ri < 0 {
			continue
		}
		a.Set(ri, ri, 1)
		b.SetVec(ri, ch.conv[i])
		for k := ch.rowStart[i]; k < ch.rowStart[i+1]; k++ {
			if cj := idx[ch.cols[k]]; cj >= 0 {
				a.Set(ri, cj, a.At(ri, cj)-ch.probs[k])
			}
		}
	}
	var lu mat.LU
	lu.Factorize(a)
	if lu.Det() == 0 {
		return 0, errors.New("singular transition system (a state never reaches conversion or null)")
	}
	var x mat.VecDense
	if err := lu.SolveVecTo(&x, false, b); err != nil {
		return 0, fmt.Errorf("solve absorbing chain: %w", err)
	}
	return x.AtVec(0), nil
}

// solveGaussSeidel iterates p = Q p + r in place. Q is substochastic with every state
// reaching an absorbing state, so its spectral radius is below 1 and the iteration
// converges; we stop when a sweep changes nothing by more than 1e-15.
func (ch *chain) solveGaussSeidel(removed []bool) (float64, error) {
	n := len(ch.conv)
	p := make([]float64, n)
	const maxSweeps = 1_000_000
	for sweep := 0; sweep < maxSweeps; sweep++ {
		var delta float64
		for i := range n {
			if removed[i] {
				continue
			}
			v := ch.conv[i]
			for k := ch.rowStart[i]; k < ch.rowStart[i+1]; k++ {
				v += ch.probs[k] * p[ch.cols[k]]
			}
			delta = max(delta, math.Abs(v-p[i]))
			p[i] = v
		}
		if delta <= 1e-15 {
			return p[0], nil
		}
	}
	return 0, fmt.Errorf("gauss-seidel did not converge in %d sweeps", maxSweeps)
}

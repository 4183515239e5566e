package recommend

import (
	"fmt"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// ease is Steck's EASE (2019): a linear item-item model with a zero diagonal, solved in
// closed form, B = I − P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹. It is fitted on the
// MaxItems most-bought items (the inverse is cubic in the number of items).
type ease struct {
	items []int32   // matrix item → row of b, for the fitted items
	row   []int32   // matrix item id → position in items, -1 when not fitted
	b     []float64 // len(items)² weights, row-major: b[i*n+j] is item i's weight for j
	n     int
}

// fitEASE fits EASE with regularisation lambda on the maxItems items with most customers.
func fitEASE(m *matrix, lambda float64, maxItems int) (*ease, error) {
	order := make([]int32, m.items.len())
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		na, nb := len(m.itemUsers[order[a]]), len(m.itemUsers[order[b]])
		if na != nb {
			return na > nb
		}
		return order[a] < order[b]
	})
	for len(order) > 0 && len(m.itemUsers[order[len(order)-1]]) == 0 {
		order = order[:len(order)-1]
	}
	if len(order) > maxItems {
		order = order[:maxItems]
	}
	n := len(order)
	e := &ease{items: order, row: make([]int32, m.items.len()), n: n}
	for i := range e.row {
		e.row[i] = -1
	}
	for k, it := range order {
		e.row[it] = int32(k)
	}
	if n == 0 {
		return e, nil
	}
	g := mat.NewSymDense(n, nil)
	raw := g.RawSymmetric()
	var rowItems []int
	for _, its := range m.userItems {
		rowItems = rowItems[:0]
		for _, it := range its {
			if r := e.row[it]; r >= 0 {
				rowItems = append(rowItems, int(r))
			}
		}
		sort.Ints(rowItems)
		for a, i := range rowItems {
			for _, j := range rowItems[a:] {
				raw.Data[i*raw.Stride+j]++
			}
		}
	}
	for i := 0; i < n; i++ {
		raw.Data[i*raw.Stride+i] += lambda
	}
	var ch mat.Cholesky
	if !ch.Factorize(g) {
		return nil, fmt.Errorf("EASE: the Gram matrix is not positive definite (raise lambda)")
	}
	var p mat.SymDense
	if err := ch.InverseTo(&p); err != nil {
		return nil, fmt.Errorf("EASE: invert: %w", err)
	}
	e.b = make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				e.b[i*n+j] = -p.At(i, j) / p.At(j, j)
			}
		}
	}
	return e, nil
}

// score returns the EASE scores of every fitted item for a history.
func (e *ease) score(history []int32) []scored {
	if e.n == 0 {
		return nil
	}
	acc := make([]float64, e.n)
	best := make([]int32, e.n)
	bestW := make([]float64, e.n)
	for i := range best {
		best[i] = -1
	}
	for _, h := range history {
		if int(h) >= len(e.row) {
			continue
		}
		r := e.row[h]
		if r < 0 {
			continue
		}
		row := e.b[int(r)*e.n : int(r+1)*e.n]
		for j, w := range row {
			acc[j] += w
			if w > bestW[j] {
				best[j], bestW[j] = h, w
			}
		}
	}
	out := make([]scored, 0, e.n)
	for j, s := range acc {
		if s > 0 {
			out = append(out, scored{item: e.items[j], score: s, from: best[j]})
		}
	}
	return out
}

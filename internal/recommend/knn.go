package recommend

import (
	"math"
	"runtime"
	"sync"
)

// KNNOptions tune the item-item similarity.
type KNNOptions struct {
	K int // neighbours kept per item; default 100
	// Alpha makes the cosine asymmetric: c_ij / (W_i^Alpha · W_j^(1-Alpha)); 0.5 is the
	// plain cosine. Larger values favour neighbours that are popular.
	Alpha float64
	// Shrink damps similarities resting on few customers: c/(c+Shrink) multiplies them.
	Shrink float64
	// RowWeight weighs a row (a customer's or a basket's set) by its size: heavy buyers
	// co-buy everything, so their evidence counts less (the IDF weighting of shared users
	// Gorse uses). nil counts every row once.
	RowWeight  func(size int) float64
	MinSupport int // neighbours need at least this many rows in common; default 1
}

func (o *KNNOptions) defaults() {
	if o.K <= 0 {
		o.K = 100
	}
	if o.Alpha == 0 {
		o.Alpha = 0.5
	}
	if o.MinSupport <= 0 {
		o.MinSupport = 1
	}
}

// idfRowWeight is 1/log2(2+size): a customer with 2 products counts 0.5, one with 1,000
// counts 0.1.
func idfRowWeight(size int) float64 { return 1 / math.Log2(2+float64(size)) }

// itemNeighbours computes every item's K most similar items over the rows of m.
// Work is Σ_rows |row|², split over the CPUs.
func itemNeighbours(m *matrix, opt KNNOptions) [][]neighbour {
	opt.defaults()
	n := m.items.len()
	rw := make([]float32, len(m.userItems))
	for u, its := range m.userItems {
		rw[u] = 1
		if opt.RowWeight != nil {
			rw[u] = float32(opt.RowWeight(len(its)))
		}
	}
	norm := make([]float64, n)
	for i, us := range m.itemUsers {
		for _, u := range us {
			norm[i] += float64(rw[u])
		}
	}
	out := make([][]neighbour, n)
	workers := min(runtime.GOMAXPROCS(0), 4)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			acc := make([]float32, n)
			cnt := make([]int32, n)
			var touched []int32
			var cand []neighbour
			for i := w; i < n; i += workers {
				touched = touched[:0]
				for _, u := range m.itemUsers[i] {
					wu := rw[u]
					for _, j := range m.userItems[u] {
						if cnt[j] == 0 {
							touched = append(touched, j)
						}
						acc[j] += wu
						cnt[j]++
					}
				}
				cand = cand[:0]
				for _, j := range touched {
					c, s := cnt[j], acc[j]
					acc[j], cnt[j] = 0, 0
					if j == int32(i) || int(c) < opt.MinSupport {
						continue
					}
					den := math.Pow(norm[i], opt.Alpha) * math.Pow(norm[j], 1-opt.Alpha)
					if den == 0 {
						continue
					}
					sim := float64(s) / den
					if opt.Shrink > 0 {
						sim *= float64(c) / (float64(c) + opt.Shrink)
					}
					cand = append(cand, neighbour{item: j, score: float32(sim), n: c})
				}
				out[i] = topNeighbours(cand, opt.K)
			}
		}(w)
	}
	wg.Wait()
	return out
}

// scoreKNN scores every neighbour of the history items: Σ sim(h, j) over the history h.
// acc must have one zeroed slot per item; it is zeroed again on return.
func scoreKNN(nb [][]neighbour, history []int32, acc []float64, best []int32, bestS []float32) []scored {
	var touched []int32
	for _, h := range history {
		if int(h) >= len(nb) {
			continue
		}
		for _, x := range nb[h] {
			if acc[x.item] == 0 {
				touched = append(touched, x.item)
				best[x.item], bestS[x.item] = -1, 0
			}
			acc[x.item] += float64(x.score)
			if x.score > bestS[x.item] {
				best[x.item], bestS[x.item] = h, x.score
			}
		}
	}
	out := make([]scored, 0, len(touched))
	for _, j := range touched {
		out = append(out, scored{item: j, score: acc[j], from: best[j]})
		acc[j] = 0
	}
	return out
}

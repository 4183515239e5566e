package demo

// Outcome-relevant randomness is keyed, not sequential: every decision that can change
// an order (buy today? open the email? which entry route?) draws u(person, day, stream).
// The actual world and every counterfactual therefore see the same coin for the same
// decision, so removing a channel changes only what that channel causes (common random
// numbers), and the ground-truth difference is not buried in re-sampling noise.

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// stream names one kind of decision.
type stream uint8

const (
	sBuy stream = iota + 1
	sFirstBuy
	sLocation
	sBasket
	sRefund
	sBrowse
	sBrowseSource
	sBrowseCart
	sPurchaseSource
	sBrandConvert
	sEmailOpen
	sEmailClick
	sCartEmailOpen
	sCartEmailClick
	sSMSClick
	sIGOrganic
	sIGAds
	sFBProspecting
	sFBRetargeting
	sCakeIntent
	sCakeSearch
	sCakeCannibal
	sCakeBasket
	sPurchaseNatural
	sRetargetCapture
)

// u is the keyed uniform in [0,1) for one decision.
func (w *world) u(person uint32, day int, s stream) float64 {
	h := mix64(w.seedHash ^ (uint64(person)<<24 | uint64(uint16(day))<<8 | uint64(s)))
	return float64(h>>11) / (1 << 53)
}

// key64 is a keyed 64-bit value, used to seed detail generators (baskets).
func (w *world) key64(person uint32, day int, s stream) uint64 {
	return mix64(w.seedHash ^ (uint64(person)<<24 | uint64(uint16(day))<<8 | uint64(s)) ^ 0x5bd1e995)
}

// splitmix is a tiny sequential generator for details that never change an outcome
// (page counts, minutes, user agents) and for per-person attributes drawn once.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func (r *splitmix) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a value in [0,n).
func (r *splitmix) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// pick returns an index drawn with the given weights.
func pick(u float64, weights []float64) int {
	var tot float64
	for _, w := range weights {
		tot += w
	}
	x := u * tot
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

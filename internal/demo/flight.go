package demo

import (
	"math"
	"math/bits"
)

// Ad flighting: how hard each paid campaign runs each day. A small business does not
// spend the same every day: it runs a campaign for a few weeks and pauses it, pauses one
// while the budget is reviewed or the owner is away, raises or cuts a budget every few
// weeks. The demo's campaigns do not follow the seasons: a business that spends more
// exactly when demand is high gives any model a confounded story to tell, and the demo
// is there to show what can be learnt. Level 1 is the campaign's usual budget, 0 a pause. The
// level scales how often the ad is shown (eff), so it moves clicks, and with them spend
// and the campaign's effect: that variation is what lets a marketing-mix model tell a
// campaign's effect from the season's.

// paidLevers are the campaigns with a budget, in levIndex order of their bits.
var paidLevers = []Lever{LevGoogleBrand, LevGoogleCakes, LevGoogleLocal, LevFBProspecting, LevFBRetargeting, LevIGAds}

// effMax is eff's ceiling: an ad cannot be shown more than in every auction it enters.
const effMax = 1 / (1 - 1/math.E)

// eff is the share of the usual ad exposure a campaign gets at level x: 1 at the usual
// budget, 0 when paused, diminishing returns above (1.37 at twice the budget, at most 1.58).
func eff(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return (1 - math.Exp(-x)) * effMax
}

// reach is the probability that a person who would first meet the bakery through an ad
// campaign (a route) is reached by it on the day, at level x: 0.86 at the usual budget.
func reach(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 1 - math.Exp(-2*x)
}

// flightStyle is how a campaign's budget moves through the year.
type flightStyle uint8

const (
	alwaysOn flightStyle = iota // budget changed every one to five weeks, two pauses
	bursts                      // campaigns of one to three weeks with pauses between
)

var leverStyle = map[Lever]flightStyle{
	LevGoogleBrand: alwaysOn, LevGoogleCakes: bursts, LevGoogleLocal: bursts,
	LevFBProspecting: bursts, LevFBRetargeting: alwaysOn, LevIGAds: bursts,
}

// buildFlights lays out every paid campaign's daily level for the window, deterministic
// by seed. It draws from its own generator, so no person's coins change.
func (w *world) buildFlights() {
	n := len(w.days)
	w.level = make([][levCount]float32, n)
	for li, l := range paidLevers {
		r := splitmix{mix64(w.seedHash ^ 0x666c69676874 ^ uint64(li+1)*0x9e3779b97f4a7c15)}
		lv := make([]float64, n)
		switch leverStyle[l] {
		case bursts:
			d := r.intn(10)
			for d < n {
				on := 7 + r.intn(15)
				x := 0.8 + 1.4*r.float()
				for i := d; i < min(n, d+on); i++ {
					lv[i] = x
				}
				d += on + 5 + r.intn(10)
			}
		default:
			d := 0
			for d < n {
				k := 7 + r.intn(29)
				x := 0.3 + 1.4*r.float()
				for i := d; i < min(n, d+k); i++ {
					lv[i] = x
				}
				d += k
			}
			// Two pauses of one to two weeks (a budget review, the owner away).
			for range 2 {
				p := r.intn(max(1, n-14))
				for i := p; i < min(n, p+7+r.intn(8)); i++ {
					lv[i] = 0
				}
			}
		}
		// Scale so that the year's mean level is 1: the usual budget, on average.
		m := 0.0
		for _, v := range lv {
			m += v
		}
		m /= float64(n)
		// A channel's budget scale (Params.BudgetScale) multiplies the whole flight.
		k := 1.0
		if v := w.params.BudgetScale[campaignOf(l).Channel]; v > 0 {
			k = v
		}
		for i := range lv {
			if m > 0 {
				w.level[i][levIndex(l)] = float32(k * lv[i] / m)
			}
		}
	}
}

// lv is lever l's level on day d.
func (w *world) lv(l Lever, d int) float64 {
	if d < 0 || d >= len(w.level) {
		return 0
	}
	return float64(w.level[d][bits.TrailingZeros16(uint16(l))])
}

// scaled returns a copy of the world whose campaigns in mask run at m times their level
// every day: the generator's own response to a channel's budget.
func (w *world) scaled(mask Lever, m float64) *world {
	c := *w
	c.level = make([][levCount]float32, len(w.level))
	copy(c.level, w.level)
	for d := range c.level {
		for _, l := range paidLevers {
			if mask&l != 0 {
				i := levIndex(l)
				c.level[d][i] = float32(float64(c.level[d][i]) * m)
			}
		}
	}
	return &c
}

// isPaid says whether l is a campaign with a budget (and a flight).
func isPaid(l Lever) bool {
	for _, p := range paidLevers {
		if p == l {
			return true
		}
	}
	return false
}

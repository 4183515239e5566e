package value

import "math"

// PurchaseModel is a fitted transaction model: BGNBD or ParetoNBD.
type PurchaseModel interface {
	PAlive(x int, tx, T float64) float64
	ConditionalExpectedPurchases(t float64, x int, tx, T float64) float64
}

// UnitsPerMonth is the length of a month in the unit, as lifetimes uses it
// (4.345 weeks, 30 days).
func (u Unit) UnitsPerMonth() float64 {
	if u == Week {
		return 4.345
	}
	return 30
}

// CLV is the discounted expected value over the next months, in the style of
// lifetimes' customer_lifetime_value:
//
//	sum_{i=1..months} (E[Y(i·f)] - E[Y((i-1)·f)]) · value / (1+discount)^i
//
// where f is one month in the histories' unit, E[Y] the model's conditional
// expected purchases and value the expected value per purchase (Gamma-Gamma's
// conditional expectation). discount is per month.
func CLV(pm PurchaseModel, value float64, x int, tx, T float64, unit Unit, months int, discount float64) float64 {
	f := unit.UnitsPerMonth()
	total, prev := 0.0, 0.0
	for i := 1; i <= months; i++ {
		cur := pm.ConditionalExpectedPurchases(float64(i)*f, x, tx, T)
		total += (cur - prev) * value / math.Pow(1+discount, float64(i))
		prev = cur
	}
	return total
}

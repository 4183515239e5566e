package experiment

import (
	"math"
	"math/rand/v2"
	"time"
)

// GeoWorld simulates a small shop's daily revenue by region with a known ad-channel
// effect, for the tests of the region and switchback analyses and their planner. Each
// region's revenue per day is its level × (weekly pattern × a shop-wide factor that
// wanders like an AR(1) process) + its own AR(1) noise + sales noise; the channel adds
// ROAS × its spend in the regions and days it runs.
type GeoWorld struct {
	Regions    int
	Days       int
	Level      float64 // mean revenue per region per day
	LevelCV    float64 // spread of the regions' levels (coefficient of variation)
	CommonSD   float64 // shop-wide daily factor's relative spread
	CommonRho  float64 // its day-to-day autocorrelation
	NoiseSD    float64 // each region's own relative noise
	NoiseRho   float64 // its autocorrelation
	SpendDay   float64 // channel spend per region per day when it runs
	SpendSD    float64 // relative day-to-day spread of the spend
	ROAS       float64 // revenue per unit of spend, the true effect
	Start      time.Time
	Levels     []float64 // the regions' levels; nil: drawn afresh by each Simulate
	weekFactor [7]float64
}

// DrawLevels fixes the regions' levels, so that later simulations are of the same shop.
func (w *GeoWorld) DrawLevels(rng *rand.Rand) {
	w.Levels = make([]float64, w.Regions)
	for r := range w.Levels {
		w.Levels[r] = w.Level * math.Exp(w.LevelCV*rng.NormFloat64()-w.LevelCV*w.LevelCV/2)
	}
}

// DefaultGeoWorld is a bakery-sized shop: 12 postcode areas of about EUR 150 a day each.
func DefaultGeoWorld() GeoWorld {
	return GeoWorld{Regions: 12, Days: 140, Level: 150, LevelCV: 0.5, CommonSD: 0.06, CommonRho: 0.6,
		NoiseSD: 0.15, NoiseRho: 0.3, SpendDay: 8, SpendSD: 0.2, ROAS: 2,
		Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}
}

// GeoPanel is a simulated world's data: revenue and spend per region per day, and the
// channel's true incremental revenue per region per day.
type GeoPanel struct {
	Dates   []time.Time
	Revenue [][]float64 // [region][day]
	Spend   [][]float64 // as spent
	Would   [][]float64 // what the channel would have spent had it run every day
	Effect  [][]float64 // revenue the channel added
}

// Lost is the revenue the channel would have added in regions over days [from, to) where
// it did not run: ROAS × the spend it would have had there.
func (w GeoWorld) Lost(p GeoPanel, regions []int, from, to int) float64 {
	var s float64
	for _, r := range regions {
		for d := from; d < to; d++ {
			if p.Spend[r][d] == 0 {
				s += w.ROAS * p.Would[r][d]
			}
		}
	}
	return s
}

// Simulate draws a world. on(region, day) says whether the channel runs there that day.
func (w GeoWorld) Simulate(rng *rand.Rand, on func(region, day int) bool) GeoPanel {
	w.weekFactor = [7]float64{0.85, 0.9, 0.95, 1.0, 1.1, 1.25, 0.95}
	p := GeoPanel{}
	for d := range w.Days {
		p.Dates = append(p.Dates, w.Start.AddDate(0, 0, d))
	}
	common := make([]float64, w.Days)
	c := 0.0
	for d := range w.Days {
		c = w.CommonRho*c + math.Sqrt(1-w.CommonRho*w.CommonRho)*rng.NormFloat64()*w.CommonSD
		common[d] = c
	}
	for r := range w.Regions {
		level := w.Level * math.Exp(w.LevelCV*rng.NormFloat64()-w.LevelCV*w.LevelCV/2)
		if w.Levels != nil {
			level = w.Levels[r]
		}
		rev := make([]float64, w.Days)
		sp := make([]float64, w.Days)
		would := make([]float64, w.Days)
		eff := make([]float64, w.Days)
		e := 0.0
		for d := range w.Days {
			e = w.NoiseRho*e + math.Sqrt(1-w.NoiseRho*w.NoiseRho)*rng.NormFloat64()*w.NoiseSD
			base := level * w.weekFactor[(int(p.Dates[d].Weekday())+6)%7] * (1 + common[d] + e)
			would[d] = w.SpendDay * level / w.Level * math.Max(0, 1+w.SpendSD*rng.NormFloat64())
			if on(r, d) {
				sp[d] = would[d]
				eff[d] = w.ROAS * sp[d]
			}
			rev[d] = math.Max(0, base+eff[d])
		}
		p.Revenue = append(p.Revenue, rev)
		p.Spend = append(p.Spend, sp)
		p.Would = append(p.Would, would)
		p.Effect = append(p.Effect, eff)
	}
	return p
}

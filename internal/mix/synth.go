package mix

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// SyntheticTruth is what a synthetic series was generated from.
type SyntheticTruth struct {
	Contribution []float64 // per channel, over the whole series
	ROAS         []float64
	params       []channelParams
	// Response gives channel c's true contribution over the series when its whole
	// spend pattern is multiplied by m.
	Response func(c int, m float64) float64
}

// Synthetic generates days of daily data for a small business with the given number of
// paid channels, deterministic by seed. Spend is flighted like a real small business's:
// each channel runs campaigns of one to four weeks with pauses between them, or runs
// always on with budget changes every month or two, with day-to-day noise. Revenue is
// a baseline (level, growth, a weekly pattern, yearly seasons, Christmas) times noise
// that errs several days in a row (AR(1), ρ = 0.5), plus each channel's effect through
// geometric carryover and a Hill curve with known parameters. It backs the benchmark
// and the tests of the intervals' coverage.
func Synthetic(seed uint64, days, channels int) (Data, SyntheticTruth) {
	rng := rand.New(rand.NewPCG(seed, 0x5e7))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d := Data{Spend: make([][]float64, channels)}
	for i := range days {
		d.Dates = append(d.Dates, start.AddDate(0, 0, i))
	}
	type chTruth struct {
		theta, kappa, shape, roas float64
	}
	tr := make([]chTruth, channels)
	level := 3000.0 // baseline revenue a day
	mediaShare := 0.25
	for c := range channels {
		d.Channels = append(d.Channels, fmt.Sprintf("Channel %d", c+1))
		mean := 30 + 120*rng.Float64()
		x := make([]float64, days)
		if rng.Float64() < 0.5 {
			// Campaign bursts and pauses.
			t := 0
			for t < days {
				on := 7 + rng.IntN(22)
				off := 5 + rng.IntN(16)
				lvl := mean * (0.6 + 1.4*rng.Float64())
				for i := t; i < min(days, t+on); i++ {
					x[i] = lvl * (0.8 + 0.4*rng.Float64())
				}
				t += on + off
			}
		} else {
			// Always on, budget changed every 30–75 days.
			t := 0
			for t < days {
				k := 30 + rng.IntN(46)
				lvl := mean * (0.3 + 1.7*rng.Float64())
				for i := t; i < min(days, t+k); i++ {
					x[i] = lvl * (0.7 + 0.6*rng.Float64())
				}
				t += k
			}
		}
		d.Spend[c] = x
		tr[c] = chTruth{
			theta: 0.1 + 0.7*rng.Float64(),
			kappa: 0.5 + 2*rng.Float64(),
			shape: 0.7 + 0.8*rng.Float64(),
			roas:  0.5 + 4*rng.Float64(),
		}
	}
	// Scale each channel's β so that its ROAS over the series is the chosen one, then
	// check the media's total against the baseline.
	contrib := make([][]float64, channels)
	buf := make([]float64, days)
	truth := SyntheticTruth{Contribution: make([]float64, channels), ROAS: make([]float64, channels)}
	xm := make([]float64, channels)
	betas := make([]float64, channels)
	for c := range channels {
		xm[c] = mean(d.Spend[c])
		xs := make([]float64, days)
		for i, v := range d.Spend[c] {
			xs[i] = v / xm[c]
		}
		g := make([]float64, days)
		channelParams{tr[c].theta, tr[c].kappa, tr[c].shape}.column(g, buf, xs)
		beta := tr[c].roas * sum(d.Spend[c]) / sum(g)
		betas[c] = beta
		contrib[c] = make([]float64, days)
		for i := range g {
			contrib[c][i] = beta * g[i]
		}
		truth.Contribution[c] = sum(contrib[c])
		truth.ROAS[c] = tr[c].roas
		truth.params = append(truth.params, channelParams{tr[c].theta, tr[c].kappa, tr[c].shape})
	}
	var media float64
	for c := range channels {
		media += truth.Contribution[c]
	}
	if media > 0 {
		// Keep paid media near a quarter of revenue, as in a small business.
		level = media / float64(days) * (1 - mediaShare) / mediaShare
	}
	ar := 0.0
	for i, day := range d.Dates {
		doy := float64(day.YearDay())
		wk := [7]float64{0.9, 0.75, 0.9, 0.95, 1, 1.15, 1.35}[day.Weekday()]
		season := 1 + 0.12*math.Sin(2*math.Pi*doy/365.25) + 0.05*math.Cos(4*math.Pi*doy/365.25)
		if day.Month() == time.December && day.Day() >= 15 && day.Day() <= 24 {
			season *= 1.6
		}
		growth := 1 + 0.25*float64(i)/365
		ar = 0.5*ar + rng.NormFloat64()*0.06
		y := level * wk * season * growth * (1 + ar)
		for c := range channels {
			y += contrib[c][i]
		}
		d.Target = append(d.Target, y)
	}
	truth.Response = func(c int, m float64) float64 {
		xs := make([]float64, days)
		for i, v := range d.Spend[c] {
			xs[i] = m * v / xm[c]
		}
		g := make([]float64, days)
		channelParams{tr[c].theta, tr[c].kappa, tr[c].shape}.column(g, make([]float64, days), xs)
		return betas[c] * sum(g)
	}
	return d, truth
}

package mix

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Thresholds of the diagnostics.
const (
	// A channel whose spend's coefficient of variation is below this barely varied.
	minSpendCV = 0.1
	// A channel whose column the other columns explain to this R² (VIF 10) is not
	// identifiable: its effect cannot be told from theirs.
	maxCollinearR2 = 0.9
	// Two channels whose columns correlate this much moved together.
	togetherCorr = 0.8
	// A holdout error above this is called poor.
	poorMAPE = 0.25
)

func (m *Model) warn(e *evaluator, d *Data, o Options) {
	p := m.prob
	n := p.n
	unit := p.period.String()
	add := func(code, ch, msg string, args ...any) {
		m.Warnings = append(m.Warnings, Warning{Code: code, Channel: ch, Message: fmt.Sprintf(msg, args...)})
	}
	if need := needed(p.period, len(d.Channels)); n < need {
		add("too_little_history", "", "%d %ss of history: with %d channels the model should have at least %d %ss. "+
			"The estimates lean on the priors and the intervals are wide; they narrow as history accumulates.",
			n, unit, len(d.Channels), need, unit)
	}
	for _, ch := range m.Dropped {
		add("no_spend", ch, "%s had no spend in the window, so the data say nothing about it: it is left out.", ch)
	}
	r2, corr := collinearity(e)
	for c := range m.Channels {
		ce := &m.Channels[c]
		ce.Identifiable = true
		x := p.x[c][:n]
		cv := stddev(x) // spend is scaled to mean 1
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range x {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		rng := fmt.Sprintf("return per unit of spend somewhere between %.2f and %.2f", ce.ROASLow, ce.ROASHigh)
		switch {
		case cv < minSpendCV:
			ce.Identifiable = false
			add("spend_barely_varied", ce.Channel, "%s's spend barely varied (%s to %s a %s), so the data cannot tell what it does: "+
				"%s, not a figure to act on. Vary its budget for a few weeks (a pause, a burst) to learn more.",
				ce.Channel, o.Money(lo*p.xScale[c]), o.Money(hi*p.xScale[c]), unit, rng)
		case r2[c] > maxCollinearR2:
			ce.Identifiable = false
			with := "the calendar (weekdays, seasons, holidays, trend)"
			if d, r := argmaxAbs(corr[c], c); d >= 0 && math.Abs(r) > togetherCorr {
				with = p.channels[d]
			}
			add("not_identifiable", ce.Channel, "%s's spend moved together with %s, so the model cannot tell their effects apart: "+
				"%s, not a figure to act on. Changing one without the other for a few weeks would separate them.",
				ce.Channel, with, rng)
		case ce.ROASHigh-ce.ROASLow > 2*math.Max(ce.ROAS, 0.5):
			add("uncertain", ce.Channel, "%s's effect is uncertain: %s.", ce.Channel, rng)
		}
	}
	if !math.IsNaN(m.MAPEHoldout) && m.MAPEHoldout > poorMAPE {
		add("poor_holdout", "", "Fitted without the last %d %ss, the model missed them by %.0f %% on average: "+
			"something the model does not know changed the target (a price change, a promotion, an outage?). "+
			"Add it as a control, or treat the figures with caution.", m.HoldoutPeriods, unit, 100*m.MAPEHoldout)
	}
}

// collinearity returns, per channel, the R² of its column regressed on every other
// column (baseline and channels) and its correlations with the other channels' columns.
func collinearity(e *evaluator) (r2 []float64, corr [][]float64) {
	p := e.p
	n, np, pb := p.n, e.np, e.pb
	C := len(p.channels)
	G := mat.NewSymDense(np, nil)
	for i := range pb {
		for j := i; j < pb; j++ {
			G.SetSym(i, j, p.btb.At(i, j))
		}
	}
	for c := range C {
		for j := range pb {
			G.SetSym(j, pb+c, e.gb[c][j])
		}
		for d := c; d < C; d++ {
			G.SetSym(pb+c, pb+d, e.gg[c][d])
		}
	}
	tr := 0.0
	for i := range np {
		tr += G.At(i, i)
	}
	for i := range np {
		G.SetSym(i, i, G.At(i, i)+1e-10*tr/float64(np))
	}
	var ch mat.Cholesky
	var inv mat.SymDense
	ok := ch.Factorize(G) && ch.InverseTo(&inv) == nil
	r2 = make([]float64, C)
	corr = make([][]float64, C)
	for c := range C {
		gc := e.g[c][:n]
		mc := mean(gc)
		sst := 0.0
		for _, v := range gc {
			sst += (v - mc) * (v - mc)
		}
		if !ok || sst == 0 {
			r2[c] = 1
		} else {
			r2[c] = math.Max(0, 1-1/(inv.At(pb+c, pb+c)*sst))
		}
		corr[c] = make([]float64, C)
		for d := range C {
			corr[c][d] = correlation(gc, e.g[d][:n])
		}
	}
	return r2, corr
}

func correlation(a, b []float64) float64 {
	ma, mb := mean(a), mean(b)
	var sab, saa, sbb float64
	for i := range a {
		x, y := a[i]-ma, b[i]-mb
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func argmaxAbs(x []float64, skip int) (int, float64) {
	best, bi := 0.0, -1
	for i, v := range x {
		if i != skip && math.Abs(v) > best {
			best, bi = math.Abs(v), i
		}
	}
	if bi < 0 {
		return -1, 0
	}
	return bi, x[bi]
}

// WarningsText joins the warnings' messages, one a line.
func WarningsText(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.Message)
		b.WriteByte('\n')
	}
	return b.String()
}

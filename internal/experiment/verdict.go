package experiment

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/money"
)

// verdict turns an analysis into plain words, in this order: a sample ratio mismatch
// stops everything; then too little data (units per arm, days); then winners, losers,
// and "no difference", with how many more units would settle it.
func verdict(res *Result, arms []Arm, ci int, cm, theta, poolX float64, opt Options) Verdict {
	unit := opt.UnitLabel
	if res.SRMPValue.Valid() && float64(res.SRMPValue) < opt.SRMThreshold {
		var got, want []string
		for _, v := range res.Variants {
			got = append(got, fmt.Sprintf("%s %s", v.Variant, money.Count(v.N)))
			want = append(want, pct(float64(v.PlannedShare), false))
		}
		return Verdict{Kind: VerdictSRM, Text: fmt.Sprintf(
			"stop: sample ratio mismatch (%s): the arms got %s %s where the plan was %s; assignment or tracking is broken, so no result can be trusted. Check that every variant is assigned and sends its exposure the same way",
			pEquals(float64(res.SRMPValue)), strings.Join(got, ", "), unit, strings.Join(want, " / "))}
	}

	var early []string
	minN, minName := int64(math.MaxInt64), ""
	for _, v := range res.Variants {
		if v.N < minN {
			minN, minName = v.N, v.Variant
		}
	}
	if minN < int64(opt.MinSample) {
		early = append(early, fmt.Sprintf("each arm needs at least %d %s (%s has %s)", opt.MinSample, unit, minName, money.Count(minN)))
	}
	if opt.Days > 0 && opt.Days < float64(opt.MinDays) {
		early = append(early, fmt.Sprintf("the test must run at least %d days (%s so far)", opt.MinDays, days(opt.Days)))
	}

	for i := range res.Variants {
		v := &res.Variants[i]
		if !v.Control {
			v.Verdict = variantWords(*v, opt)
		}
	}
	if len(early) > 0 {
		return Verdict{Kind: VerdictTooEarly, Text: "not enough data yet: " + strings.Join(early, "; ")}
	}

	var winners, losers []VariantResult
	for _, v := range res.Variants {
		if v.Control || !v.Significant {
			continue
		}
		if v.Diff > 0 {
			winners = append(winners, v)
		} else {
			losers = append(losers, v)
		}
	}
	better := func(a, b VariantResult) bool {
		if a.Lift.Valid() && b.Lift.Valid() {
			return a.Lift > b.Lift
		}
		return a.Diff > b.Diff
	}
	if len(winners) > 0 {
		best := winners[0]
		for _, w := range winners[1:] {
			if better(w, best) {
				best = w
			}
		}
		text := fmt.Sprintf("%s wins: %s", best.Variant, effectWords(best, opt))
		for _, w := range winners {
			if w.Variant != best.Variant {
				text += fmt.Sprintf("; %s also beats %s: %s", w.Variant, res.Control, effectWords(w, opt))
			}
		}
		return Verdict{Kind: VerdictWinner, Text: text}
	}
	if len(losers) > 0 && len(losers) == len(res.Variants)-1 {
		var parts []string
		for _, l := range losers {
			parts = append(parts, fmt.Sprintf("%s loses: %s", l.Variant, effectWords(l, opt)))
		}
		return Verdict{Kind: VerdictLoser, Text: strings.Join(parts, "; ") + "; keep " + res.Control}
	}

	// No significant winner: would more units find the MDE?
	var ss, df, pooledMean, n float64
	for _, a := range arms {
		_, v := a.Moments.adjusted(theta, poolX)
		if a.Moments.N >= 2 {
			ss += v * (a.Moments.N - 1)
			df += a.Moments.N - 1
		}
		pooledMean += a.Moments.MeanY * a.Moments.N
		n += a.Moments.N
	}
	base := cm
	if !(base > 0) && n > 0 {
		base = pooledMean / n
	}
	sd := math.Sqrt(ss / df)
	if !(base > 0) || !(sd > 0) {
		return Verdict{Kind: VerdictNotYet, Text: fmt.Sprintf("no difference yet: every %s has the same %s so far", strings.TrimSuffix(unit, "s"), opt.MetricLabel)}
	}
	need, err := SampleSize(PlanInput{Mean: base, SD: sd, Arms: len(arms), MDE: opt.MDE, Alpha: opt.Alpha, Power: opt.Power, Sequential: opt.Sequential, Tuning: opt.Tuning})
	if err != nil || math.IsInf(need, 1) {
		return Verdict{Kind: VerdictNotYet, Text: "no difference yet"}
	}
	more := int64(math.Ceil(need)) - minN
	lift := fmt.Sprintf("a %s lift", pct(opt.MDE, false))
	if more > 0 {
		return Verdict{Kind: VerdictNotYet, MoreUnits: more,
			Text: fmt.Sprintf("no difference yet: need about %s more %s per arm to detect %s", about(float64(more)), unit, lift)}
	}
	var within []string
	for _, v := range res.Variants {
		if v.Control {
			continue
		}
		if v.Lift.Valid() {
			within = append(within, fmt.Sprintf("%s is between %s and %s of %s", v.Variant, pct(float64(v.LiftLow), true), pct(float64(v.LiftHigh), true), res.Control))
		}
	}
	text := "no difference: the test had enough " + unit + " to detect " + lift
	if len(within) > 0 {
		text += "; " + strings.Join(within, ", ")
	}
	return Verdict{Kind: VerdictNoDifference, Text: text}
}

// effectWords is "+12 % revenue per visitor (95 % CI +3 % to +21 %)", or the absolute
// difference when a lift is undefined (control's mean is zero).
func effectWords(v VariantResult, opt Options) string {
	level := pct(1-opt.Alpha, false)
	if v.Lift.Valid() {
		return fmt.Sprintf("%s %s (%s CI %s to %s)", pct(float64(v.Lift), true), opt.MetricLabel, level,
			pct(float64(v.LiftLow), true), pct(float64(v.LiftHigh), true))
	}
	return fmt.Sprintf("%s %s (%s CI %s to %s)", signed(float64(v.Diff)), opt.MetricLabel, level,
		signed(float64(v.DiffLow)), signed(float64(v.DiffHigh)))
}

// variantWords is one variant's line: its effect, p-value and chance to beat control.
func variantWords(v VariantResult, opt Options) string {
	if !v.Diff.Valid() {
		return "too few units to compare"
	}
	var b strings.Builder
	switch {
	case v.Significant && v.Diff > 0:
		b.WriteString("better: ")
	case v.Significant:
		b.WriteString("worse: ")
	default:
		b.WriteString("no clear difference: ")
	}
	b.WriteString(effectWords(v, opt))
	fmt.Fprintf(&b, ", %s", pEquals(float64(v.PValue)))
	if v.ProbBeatControl.Valid() {
		fmt.Fprintf(&b, ", %s chance to beat control", Chance(float64(v.ProbBeatControl)))
	}
	return b.String()
}

// pct formats a fraction as a percentage, "+12 %" (signed) or "12 %": whole percent from
// 10 % up, one decimal below.
func pct(x float64, sign bool) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	p := x * 100
	var s string
	if math.Abs(p) >= 9.95 {
		s = strconv.FormatFloat(math.Round(p), 'f', 0, 64)
	} else {
		s = strconv.FormatFloat(math.Round(p*10)/10, 'f', 1, 64)
	}
	if s == "-0" || s == "-0.0" {
		s = s[1:]
	}
	if sign && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + " %"
}

// Chance formats a probability as a percentage that never rounds to certainty:
// "> 99.9 %" and "< 0.1 %" at the ends.
func Chance(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p > 0.999:
		return "> 99.9 %"
	case p < 0.001:
		return "< 0.1 %"
	}
	return strconv.FormatFloat(100*p, 'f', 1, 64) + " %"
}

// signed formats an absolute difference with its sign and three significant digits.
func signed(x float64) string {
	s := strconv.FormatFloat(x, 'g', 3, 64)
	if x >= 0 {
		s = "+" + s
	}
	return s
}

// pEquals is "p = 0.012", or "p < 0.0001" for the smallest values.
func pEquals(p float64) string {
	s := pvalue(p)
	if strings.HasPrefix(s, "<") {
		return "p " + s
	}
	return "p = " + s
}

// pvalue formats a p-value: two significant digits, "< 0.0001" below that.
func pvalue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.0001:
		return "< 0.0001"
	case p >= 0.1:
		return strconv.FormatFloat(p, 'f', 2, 64)
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

// about rounds a count to two significant digits with thousands separators: 1,800.
func about(x float64) string {
	if x < 100 {
		return money.Count(int64(math.Ceil(x)))
	}
	mag := math.Pow(10, math.Floor(math.Log10(x))-1)
	return money.Count(int64(math.Round(x/mag) * mag))
}

func days(d float64) string {
	if d < 1 {
		return "less than a day"
	}
	n := int(math.Floor(d))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

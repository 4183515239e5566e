package recommend

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestAUCByHand(t *testing.T) {
	t.Parallel()
	// Pairs (converter, non-converter): (0.35 vs 0.1) yes, (0.35 vs 0.4) no, 0.8 beats both: 3 of 4.
	if got := auc([]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}); got != 0.75 {
		t.Fatalf("AUC %v, want 0.75", got)
	}
	// Ties count half.
	if got := auc([]float64{0.5, 0.5}, []bool{false, true}); got != 0.5 {
		t.Fatalf("tied AUC %v", got)
	}
}

// Conversions driven by cart adds and email clicks are found: those weights come out
// positive, the model ranks a fresh sample well, and a score's reasons name them.
func TestLogisticFindsTheSignal(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	sample := func(n int) []person {
		var ps []person
		for i := 0; i < n; i++ {
			x := make([]float64, len(leadFeatures))
			x[0] = float64(r.IntN(20))
			x[2] = float64(r.IntN(4))
			x[4] = float64(r.IntN(3))
			x[5] = 1 + float64(r.IntN(10))
			x[6] = float64(r.IntN(30))
			s := -4 + 1.2*x[2] + 0.8*x[4]
			ps = append(ps, person{x: x, converted: r.Float64() < 1/(1+math.Exp(-s))})
		}
		return ps
	}
	train, test := sample(4000), sample(4000)
	m, err := fitLogistic(train, allFeatures(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.w[3] <= 0.3 || m.w[5] <= 0.3 || math.Abs(m.w[1]) > 0.3 {
		t.Fatalf("weights %v: cart adds and email clicks should carry it, page views not", m.w)
	}
	a := auc(m.predictAll(test), labels(test))
	base, _ := fitLogistic(train, []int{5, 6}, 1)
	b := auc(base.predictAll(test), labels(test))
	if a < 0.75 || a < b+0.1 {
		t.Fatalf("AUC %.3f, recency-frequency baseline %.3f", a, b)
	}
	x := []float64{2, 0, 3, 0, 2, 3, 1, 0}
	if rs := m.reasons(x); len(rs) != 2 || !strings.Contains(strings.Join(rs, ";"), "added to a cart 3 times") {
		t.Fatalf("reasons %v", rs)
	}
	// Platt scaling leaves a calibrated model about where it was.
	pa, pb := platt(m.predictAll(test), labels(test))
	if math.Abs(pa-1) > 0.25 || math.Abs(pb) > 0.5 {
		t.Fatalf("platt a=%.3f b=%.3f on an already calibrated model", pa, pb)
	}
}

func TestNextActionRules(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	all := map[string]bool{ActionRecommend: true, ActionWinBack: true, ActionReviewRequest: true, ActionServiceCall: true}
	o := NBAOptions{QuietPeriod: 14 * 24 * time.Hour, ReviewAfter: 3 * 24 * time.Hour, ReviewBefore: 21 * 24 * time.Hour}
	base := func() *nbaInputs {
		return &nbaInputs{segment: "Loyal", pAlive: 0.9, clv: 5000, lastOrder: asOf.AddDate(0, 0, -40), orders: 4, email: true, phone: true, personalised: true}
	}
	for _, c := range []struct {
		name   string
		edit   func(*nbaInputs)
		action string
		reason string
	}{
		{"opted out", func(x *nbaInputs) { x.personalised = false }, ActionNone, "opted out of personalisation"},
		{"messaged lately", func(x *nbaInputs) { x.lastContact = asOf.AddDate(0, 0, -3) }, ActionNone, "messaged 3 days ago"},
		{"valuable and slipping", func(x *nbaInputs) { x.pAlive, x.clv = 0.3, 90000 }, ActionServiceCall, "slipping away (30% likely still active"},
		{"at risk", func(x *nbaInputs) { x.segment = "At Risk"; x.pAlive = 0.6 }, ActionWinBack, "At Risk: last order 40 days ago"},
		{"at risk, SMS only", func(x *nbaInputs) { x.segment, x.email, x.sms = "At Risk", false, true }, ActionWinBack, "win-back"},
		{"recent order", func(x *nbaInputs) { x.lastOrder = asOf.AddDate(0, 0, -5) }, ActionReviewRequest, "ordered 5 days ago"},
		{"asked already", func(x *nbaInputs) { x.lastOrder, x.reviewAsked = asOf.AddDate(0, 0, -5), true }, ActionRecommend, "active (Loyal, 90% likely still active)"},
		{"no consent", func(x *nbaInputs) { x.email = false }, ActionNone, "no consent to marketing messages"},
	} {
		x := base()
		c.edit(x)
		a := decide(x, all, asOf, o, 80000, "EUR")
		if a.Action != c.action || !strings.Contains(a.Reason, c.reason) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, a.Action, a.Reason, c.action, c.reason)
		}
	}
	// A disabled action is never suggested.
	x := base()
	x.segment = "At Risk"
	if a := decide(x, map[string]bool{ActionRecommend: true}, asOf, o, 80000, "EUR"); a.Action != ActionRecommend {
		t.Fatalf("win-back disabled: got %s", a.Action)
	}
}

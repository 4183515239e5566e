package recommend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/gonum/optimize"

	"github.com/omniroi/omniroi/internal/store"
)

// Lead scoring: for shops that sell by conversation, the probability that a person who has
// not bought yet places a first order within the horizon, from their behaviour in the
// window before. Fitted by L2-regularised logistic regression (gonum's L-BFGS) on who
// converted after an earlier cut-off, checked on a later one (a time split) against a
// recency-frequency baseline, and calibrated by Platt scaling on that later cut-off.

// leadFeatures name the model's inputs, in order, with how a reason words them.
var leadFeatures = []struct {
	name      string
	one, many string // how a reason words a count of 1 and of more (%v)
}{
	{"page_views", "viewed 1 page", "viewed %v pages"},
	{"product_views", "viewed 1 product", "viewed %v products"},
	{"cart_adds", "added to a cart once", "added to a cart %v times"},
	{"email_opens", "opened 1 email", "opened %v emails"},
	{"email_clicks", "clicked 1 email link", "clicked %v email links"},
	{"active_days", "active on 1 day", "active on %v days"},
	{"recency_days", "last active 1 day ago", "last active %v days ago"},
	{"signed_up", "signed up", "signed up"},
}

// LeadOptions tune lead scoring.
type LeadOptions struct {
	AsOf    time.Time     // the scoring time; default the latest activity
	Window  time.Duration // behaviour window before a cut-off; default 30 days
	Horizon time.Duration // conversion window after a cut-off; default 30 days
	Lambda  float64       // L2 penalty; default 1
}

// Lead is one person's score with its top reasons.
type Lead struct {
	CustomerID int64    `json:"customer_id"`
	Name       string   `json:"name,omitempty"`
	Email      string   `json:"email,omitempty"`
	Score      float64  `json:"score"` // calibrated probability of a first order within the horizon
	Reasons    []string `json:"reasons"`
	LastActive string   `json:"last_active"`
	ActiveDays int      `json:"active_days"`
}

// Reliability is one bin of a reliability (calibration) table.
type Reliability struct {
	From, To  float64 `json:"-"`
	Bin       string  `json:"bin"`
	People    int     `json:"people"`
	Predicted float64 `json:"mean_predicted"`
	Observed  float64 `json:"observed_rate"`
}

// LeadValidation is how the model did on the later cut-off.
type LeadValidation struct {
	TrainCutoff    string             `json:"train_cutoff"`
	TestCutoff     string             `json:"test_cutoff"`
	TrainPeople    int                `json:"train_people"`
	TrainConverted int                `json:"train_converted"`
	TestPeople     int                `json:"test_people"`
	TestConverted  int                `json:"test_converted"`
	AUC            float64            `json:"auc"`
	BaselineAUC    float64            `json:"baseline_auc"` // recency-frequency logistic regression
	Brier          float64            `json:"brier"`
	BaselineBrier  float64            `json:"baseline_brier"`
	Reliability    []Reliability      `json:"reliability"` // the model, raw, on the test cut-off
	BaselineReliab []Reliability      `json:"baseline_reliability"`
	Weights        map[string]float64 `json:"weights"` // standardised features
}

// LeadReport is the scored leads and the validation behind them.
type LeadReport struct {
	AsOf       string         `json:"as_of"`
	Leads      []Lead         `json:"leads"`
	Validation LeadValidation `json:"validation"`
}

type person struct {
	x         []float64
	converted bool
}

// activityRow is one touchpoint.
type activityRow struct {
	customer int64
	ts       int64
	typ      string
	name     string
}

// ErrTooFewLeads is returned when a cut-off has too few people or conversions to fit on.
var ErrTooFewLeads = errors.New("too few people or conversions to fit a lead score")

// ScoreLeads fits, validates and scores. limit bounds the leads returned (0: all).
func ScoreLeads(ctx context.Context, db *store.DB, o LeadOptions, limit int) (LeadReport, error) {
	var rep LeadReport
	if o.Window <= 0 {
		o.Window = 30 * 24 * time.Hour
	}
	if o.Horizon <= 0 {
		o.Horizon = 30 * 24 * time.Hour
	}
	if o.Lambda <= 0 {
		o.Lambda = 1
	}
	if o.AsOf.IsZero() {
		var last int64
		if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(ts), 0) FROM activity`).Scan(&last); err != nil {
			return rep, fmt.Errorf("read activity: %w", err)
		}
		if last == 0 {
			return rep, fmt.Errorf("no activity yet: %w", ErrTooFewLeads)
		}
		o.AsOf = time.UnixMilli(last + 1).UTC()
	}
	rep.AsOf = o.AsOf.Format(time.RFC3339)
	asOf := o.AsOf.UnixMilli()
	h, w := o.Horizon.Milliseconds(), o.Window.Milliseconds()
	test := asOf - h
	train := test - h
	// Activity and first orders from the start of the training window.
	acts, err := loadActivity(ctx, db, train-w, asOf)
	if err != nil {
		return rep, err
	}
	first, err := firstOrders(ctx, db)
	if err != nil {
		return rep, err
	}
	trainSet, _ := leadSet(acts, first, train, w, h, true)
	testSet, _ := leadSet(acts, first, test, w, h, true)
	v := &rep.Validation
	v.TrainCutoff, v.TestCutoff = msDate(train), msDate(test)
	count := func(ps []person) (n, c int) {
		for _, p := range ps {
			n++
			if p.converted {
				c++
			}
		}
		return
	}
	v.TrainPeople, v.TrainConverted = count(trainSet)
	v.TestPeople, v.TestConverted = count(testSet)
	if v.TrainConverted < 5 || v.TrainPeople-v.TrainConverted < 5 || v.TestConverted < 1 {
		return rep, fmt.Errorf("%w: %d people converted of %d after %s", ErrTooFewLeads, v.TrainConverted, v.TrainPeople, v.TrainCutoff)
	}
	all := allFeatures()
	model, err := fitLogistic(trainSet, all, o.Lambda)
	if err != nil {
		return rep, err
	}
	base, err := fitLogistic(trainSet, []int{5, 6}, o.Lambda) // recency and frequency (active days)
	if err != nil {
		return rep, err
	}
	p, y := model.predictAll(testSet), labels(testSet)
	pb := base.predictAll(testSet)
	v.AUC, v.BaselineAUC = auc(p, y), auc(pb, y)
	v.Brier, v.BaselineBrier = brier(p, y), brier(pb, y)
	v.Reliability, v.BaselineReliab = reliability(p, y), reliability(pb, y)
	v.Weights = map[string]float64{}
	for k, j := range model.cols {
		v.Weights[leadFeatures[j].name] = round4(model.w[k+1])
	}
	// Calibrate on the later cut-off, then refit on it (the latest labelled behaviour)
	// and score everyone who has not bought yet.
	a, b := platt(p, y)
	final, err := fitLogistic(testSet, all, o.Lambda)
	if err != nil {
		return rep, err
	}
	now, ids := leadSet(acts, first, asOf, w, 0, false)
	for i, ps := range now {
		raw := final.predict(ps.x)
		score := sigmoid(a*logit(raw) + b)
		rep.Leads = append(rep.Leads, Lead{CustomerID: ids[i], Score: round4(score), Reasons: final.reasons(ps.x),
			ActiveDays: int(ps.x[5]), LastActive: msDate(asOf - int64(ps.x[6])*86400000)})
	}
	sort.SliceStable(rep.Leads, func(i, j int) bool {
		if rep.Leads[i].Score != rep.Leads[j].Score {
			return rep.Leads[i].Score > rep.Leads[j].Score
		}
		return rep.Leads[i].CustomerID < rep.Leads[j].CustomerID
	})
	// Opted-out people are not scored (checked for the ones returned only).
	rules, err := LoadRules(ctx, db)
	if err != nil {
		return rep, err
	}
	kept := rep.Leads[:0]
	for _, l := range rep.Leads {
		if limit > 0 && len(kept) == limit {
			break
		}
		var traits string
		if err := db.QueryRow(ctx, `SELECT name, email, traits FROM customers WHERE id = ?`, l.CustomerID).Scan(&l.Name, &l.Email, &traits); err != nil {
			continue // merged or erased since
		}
		if !Personalised(traits, rules.DefaultConsent) {
			continue
		}
		kept = append(kept, l)
	}
	rep.Leads = kept
	return rep, nil
}

func allFeatures() []int {
	out := make([]int, len(leadFeatures))
	for i := range out {
		out[i] = i
	}
	return out
}

func msDate(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

func loadActivity(ctx context.Context, db *store.DB, from, to int64) ([]activityRow, error) {
	rows, err := db.Query(ctx, `SELECT customer_id, ts, type, name FROM activity WHERE ts >= ? AND ts < ? ORDER BY customer_id, ts`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read activity: %w", err)
	}
	defer rows.Close()
	var out []activityRow
	for rows.Next() {
		var a activityRow
		if err := rows.Scan(&a.customer, &a.ts, &a.typ, &a.name); err != nil {
			return nil, fmt.Errorf("read activity: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func firstOrders(ctx context.Context, db *store.DB) (map[int64]int64, error) {
	rows, err := db.Query(ctx, `SELECT customer_id, MIN(ts) FROM orders GROUP BY customer_id`)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var c, ts int64
		if err := rows.Scan(&c, &ts); err != nil {
			return nil, err
		}
		out[c] = ts
	}
	return out, rows.Err()
}

// leadSet builds the features of everyone active in [cut-w, cut) with no order before
// cut; with labelled, converted says whether the first order fell in [cut, cut+h).
func leadSet(acts []activityRow, first map[int64]int64, cut, w, h int64, labelled bool) ([]person, []int64) {
	var out []person
	var ids []int64
	for i := 0; i < len(acts); {
		j := i
		for j < len(acts) && acts[j].customer == acts[i].customer {
			j++
		}
		c := acts[i].customer
		fo, bought := first[c]
		if bought && fo < cut {
			i = j
			continue
		}
		x := make([]float64, len(leadFeatures))
		days := map[int64]bool{}
		last := int64(-1)
		for _, a := range acts[i:j] {
			if a.ts < cut-w || a.ts >= cut {
				continue
			}
			switch {
			case a.typ == "page" || a.typ == "screen":
				x[0]++
			case a.name == "Product Viewed":
				x[1]++
			case a.name == "Product Added":
				x[2]++
			case a.name == "Email Opened":
				x[3]++
			case a.name == "Email Link Clicked":
				x[4]++
			case a.name == "Signed Up":
				x[7] = 1
			}
			days[a.ts/86400000] = true
			last = max(last, a.ts)
		}
		i = j
		if last < 0 {
			continue
		}
		x[5] = float64(len(days))
		x[6] = math.Floor(float64(cut-last) / 86400000)
		p := person{x: x}
		if labelled {
			p.converted = bought && fo >= cut && fo < cut+h
		}
		out = append(out, p)
		ids = append(ids, c)
	}
	return out, ids
}

func labels(ps []person) []bool {
	out := make([]bool, len(ps))
	for i, p := range ps {
		out[i] = p.converted
	}
	return out
}

// logistic is a fitted model over some feature columns, on log1p-transformed and
// standardised features.
type logistic struct {
	cols      []int
	mean, std []float64
	w         []float64 // intercept first
}

func transform(v float64) float64 { return math.Log1p(math.Max(v, 0)) }

func (m *logistic) z(x []float64) []float64 {
	out := make([]float64, len(m.cols))
	for k, j := range m.cols {
		out[k] = (transform(x[j]) - m.mean[k]) / m.std[k]
	}
	return out
}

func (m *logistic) predict(x []float64) float64 {
	s := m.w[0]
	for k, v := range m.z(x) {
		s += m.w[k+1] * v
	}
	return sigmoid(s)
}

func (m *logistic) predictAll(ps []person) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = m.predict(p.x)
	}
	return out
}

// reasons words the two features that raise this person's score most.
func (m *logistic) reasons(x []float64) []string {
	type c struct {
		k int
		v float64
	}
	var cs []c
	for k, v := range m.z(x) {
		if contrib := m.w[k+1] * v; contrib > 0 {
			cs = append(cs, c{k, contrib})
		}
	}
	sort.Slice(cs, func(a, b int) bool { return cs[a].v > cs[b].v })
	var out []string
	for _, e := range cs {
		if len(out) == 2 {
			break
		}
		j := m.cols[e.k]
		f := leadFeatures[j]
		switch {
		case j == 6 && x[j] == 0:
			out = append(out, "active on the last day")
		case x[j] == 0:
		case x[j] == 1 || j == 7:
			out = append(out, f.one)
		default:
			out = append(out, fmt.Sprintf(f.many, strconv.FormatFloat(x[j], 'f', -1, 64)))
		}
	}
	if len(out) == 0 {
		out = []string{"nothing stands out"}
	}
	return out
}

func sigmoid(s float64) float64 { return 1 / (1 + math.Exp(-s)) }

func logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-9), 1-1e-9)
	return math.Log(p / (1 - p))
}

// fitLogistic minimises the mean log loss plus lambda/n·|w|² (intercept not penalised).
func fitLogistic(ps []person, cols []int, lambda float64) (*logistic, error) {
	m := &logistic{cols: cols, mean: make([]float64, len(cols)), std: make([]float64, len(cols))}
	n := float64(len(ps))
	for k, j := range cols {
		for _, p := range ps {
			m.mean[k] += transform(p.x[j])
		}
		m.mean[k] /= n
		for _, p := range ps {
			d := transform(p.x[j]) - m.mean[k]
			m.std[k] += d * d
		}
		m.std[k] = math.Sqrt(m.std[k] / n)
		if m.std[k] == 0 {
			m.std[k] = 1
		}
	}
	zs := make([][]float64, len(ps))
	ys := make([]float64, len(ps))
	for i, p := range ps {
		zs[i] = m.z(p.x)
		if p.converted {
			ys[i] = 1
		}
	}
	d := len(cols) + 1
	fg := func(grad, w []float64) float64 {
		loss := 0.0
		if grad != nil {
			clear(grad)
		}
		for i, z := range zs {
			s := w[0]
			for k, v := range z {
				s += w[k+1] * v
			}
			p := sigmoid(s)
			// log(1+e^s) − y·s, stable for large |s|
			if s > 0 {
				loss += s + math.Log1p(math.Exp(-s)) - ys[i]*s
			} else {
				loss += math.Log1p(math.Exp(s)) - ys[i]*s
			}
			if grad != nil {
				g := p - ys[i]
				grad[0] += g
				for k, v := range z {
					grad[k+1] += g * v
				}
			}
		}
		for k := 1; k < d; k++ {
			loss += lambda * w[k] * w[k]
			if grad != nil {
				grad[k] += 2 * lambda * w[k]
			}
		}
		if grad != nil {
			for k := range grad {
				grad[k] /= n
			}
		}
		return loss / n
	}
	prob := optimize.Problem{Func: func(w []float64) float64 { return fg(nil, w) }, Grad: func(g, w []float64) { fg(g, w) }}
	res, err := optimize.Minimize(prob, make([]float64, d), &optimize.Settings{GradientThreshold: 1e-7}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("fit lead score: %w", err)
	}
	m.w = res.X
	return m, nil
}

// platt fits p' = σ(a·logit(p) + b) to the labels (Platt scaling).
func platt(p []float64, y []bool) (a, b float64) {
	fg := func(grad, w []float64) float64 {
		loss := 0.0
		if grad != nil {
			clear(grad)
		}
		for i := range p {
			l := logit(p[i])
			s := w[0]*l + w[1]
			q := sigmoid(s)
			t := 0.0
			if y[i] {
				t = 1
			}
			loss -= t*math.Log(math.Max(q, 1e-12)) + (1-t)*math.Log(math.Max(1-q, 1e-12))
			if grad != nil {
				grad[0] += (q - t) * l
				grad[1] += q - t
			}
		}
		return loss
	}
	prob := optimize.Problem{Func: func(w []float64) float64 { return fg(nil, w) }, Grad: func(g, w []float64) { fg(g, w) }}
	res, err := optimize.Minimize(prob, []float64{1, 0}, nil, &optimize.LBFGS{})
	if res == nil || err != nil && len(res.X) != 2 {
		return 1, 0
	}
	return res.X[0], res.X[1]
}

// auc is the probability that a converter scores above a non-converter (ties count half).
func auc(p []float64, y []bool) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] {
				rankSum += avg
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

func brier(p []float64, y []bool) float64 {
	s := 0.0
	for i := range p {
		t := 0.0
		if y[i] {
			t = 1
		}
		s += (p[i] - t) * (p[i] - t)
	}
	return s / float64(len(p))
}

// reliability bins predictions by decile of predicted probability range.
func reliability(p []float64, y []bool) []Reliability {
	edges := []float64{0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0001}
	out := make([]Reliability, len(edges)-1)
	for i := range out {
		out[i] = Reliability{From: edges[i], To: edges[i+1], Bin: fmt.Sprintf("%.0f–%.0f%%", 100*edges[i], math.Min(100, 100*edges[i+1]))}
	}
	for i := range p {
		for b := range out {
			if p[i] >= out[b].From && p[i] < out[b].To {
				out[b].People++
				out[b].Predicted += p[i]
				if y[i] {
					out[b].Observed++
				}
				break
			}
		}
	}
	kept := out[:0]
	for _, r := range out {
		if r.People == 0 {
			continue
		}
		r.Predicted = round4(r.Predicted / float64(r.People))
		r.Observed = round4(r.Observed / float64(r.People))
		kept = append(kept, r)
	}
	return kept
}

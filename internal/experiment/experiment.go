package experiment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
)

// Unit is what an experiment randomises.
type Unit string

const (
	UnitCustomer  Unit = "customer"  // a known customer (userId)
	UnitAnonymous Unit = "anonymous" // a website visitor (anonymousId)
	UnitRegion    Unit = "region"    // a region or postcode group
	UnitDay       Unit = "day"       // a day (switchback: each day is on or off)
)

// Units lists the units an experiment may randomise.
var Units = []Unit{UnitCustomer, UnitAnonymous, UnitRegion, UnitDay}

// Noun is the unit in plain words, plural.
func (u Unit) Noun() string {
	switch u {
	case UnitCustomer:
		return "customers"
	case UnitAnonymous:
		return "visitors"
	case UnitRegion:
		return "regions"
	case UnitDay:
		return "days"
	case UnitRun:
		return "runs"
	}
	return "units"
}

// Metric kinds.
const (
	MetricConversion = "conversion" // share of units with an order (or Event) after exposure
	MetricRevenue    = "revenue"    // net order revenue per unit, in the business currency
	MetricOrders     = "orders"     // orders per unit
	MetricCount      = "count"      // occurrences of Event per unit
)

// Metric is what an experiment measures per unit.
type Metric struct {
	Kind  string `json:"kind"`
	Event string `json:"event,omitempty"` // conversion (optional: default an order) and count (required)
}

// ParseMetric reads "revenue", "orders", "conversion", "conversion:Signed Up" or
// "count:Product Viewed".
func ParseMetric(s string) (Metric, error) {
	kind, ev, _ := strings.Cut(strings.TrimSpace(s), ":")
	m := Metric{Kind: strings.ToLower(strings.TrimSpace(kind)), Event: strings.TrimSpace(ev)}
	return m, m.check()
}

func (m Metric) check() error {
	switch m.Kind {
	case MetricRevenue, MetricOrders:
		if m.Event != "" {
			return fmt.Errorf("metric %s counts orders and takes no event name", m.Kind)
		}
	case MetricConversion:
	case MetricCount:
		if m.Event == "" {
			return errors.New("metric count needs an event name: count:EVENT")
		}
	default:
		return fmt.Errorf("metric %q: want conversion[:EVENT], revenue, orders or count:EVENT", m.Kind)
	}
	return nil
}

// String is the form ParseMetric reads.
func (m Metric) String() string {
	if m.Event != "" {
		return m.Kind + ":" + m.Event
	}
	return m.Kind
}

// Type is how the metric's values are analysed.
func (m Metric) Type() MetricType {
	if m.Kind == MetricConversion {
		return Proportion
	}
	return Mean
}

// Label names the metric in a verdict: "revenue per visitor", "conversion".
func (m Metric) Label(u Unit) string {
	per := strings.TrimSuffix(u.Noun(), "s")
	switch m.Kind {
	case MetricConversion:
		if m.Event != "" && m.Event != commerce.OrderCompleted {
			return "conversion to " + m.Event
		}
		return "conversion"
	case MetricRevenue:
		return "revenue per " + per
	case MetricOrders:
		return "orders per " + per
	}
	return m.Event + " per " + per
}

// Variant is one arm of an experiment.
type Variant struct {
	Key    string  `json:"key"`            // variation_id in "Experiment Viewed"
	Name   string  `json:"name,omitempty"` // shown to people; default the key
	Weight float64 `json:"weight"`         // share of units, any positive scale
}

// ParseVariants reads "control=50,b=50" (weights optional: "control,b" splits evenly).
func ParseVariants(s string) ([]Variant, error) {
	var out []Variant
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, w, hasW := strings.Cut(part, "=")
		v := Variant{Key: strings.TrimSpace(k), Weight: 1}
		if hasW {
			if _, err := fmt.Sscanf(strings.TrimSpace(w), "%g", &v.Weight); err != nil {
				return nil, fmt.Errorf("variant %q: weight %q is not a number", v.Key, w)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// Statuses.
const (
	StatusDraft   = "draft"
	StatusRunning = "running"
	StatusStopped = "stopped"
)

// Experiment is a stored test.
type Experiment struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"` // the experiment_id websites send
	Hypothesis   string     `json:"hypothesis"`
	Unit         Unit       `json:"unit"`
	Variants     []Variant  `json:"variants"` // the first is control
	Metric       Metric     `json:"metric"`
	Guardrails   []Metric   `json:"guardrails"`
	MDE          float64    `json:"mde"`
	Status       string     `json:"status"`
	Start        *time.Time `json:"start,omitempty"`
	End          *time.Time `json:"end,omitempty"`
	PlannedUnits int64      `json:"planned_units,omitempty"`
	// Channel is the ad channel a region or switchback test moves (its name in the
	// spend table); Design holds the design's details.
	Channel   string    `json:"channel,omitempty"`
	Design    Design    `json:"design"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Design is how an ad-channel test or a journey step's test is laid out.
type Design struct {
	// Regions: each variant's postcode areas or regions (unit region).
	Regions        map[string][]string `json:"regions,omitempty"`
	PostcodePrefix int                 `json:"postcode_prefix,omitempty"`
	// Switchback (unit day with a channel): periods of PeriodDays, in pairs with one on and
	// one off; the first Washout days of each are left out of the analysis.
	PeriodDays int  `json:"period_days,omitempty"`
	Washout    *int `json:"washout,omitempty"`
	// A journey step's test: the journey, the step's id, and test or optimise.
	Journey string `json:"journey,omitempty"`
	Step    string `json:"step,omitempty"`
	Mode    string `json:"mode,omitempty"`
}

// IsAdTest reports whether e measures an ad channel: a region test, or a switchback with
// a channel.
func (e Experiment) IsAdTest() bool {
	return e.Channel != "" && (e.Unit == UnitRegion || e.Unit == UnitDay)
}

// WashoutDays is the switchback's washout (default 1 for periods of 3 days and more).
func (d Design) WashoutDays() int {
	if d.Washout != nil {
		return *d.Washout
	}
	if d.Period() >= 3 {
		return DefaultWashout
	}
	return 0
}

// Period is the switchback's period length in days (default 7).
func (d Design) Period() int {
	if d.PeriodDays > 0 {
		return d.PeriodDays
	}
	return DefaultPeriodDays
}

// ErrNotFound is returned for an unknown experiment.
var ErrNotFound = errors.New("no such experiment")

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate checks an experiment before it is stored and fills in defaults.
func (e *Experiment) Validate() error {
	var errs []string
	if !nameRE.MatchString(e.Name) {
		errs = append(errs, fmt.Sprintf("name %q: use 1–64 lower-case letters, digits, - and _ (it is the experiment_id websites send)", e.Name))
	}
	errs = append(errs, e.unitProblems()...)
	errs = append(errs, e.variantProblems()...)
	errs = append(errs, e.metricProblems()...)
	errs = append(errs, e.regionProblems()...)
	errs = append(errs, e.switchbackProblems()...)
	for _, g := range e.Guardrails {
		if err := g.check(); err != nil {
			errs = append(errs, "guardrail: "+err.Error())
		}
	}
	if e.MDE == 0 {
		e.MDE = DefaultMDE
	}
	if !(e.MDE > 0 && e.MDE < 10) {
		errs = append(errs, fmt.Sprintf("mde %v: the smallest lift worth finding is a fraction such as 0.1 for 10 %%", e.MDE))
	}
	if e.Start != nil && e.End != nil && !e.End.After(*e.Start) {
		errs = append(errs, "the end is not after the start")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// unitProblems fills in the default unit (anonymous) and checks it is one experiments
// randomise; a run is a journey step's test only.
func (e *Experiment) unitProblems() []string {
	if e.Unit == "" {
		e.Unit = UnitAnonymous
	}
	if e.Unit == UnitRun {
		if e.Design.Journey == "" {
			return []string{"unit run: a journey's message tests are made by the journey's document (a test on a message step)"}
		}
		return nil
	}
	for _, u := range Units {
		if u == e.Unit {
			return nil
		}
	}
	return []string{fmt.Sprintf("unit %q: want customer, anonymous, region or day", e.Unit)}
}

// variantProblems checks there are at least two variants with distinct, well-formed keys
// and positive weights, and names each unnamed variant after its key.
func (e *Experiment) variantProblems() []string {
	var errs []string
	if len(e.Variants) < 2 {
		errs = append(errs, "an experiment needs at least two variants (the first is control)")
	}
	seen := map[string]bool{}
	for i := range e.Variants {
		v := &e.Variants[i]
		if !keyRE.MatchString(v.Key) {
			errs = append(errs, fmt.Sprintf("variant %q: use 1–64 letters, digits, '.', '-' and '_'", v.Key))
		}
		if seen[v.Key] {
			errs = append(errs, fmt.Sprintf("variant %q appears twice", v.Key))
		}
		seen[v.Key] = true
		if !(v.Weight > 0) || math.IsInf(v.Weight, 0) {
			errs = append(errs, fmt.Sprintf("variant %q: weight must be positive", v.Key))
		}
		if v.Name == "" {
			v.Name = v.Key
		}
	}
	return errs
}

// metricProblems checks the metric, and that an ad-channel test (a region test, or a day
// test with a channel) measures revenue or orders with two variants.
func (e *Experiment) metricProblems() []string {
	var errs []string
	if err := e.Metric.check(); err != nil {
		errs = append(errs, "metric: "+err.Error())
	}
	if e.Unit == UnitRegion || (e.Unit == UnitDay && e.Channel != "") {
		if e.Metric.Kind != MetricRevenue && e.Metric.Kind != MetricOrders {
			errs = append(errs, "an ad-channel test measures revenue or orders")
		}
		if len(e.Variants) != 2 {
			errs = append(errs, "an ad-channel test has two variants: the channel as usual (control, first) and the change (e.g. off)")
		}
	}
	return errs
}

// regionProblems checks a region test: it names its channel, and each variant has its own
// regions, none shared and none for a key that is not a variant.
func (e *Experiment) regionProblems() []string {
	if e.Unit != UnitRegion {
		return nil
	}
	var errs []string
	if e.Channel == "" {
		errs = append(errs, "a region test needs the ad channel it moves (--channel, the name in the spend table)")
	}
	variantOf := map[string]string{} // region → the variant it was given to
	for _, v := range e.Variants {
		rs := e.Design.Regions[v.Key]
		if len(rs) == 0 && e.Design.Regions != nil {
			errs = append(errs, fmt.Sprintf("variant %q has no regions", v.Key))
		}
		for _, r := range rs {
			if prev, dup := variantOf[r]; dup {
				errs = append(errs, fmt.Sprintf("region %q is in %s and %s", r, prev, v.Key))
			}
			variantOf[r] = v.Key
		}
	}
	for k := range e.Design.Regions {
		if !slices.ContainsFunc(e.Variants, func(v Variant) bool { return v.Key == k }) {
			errs = append(errs, fmt.Sprintf("regions for %q, which is not a variant", k))
		}
	}
	return errs
}

// switchbackProblems checks a switchback's period and washout, and that a day-level test
// measures daily totals.
func (e *Experiment) switchbackProblems() []string {
	var errs []string
	if e.Design.PeriodDays < 0 || e.Design.PeriodDays > 28 {
		errs = append(errs, "period_days: a switchback period is 1 to 28 days")
	}
	if w := e.Design.Washout; w != nil && (*w < 0 || *w >= e.Design.Period()) {
		errs = append(errs, "washout: fewer days than a period")
	}
	if e.Unit == UnitDay && e.Metric.Kind == MetricConversion {
		errs = append(errs, "a day-level (switchback) experiment measures daily totals: use revenue, orders or count:EVENT")
	}
	return errs
}

// Weights are the variants' weights in order.
func (e Experiment) Weights() []float64 {
	w := make([]float64, len(e.Variants))
	for i, v := range e.Variants {
		w[i] = v.Weight
	}
	return w
}

// Active reports whether the experiment assigns units at t.
func (e Experiment) Active(t time.Time) bool {
	return e.Status == StatusRunning && (e.End == nil || t.Before(*e.End))
}

const expCols = `id, name, hypothesis, unit, variants, metric, guardrails, mde, status, start_at, end_at, planned_units, channel, design, created_at, updated_at`

func scanExperiment(sc interface{ Scan(...any) error }) (Experiment, error) {
	var e Experiment
	var variants, metric, guards, design string
	var start, end, created, updated int64
	if err := sc.Scan(&e.ID, &e.Name, &e.Hypothesis, &e.Unit, &variants, &metric, &guards, &e.MDE, &e.Status, &start, &end, &e.PlannedUnits, &e.Channel, &design, &created, &updated); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(design), &e.Design); err != nil {
		return e, fmt.Errorf("experiment %s design: %w", e.Name, err)
	}
	if err := json.Unmarshal([]byte(variants), &e.Variants); err != nil {
		return e, fmt.Errorf("experiment %s variants: %w", e.Name, err)
	}
	if err := json.Unmarshal([]byte(metric), &e.Metric); err != nil {
		return e, fmt.Errorf("experiment %s metric: %w", e.Name, err)
	}
	if err := json.Unmarshal([]byte(guards), &e.Guardrails); err != nil {
		return e, fmt.Errorf("experiment %s guardrails: %w", e.Name, err)
	}
	if e.Guardrails == nil {
		e.Guardrails = []Metric{}
	}
	if start > 0 {
		t := time.UnixMilli(start).UTC()
		e.Start = &t
	}
	if end > 0 {
		t := time.UnixMilli(end).UTC()
		e.End = &t
	}
	e.CreatedAt = time.UnixMilli(created).UTC()
	e.UpdatedAt = time.UnixMilli(updated).UTC()
	return e, nil
}

func millis(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

// Create stores a new draft experiment and records who made it.
func Create(ctx context.Context, db *store.DB, actor string, e Experiment) (Experiment, error) {
	if err := e.Validate(); err != nil {
		return Experiment{}, err
	}
	if err := proposeRegions(ctx, db, &e, time.Now()); err != nil {
		return Experiment{}, err
	}
	if err := e.Validate(); err != nil {
		return Experiment{}, err
	}
	if e.Guardrails == nil {
		e.Guardrails = []Metric{}
	}
	vj, _ := json.Marshal(e.Variants)
	mj, _ := json.Marshal(e.Metric)
	gj, _ := json.Marshal(e.Guardrails)
	dj, _ := json.Marshal(e.Design)
	now := time.Now().UTC()
	e.Status, e.CreatedAt, e.UpdatedAt = StatusDraft, now, now
	err := db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM experiments WHERE name = ?`, e.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("an experiment named %q exists already", e.Name)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO experiments (name, hypothesis, unit, variants, metric, guardrails, mde, status, start_at, end_at, channel, design, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
			e.Name, e.Hypothesis, string(e.Unit), string(vj), string(mj), string(gj), e.MDE, e.Status, millis(e.Start), millis(e.End),
			e.Channel, string(dj), now.UnixMilli(), now.UnixMilli()).Scan(&e.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "experiment.create", Target: fmt.Sprintf("experiment:%d", e.ID),
			Detail: map[string]any{"name": e.Name, "unit": string(e.Unit), "variants": len(e.Variants), "metric": e.Metric.String(), "channel": e.Channel}})
	})
	if err != nil {
		return Experiment{}, fmt.Errorf("create experiment: %w", err)
	}
	return Get(ctx, db, e.Name)
}

// Get reads one experiment by name.
func Get(ctx context.Context, db *store.DB, name string) (Experiment, error) {
	e, err := scanExperiment(db.QueryRow(ctx, `SELECT `+expCols+` FROM experiments WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return e, fmt.Errorf("read experiment: %w", err)
	}
	return e, nil
}

// List returns every experiment, newest first.
func List(ctx context.Context, db *store.DB) ([]Experiment, error) {
	return list(ctx, db, `SELECT `+expCols+` FROM experiments ORDER BY id DESC`)
}

// Running returns the experiments whose status is running (an end in the past still
// counts here; Active tells whether one assigns now).
func Running(ctx context.Context, db *store.DB) ([]Experiment, error) {
	return list(ctx, db, `SELECT `+expCols+` FROM experiments WHERE status = 'running' ORDER BY id`)
}

func list(ctx context.Context, db *store.DB, q string) ([]Experiment, error) {
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	defer rows.Close()
	out := []Experiment{}
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, fmt.Errorf("list experiments: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Start moves a draft to running from now (the start it was given, when later) and
// records the total units the sequential analysis is tuned to (plannedUnits, 0 for the
// default).
func Start(ctx context.Context, db *store.DB, actor, name string, now time.Time, plannedUnits int64) (Experiment, error) {
	return transition(ctx, db, actor, name, "experiment.start", func(e *Experiment) error {
		if e.Status != StatusDraft {
			return fmt.Errorf("experiment %q is %s: only a draft can start (a stopped test is not restarted: create a new one, so each analysis has one period)", e.Name, e.Status)
		}
		if e.End != nil && !e.End.After(now) {
			return fmt.Errorf("experiment %q ended at %s, before it could start", e.Name, e.End.Format(time.DateTime))
		}
		if e.Start == nil || e.Start.Before(now) {
			t := now.UTC()
			e.Start = &t
		}
		e.Status = StatusRunning
		e.PlannedUnits = plannedUnits
		return nil
	})
}

// Stop ends a running experiment now (or at its planned end, when that has passed).
func Stop(ctx context.Context, db *store.DB, actor, name string, now time.Time) (Experiment, error) {
	return transition(ctx, db, actor, name, "experiment.stop", func(e *Experiment) error {
		if e.IsJourneyTest() {
			return fmt.Errorf("experiment %q is a test inside journey %s: take the test out of the journey's document (or disable the journey) to stop it", e.Name, e.Design.Journey)
		}
		if e.Status != StatusRunning {
			return fmt.Errorf("experiment %q is %s: only a running experiment can stop", e.Name, e.Status)
		}
		if e.End == nil || e.End.After(now) {
			t := now.UTC()
			e.End = &t
		}
		e.Status = StatusStopped
		return nil
	})
}

func transition(ctx context.Context, db *store.DB, actor, name, action string, change func(*Experiment) error) (Experiment, error) {
	var out Experiment
	err := db.Write(ctx, func(tx *store.Tx) error {
		e, err := scanExperiment(tx.QueryRow(ctx, `SELECT `+expCols+` FROM experiments WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		if err := change(&e); err != nil {
			return err
		}
		e.UpdatedAt = time.Now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE experiments SET status = ?, start_at = ?, end_at = ?, planned_units = ?, updated_at = ? WHERE id = ?`,
			e.Status, millis(e.Start), millis(e.End), e.PlannedUnits, e.UpdatedAt.UnixMilli(), e.ID); err != nil {
			return err
		}
		out = e
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, Target: fmt.Sprintf("experiment:%d", e.ID),
			Detail: map[string]any{"name": e.Name, "status": e.Status}})
	})
	if err != nil {
		return Experiment{}, err
	}
	return out, nil
}

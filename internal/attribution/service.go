package attribution

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Service is where attribution's numbers come from: the CLI (attribute, roi), the JSON
// API and the dashboard (Overview, Attribution, Paths) all call it and only format what
// it returns. One call builds a period's paths once (and the previous period's in the
// same read), runs the requested models on them and joins the spend of the business
// currency. Reports are kept per query and data version, so the API and the dashboard
// share them and concurrent identical calls wait for one computation.
type Service struct {
	db *store.DB

	mu    sync.Mutex
	cache map[string]*serviceEntry
}

// NewService returns the service of db.
func NewService(db *store.DB) *Service {
	return &Service{db: db, cache: map[string]*serviceEntry{}}
}

// Query says what to compute.
type Query struct {
	// From and To bound the period [From, To): conversions in it, non-converting paths
	// whose last touch is in it. Zero From is "all time" (from the first touch or order);
	// zero To is "up to the latest data".
	From, To time.Time
	Paths    PathOptions // lookback, session timeout, conversion events, milestones (From, To and OnPath are ignored)
	// Models to run, in any order ("all" or none: every model). A model that cannot run
	// on the data (time_decay without touch times, shapley_cr over too many channels, any
	// model without conversions) is skipped with the reason when several were asked, and
	// is an error when it was the only one.
	Models []string
	Config Config
	// Previous also computes the period of the same length before From (bounded periods).
	Previous bool
	// PathStats groups the period's paths by channel sequence; Funnel counts its customers
	// per funnel stage.
	PathStats, Funnel bool
}

// Report is a period's analysis and, when asked, the previous period's.
type Report struct {
	Current  *Period
	Previous *Period // nil unless asked for (and the period is bounded)
	Currency string
	Computed time.Time
	Version  string // the data version it was computed from
}

// Period is the attribution of one date range.
type Period struct {
	From, To time.Time
	Currency string
	Summary  Summary
	Results  []Result // models that ran, in ModelNames order
	Skipped  []string // models that did not, with why
	Paths    []PathStat
	Funnel   []StageCount

	skipped    map[string]string
	stats      *periodStats
	spend      []spendRow
	spendNotes []string
}

// Result returns the result of a model that ran, nil otherwise.
func (p *Period) Result(model string) *Result {
	for i := range p.Results {
		if p.Results[i].Model == model {
			return &p.Results[i]
		}
	}
	return nil
}

func (p *Period) skipReason(model string) string { return p.skipped[model] }

// Spend returns the period's spend per channel in the business currency (minor units).
func (p *Period) Spend() map[string]int64 {
	out := map[string]int64{}
	for _, s := range p.spend {
		out[s.key.channel] = money.SatAdd(out[s.key.channel], s.amount)
	}
	return out
}

// NewCustomers is the number of customers whose first conversion ever fell in the period.
func (p *Period) NewCustomers() int64 { return p.stats.newCustomers }

// ErrBadQuery marks an error in the query itself (an unknown model, an empty range,
// a parameter that does not parse): errors.Is(err, ErrBadQuery), and the API answers 400.
var ErrBadQuery = errors.New("bad query")

// queryError is an ErrBadQuery that reads as its message alone.
type queryError struct{ msg string }

func (e *queryError) Error() string        { return e.msg }
func (e *queryError) Is(target error) bool { return target == ErrBadQuery }

func badQuery(format string, args ...any) error {
	return &queryError{fmt.Sprintf(format, args...)}
}

// models resolves the model names of a query, in ModelNames order.
func (q *Query) models() ([]Model, error) {
	names := q.Models
	if len(names) == 0 || slices.Contains(names, "all") {
		names = ModelNames
	}
	var out []Model
	for _, n := range ModelNames {
		if !slices.Contains(names, n) {
			continue
		}
		m, err := New(n, q.Config)
		if err != nil {
			return nil, badQuery("%v", err)
		}
		out = append(out, m)
	}
	for _, n := range names {
		if !slices.Contains(ModelNames, n) {
			_, err := New(n, q.Config)
			return nil, badQuery("%v", err)
		}
	}
	return out, nil
}

// key identifies a query in the cache.
func (q *Query) key() string {
	o := q.Paths
	ms := slices.Clone(q.Models)
	slices.Sort(ms)
	return fmt.Sprintf("%d|%d|%d|%d|%q|%q|%q|%q|%q|%q|%v|%d|%v|%v|%v|%v|%v",
		q.From.UnixMilli(), q.To.UnixMilli(), o.Lookback, o.SessionTimeout, o.ConversionEvents, o.ValueProperty,
		o.LeadEvents, o.OpportunityEvents, o.IgnoreEvents, ms, q.Config.HalfLife, q.Config.Order, q.Config.CustomWeights,
		q.Config.IgnoreNulls, q.Previous, q.PathStats, q.Funnel)
}

// Version identifies the state of everything a report reads: the processor's cursor (it
// writes the derived tables, the paths table among them, and its cursor in one
// transaction), the spend table (imports add no event), the exchange rates and the
// business currency.
func (s *Service) Version(ctx context.Context) (string, error) {
	cursor, _, err := s.db.Setting(ctx, identity.CursorSetting)
	if err != nil {
		return "", fmt.Errorf("attribution: %w", err)
	}
	var n, sum int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), `+s.db.SumMinor("amount_minor")+` FROM spend`).Scan(&n, &sum); err != nil {
		return "", fmt.Errorf("attribution: spend version: %w", err)
	}
	// Exchange rates convert spend: a rates import changes the report. (A rate replaced by
	// another of the same length on the same day is not seen until the next event.)
	var rates, rateLen int64
	var lastRate string
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(day), ''), COALESCE(SUM(LENGTH(rate)), 0) FROM fx_rates`).Scan(&rates, &lastRate, &rateLen); err != nil {
		return "", fmt.Errorf("attribution: exchange rates version: %w", err)
	}
	cur, err := workspace.Currency(ctx, s.db)
	if err != nil {
		return "", fmt.Errorf("attribution: %w", err)
	}
	return fmt.Sprintf("%s/%d/%d/%d-%s-%d/%s", cursor, n, sum, rates, lastRate, rateLen, cur), nil
}

// serviceCacheSize bounds the reports kept; dashboards ask a handful of distinct queries.
const serviceCacheSize = 64

type serviceEntry struct {
	done  chan struct{}
	rep   *Report
	err   error
	added time.Time
}

// Analyze returns the report of q at the data's current version, computing it once per
// version however many callers ask at the same time.
func (s *Service) Analyze(ctx context.Context, q Query) (*Report, error) {
	rep, _, err := s.Lookup(ctx, q)
	return rep, err
}

// Lookup is Analyze, also saying whether the report was computed before this call.
func (s *Service) Lookup(ctx context.Context, q Query) (*Report, bool, error) {
	if _, err := q.models(); err != nil {
		return nil, false, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, false, badQuery("from %s is not before to %s", q.From.Format(time.DateOnly), q.To.Format(time.DateOnly))
	}
	ver, err := s.Version(ctx)
	if err != nil {
		return nil, false, err
	}
	key := q.key() + "#" + ver
	s.mu.Lock()
	e, hit := s.cache[key]
	if !hit {
		s.evictLocked()
		e = &serviceEntry{done: make(chan struct{}), added: time.Now()}
		s.cache[key] = e
	}
	s.mu.Unlock()
	if !hit {
		// Computed detached from this caller, so a client hanging up does not fail the
		// others waiting for it.
		go func() {
			defer close(e.done)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			defer cancel()
			func() {
				defer func() {
					if p := recover(); p != nil { // waiters must not hang on a panic
						e.err = fmt.Errorf("attribution: internal error: %v", p)
					}
				}()
				e.rep, e.err = s.compute(cctx, q, ver)
			}()
			if e.err != nil {
				s.mu.Lock()
				delete(s.cache, key)
				s.mu.Unlock()
			}
		}()
	}
	select {
	case <-e.done:
		return e.rep, hit, e.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (s *Service) evictLocked() {
	for len(s.cache) >= serviceCacheSize {
		var oldest string
		var t time.Time
		for k, e := range s.cache {
			select {
			case <-e.done:
			default:
				continue // being computed
			}
			if oldest == "" || e.added.Before(t) {
				oldest, t = k, e.added
			}
		}
		if oldest == "" {
			return
		}
		delete(s.cache, oldest)
	}
}

// compute builds the report: one read of the paths table for the period and the one
// before, the models on each, the spend of each.
func (s *Service) compute(ctx context.Context, q Query, ver string) (*Report, error) {
	models, err := q.models()
	if err != nil {
		return nil, err
	}
	cur, err := workspace.Currency(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("attribution: %w", err)
	}
	rep := &Report{Currency: cur, Version: ver}
	from, to := q.From, q.To
	spans := []span{{from: from, to: to}}
	periods := []*Period{{From: from, To: to, Currency: cur, stats: newPeriodStats(), skipped: map[string]string{}}}
	if q.Previous && !from.IsZero() && !to.IsZero() {
		pf, pt := PreviousFrom(from, to), from
		spans = append(spans, span{from: pf, to: pt})
		periods = append(periods, &Period{From: pf, To: pt, Currency: cur, stats: newPeriodStats(), skipped: map[string]string{}})
	}
	for i := range spans {
		spans[i].onPath = periods[i].stats.add
	}
	if q.Funnel {
		spans[0].funnel = &periods[0].Funnel
	}
	built, err := buildPaths(ctx, s.db, q.Paths, spans)
	if err != nil {
		return nil, fmt.Errorf("attribution: %w", err)
	}
	for i, p := range periods {
		p.Summary = built[i].sum
		set := built[i].set
		if err := p.run(set, models); err != nil {
			return nil, fmt.Errorf("attribution: %w", err)
		}
		if q.PathStats && i == 0 {
			p.Paths = PathStats(set)
		}
		sf, st := spendDays(p.From, p.To)
		if p.spend, p.spendNotes, err = readSpend(ctx, s.db, sf, st, cur); err != nil {
			return nil, fmt.Errorf("attribution: %w", err)
		}
	}
	rep.Current = periods[0]
	if len(periods) > 1 {
		rep.Previous = periods[1]
	}
	rep.Computed = time.Now()
	return rep, nil
}

// run runs the models on a period's set.
func (p *Period) run(set *Set, models []Model) error {
	if set.Len() == 0 || p.Summary.Conversions == 0 {
		// Nothing to credit (and markov has no absorbing state).
		why := "no conversions in range: nothing to attribute"
		if set.Len() == 0 {
			why = "no paths in range: nothing to attribute"
		}
		// Not a model's failure: ROI shows such a period with zero credit.
		p.Results = []Result{}
		p.Skipped = append(p.Skipped, why)
		return nil
	}
	res, skipped, err := RunModels(set, models)
	if err != nil {
		return err
	}
	p.Results = res
	for _, sk := range skipped {
		p.skipped[sk.Model] = sk.Why
		p.Skipped = append(p.Skipped, sk.String())
	}
	return nil
}

// Skip is a model that cannot run on a set, and why.
type Skip struct{ Model, Why string }

func (s Skip) String() string { return s.Model + " skipped: " + s.Why }

// RunModels runs models on a set. A model that cannot run on it (time_decay without touch
// times, shapley_cr over more channels than it supports) is skipped with the reason when
// several were asked, and is an error (wrapping ErrBadQuery) when it is the only one.
func RunModels(set *Set, models []Model) ([]Result, []Skip, error) {
	var run []Model
	var skipped []Skip
	for _, m := range models {
		why := ""
		switch {
		case m.Name() == "time_decay" && set.Age == nil:
			why = ErrNeedsTimes.Error()
		case m.Name() == "shapley_cr" && len(set.Channels) > maxSetChannels:
			why = fmt.Sprintf("%d channels, at most %d supported", len(set.Channels), maxSetChannels)
		}
		switch {
		case why == "":
			run = append(run, m)
		case len(models) == 1:
			return nil, nil, badQuery("%s: %s", m.Name(), why)
		default:
			skipped = append(skipped, Skip{m.Name(), why})
		}
	}
	res, err := AttributeAll(set, run)
	if err != nil {
		return nil, skipped, err
	}
	if res == nil {
		res = []Result{}
	}
	return res, skipped, nil
}

// SelectModels returns the named models in ModelNames order ("all", or no name: every
// model). An unknown name wraps ErrBadQuery.
func SelectModels(names []string, cfg Config) ([]Model, error) {
	q := Query{Models: names, Config: cfg}
	return q.models()
}

// ROI is the ROI report of a model over rep's period and the previous one.
func (rep *Report) ROI(model string) (ROIReport, error) {
	if model == "" {
		model = DefaultROIModel
	}
	out := ROIReport{Model: model, Convention: conventions[model]}
	var err error
	if out.Current, err = rep.Current.ROI(model); err != nil {
		return out, err
	}
	if rep.Previous != nil {
		if out.Previous, err = rep.Previous.ROI(model); err != nil {
			return out, err
		}
	}
	return out, nil
}

// PreviousFrom is the start of the period of the same length before [from, to): as
// many calendar days before (in from's zone, whatever daylight saving does) when both
// ends are midnights, else the same duration.
func PreviousFrom(from, to time.Time) time.Time {
	midnight := func(t time.Time) bool {
		return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
	}
	if midnight(from) && midnight(to.In(from.Location())) {
		return from.AddDate(0, 0, -int(math.Round(to.Sub(from).Hours()/24)))
	}
	return from.Add(-to.Sub(from))
}

// ROIQuery is `omniroi roi` and GET /api/v1/roi: one model, a period (default: the 30
// days up to the latest order) and the one before it.
type ROIQuery struct {
	From, To time.Time
	Model    string // default last_touch; "all" is not allowed here
	Config   Config
	Paths    PathOptions
}

// ROI computes the ROI report of one model for a period and the period before it.
func (s *Service) ROI(ctx context.Context, q ROIQuery) (ROIReport, error) {
	if q.Model == "" {
		q.Model = DefaultROIModel
	}
	if q.Model == "all" {
		return ROIReport{}, badQuery("roi needs one model, not all")
	}
	if _, err := New(q.Model, q.Config); err != nil {
		return ROIReport{}, badQuery("%v", err)
	}
	if q.From.IsZero() || q.To.IsZero() {
		f, t, err := DefaultROIRange(ctx, s.db)
		if err != nil {
			return ROIReport{}, err
		}
		switch {
		case q.From.IsZero() && q.To.IsZero():
			q.From, q.To = f, t
		case q.From.IsZero():
			q.From = q.To.AddDate(0, 0, -30)
		default:
			q.To = q.From.AddDate(0, 0, 30)
		}
	}
	if !q.From.Before(q.To) {
		return ROIReport{}, badQuery("from %s is not before to %s", q.From.Format(time.DateOnly), q.To.Format(time.DateOnly))
	}
	rep, err := s.Analyze(ctx, Query{From: q.From, To: q.To, Paths: q.Paths, Models: []string{q.Model}, Config: q.Config, Previous: true})
	if err != nil {
		return ROIReport{}, err
	}
	return rep.ROI(q.Model)
}

// SplitList reads a comma-separated list, trimming blanks.
func SplitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

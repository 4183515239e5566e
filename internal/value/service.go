package value

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// The snapshot's settings: what `omniroi clv`, `segments` and `cohorts` default to. One
// fit serves every surface, so they are not per request.
const (
	HorizonMonths = 12                  // months of predicted value
	Discount      = 0.01                // monthly discount rate of CLV
	SegmentPeriod = 90 * 24 * time.Hour // segments: movement since 90 days before the as-of day
)

// Service is the customer-value snapshot of a store: the one place the CLI's store
// reports, the /api/v1 value routes and the dashboard's Segments, Customers and Overview
// pages get fits, churn bands, segments, cohorts and acquisition economics from. The
// snapshot is built once per data version (StoreState: the orders, refunds, currency and
// time zone) and shared; it is safe for concurrent use.
type Service struct {
	db       *store.DB
	Unit     Unit
	Lookback time.Duration

	mu     sync.Mutex // guards snap and cursor
	snap   *Snapshot
	cursor string     // the processor cursor snap is known to be current at
	build  sync.Mutex // one build at a time; waiting callers reuse its result
	builds atomic.Int64

	ecoMu sync.Mutex
	eco   map[string]StoreEconomics // by snapshot, spend and options; reset with the snapshot
	ecoOf *Snapshot
}

// Snapshot is everything derived from one StoreState. Read it, never change it: every
// caller shares it.
type Snapshot struct {
	State        StoreState
	Data         StoreData
	Currency     string
	AsOf         time.Time // the last order's day (a date, UTC midnight)
	Acquisitions []Acquisition
	Channels     map[string]string // customer → acquisition channel
	Summaries    []CustomerSummary
	Models       Models
	// NoRepeats: the models could not be fitted (no repeat purchases, or FitErr), so
	// there are no predictions or churn bands; segments and cohorts are still there.
	NoRepeats   bool
	FitErr      string
	Predictions []Prediction // best CLV first
	Bands       []BandSummary
	Segments    SegmentReport
	Cohorts     CohortReport
	BuiltAt     time.Time
	BuildTime   time.Duration
	Build       int64 // how many snapshots the service built, this one included

	predIndex map[string]int
	rfmIndex  map[string]int
}

// Prediction is the customer's prediction and rank (0 is the highest CLV).
func (sn *Snapshot) Prediction(id string) (Prediction, int, bool) {
	i, ok := sn.predIndex[id]
	if !ok {
		return Prediction{}, 0, false
	}
	return sn.Predictions[i], i, true
}

// Reindex builds the lookups of Prediction and RFM from Predictions and Segments: Build
// does it, and whoever decodes a stored snapshot must.
func (sn *Snapshot) Reindex() {
	sn.predIndex = make(map[string]int, len(sn.Predictions))
	for i, p := range sn.Predictions {
		sn.predIndex[p.ID] = i
	}
	sn.rfmIndex = make(map[string]int, len(sn.Segments.Scores))
	for i, r := range sn.Segments.Scores {
		sn.rfmIndex[r.ID] = i
	}
}

// RFM is the customer's RFM score and segment.
func (sn *Snapshot) RFM(id string) (RFMScore, bool) {
	i, ok := sn.rfmIndex[id]
	if !ok {
		return RFMScore{}, false
	}
	return sn.Segments.Scores[i], true
}

// NewService makes a Service for db with weekly models and the default lookback.
func NewService(db *store.DB) *Service {
	return &Service{db: db, Unit: Week, Lookback: DefaultLookback}
}

// Builds is how many snapshots s has built.
func (s *Service) Builds() int64 { return s.builds.Load() }

// Snapshot returns the snapshot of the current store state, building it when the
// orders, refunds or business settings changed since the last one. ErrNoOrders: nothing
// to model yet.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	// The processor writes the derived tables and its cursor in one transaction, so
	// an unchanged cursor means unchanged orders: one key lookup instead of the
	// two table scans of ReadStoreState (60 ms at 10^5 orders on SQLite).
	cursor, _, err := s.db.Setting(ctx, identity.CursorSetting)
	if err != nil {
		return nil, err
	}
	cur, err := workspace.Currency(ctx, s.db)
	if err != nil {
		return nil, err
	}
	// The business currency and time zone change without events: part of the key.
	// Without a cursor (orders written by other means, as in tests) only the state says.
	known := cursor != ""
	cursor += "|" + cur + "|" + storeLocation(ctx, s.db).String()
	s.mu.Lock()
	sn := s.snap
	hit := known && sn != nil && s.cursor == cursor
	s.mu.Unlock()
	if hit {
		return sn, nil
	}
	st, err := ReadStoreState(ctx, s.db)
	if err != nil {
		return nil, err
	}
	if sn != nil && sn.State == st {
		s.mu.Lock()
		if s.snap == sn {
			s.cursor = cursor // other events only (page views ...)
		}
		s.mu.Unlock()
		return sn, nil
	}
	s.build.Lock()
	defer s.build.Unlock()
	s.mu.Lock()
	last := s.snap
	s.mu.Unlock()
	if last != nil && last.State == st {
		return last, nil
	}
	// A caller that goes away must not waste a build others are waiting for.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	sn, err = s.buildSnapshot(bctx, st)
	if err != nil {
		return nil, err
	}
	sn.Build = s.builds.Add(1)
	s.mu.Lock()
	s.snap, s.cursor = sn, cursor
	s.mu.Unlock()
	return sn, nil
}

// ErrNoOrders is returned when the store has no orders to model.
var ErrNoOrders = errors.New("no orders in the store yet")

func (s *Service) buildSnapshot(ctx context.Context, st StoreState) (*Snapshot, error) {
	t0 := time.Now()
	d, err := LoadSummaryData(ctx, s.db)
	if err != nil {
		return nil, err
	}
	return s.snapshotOf(ctx, st, d, t0)
}

// snapshotOf fits and scores the transactions of d, read since t0.
func (s *Service) snapshotOf(ctx context.Context, st StoreState, d StoreData, t0 time.Time) (*Snapshot, error) {
	if len(d.Transactions) == 0 {
		return nil, ErrNoOrders
	}
	acq, err := Acquisitions(ctx, s.db, s.Lookback)
	if err != nil {
		return nil, fmt.Errorf("acquisition channels: %w", err)
	}
	sn := &Snapshot{State: st, Data: d, Currency: d.Currency, AsOf: lastDay(d.Transactions), Acquisitions: acq, Channels: channelMap(acq)}
	if sn.Summaries, err = Summarize(d.Transactions, sn.AsOf, s.Unit); err != nil {
		return nil, fmt.Errorf("summarize: %w", err)
	}
	// Pareto/NBD gives the churn band a P(alive) that falls for one-time buyers too
	// (BG/NBD keeps them at 1).
	sn.Models, err = FitModelsContext(ctx, sn.Summaries, s.Unit, true)
	switch {
	case errors.Is(err, ErrNoRepeat):
		sn.NoRepeats, sn.FitErr = true, err.Error()
	case err != nil:
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fit models: %w", err)
		}
		// Too little data to fit (a new shop) must not take the segments down with it.
		sn.NoRepeats, sn.FitErr = true, err.Error()
	default:
		sn.Predictions = sn.Models.Score(sn.Summaries, ScoreOptions{HorizonMonths: HorizonMonths, Discount: Discount, Bands: DefaultChurnBands})
		sn.Bands = SummarizeBands(sn.Predictions)
		slices.SortStableFunc(sn.Predictions, func(a, b Prediction) int { return cmp.Compare(b.CLV, a.CLV) })
	}
	if sn.Segments, err = Segments(d.Transactions, sn.AsOf, sn.AsOf.Add(-SegmentPeriod), nil, DefaultSmallSegment); err != nil {
		return nil, fmt.Errorf("segments: %w", err)
	}
	sn.Reindex()
	sn.Cohorts = Cohorts(d.Transactions, sn.AsOf, sn.Channels)
	sn.BuiltAt = time.Now()
	sn.BuildTime = time.Since(t0)
	return sn, nil
}

// Economics is the unit economics per acquisition channel of sn's customers (o.From and
// o.To: the acquisition period, inclusive days; zero: from the first order, to sn.AsOf),
// with sn's models. Results are kept per snapshot, spend and options. ErrNoRepeat when
// the models could not be fitted.
func (s *Service) Economics(ctx context.Context, sn *Snapshot, o StoreEconomicsOptions) (StoreEconomics, error) {
	if sn.NoRepeats {
		return StoreEconomics{}, fmt.Errorf("%w: %s", ErrNoRepeat, sn.FitErr)
	}
	// Spend is not in StoreState (it changes without orders): key on its size too.
	var spendRows, spendSum int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), `+s.db.SumMinor("amount_minor")+` FROM spend`).Scan(&spendRows, &spendSum); err != nil {
		return StoreEconomics{}, fmt.Errorf("read spend: %w", err)
	}
	key := fmt.Sprintf("%d|%d|%s|%s|%g|%d", spendRows, spendSum, o.From.Format(time.DateOnly), o.To.Format(time.DateOnly), o.Margin, o.PaybackHorizon)
	s.ecoMu.Lock()
	defer s.ecoMu.Unlock()
	if s.ecoOf != sn {
		s.ecoOf, s.eco = sn, map[string]StoreEconomics{}
	}
	if e, ok := s.eco[key]; ok {
		return e, nil
	}
	o.AsOf, o.Unit, o.Models, o.Lookback = sn.AsOf, s.Unit, &sn.Models, s.Lookback
	e, err := economics(ctx, s.db, sn.Data, sn.Acquisitions, o)
	if err != nil {
		return StoreEconomics{}, err
	}
	if len(s.eco) > 64 {
		clear(s.eco)
	}
	s.eco[key] = e
	return e, nil
}

package web

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/quality"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
)

// Stored analyses (docs/decisions.md, "Results across restarts"): when a heavy build of
// the compute cache ends, its result is written to the analysis_snapshots table, one
// row per key; a restarted server reads it back on the key's first build instead of
// computing for half a minute. Only the kinds registered here are stored, each in an
// exported form that round-trips (snapshots_test.go); the others live in memory only:
//
//   - attr (attribution of a period): attrSnap, the attribution service's periods and
//     the ROI the pages show;
//   - value (the customer-value snapshot): value.Snapshot, its lookups rebuilt;
//   - coverage (data quality of a period): quality.Coverage as it is;
//   - budget (the budget model of a target): budgetSnap, the series and the fitted
//     model in mix's stored form (mix.Model.MarshalBinary).
//
// Not stored: the small quick-lane analyses are cheaper to compute than to store.
//
// The table is built when a compute cache is made (newComputeCache) and only read after.
func snapCodecTable() map[string]snapCodec {
	same := func(c quality.Coverage) (quality.Coverage, error) { return c, nil }
	return map[string]snapCodec{
		"attr":     persistAs("attr", encJSON, 1, attrSnapOf, (*attrSnap).analysis),
		"value":    persistAs("value", encGob, 1, valueSnapOf, (*valueSnap).snapshot),
		"coverage": persistAs("coverage", encJSON, 1, same, same),
		"budget":   persistAs("budget", encGob, 1, budgetSnapOf, (*budgetSnap).model),
	}
}

// snapCodec stores one kind of analysis: format names the encoding and the form's
// revision (a row of another format is not read).
type snapCodec struct {
	format string
	encode func(v any) ([]byte, error)
	decode func(b []byte) (any, error)
}

// persistAs is the codec of the analyses whose keys start with prefix (up to the first
// "|"): they are stored as their form S, encoded with enc (encJSON or encGob): to makes the form of a result,
// from the result of a form. rev is the form's revision: change it when S changes, so
// that rows of the old form are not read.
//
// JSON where the form has pointers to numbers: gob drops a pointer to zero (an ROAS of
// 0 came back as "no ROAS"). Gob where the form holds NaN, which JSON cannot write (the
// Gamma-Gamma mean of a one-time buyer when q <= 1), and no such pointers.
func persistAs[T, S any](prefix, enc string, rev int, to func(T) (S, error), from func(S) (T, error)) snapCodec {
	c := snapCodec{format: fmt.Sprintf("%s:%s/%d", enc, prefix, rev)}
	switch enc {
	case encJSON:
		c.encode = func(v any) ([]byte, error) {
			s, err := to(v.(T))
			if err != nil {
				return nil, err
			}
			return json.Marshal(s)
		}
		c.decode = func(b []byte) (any, error) {
			var s S
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, err
			}
			return from(s)
		}
	case encGob:
		c.encode = func(v any) ([]byte, error) {
			s, err := to(v.(T))
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			err = gob.NewEncoder(&buf).Encode(s)
			return buf.Bytes(), err
		}
		c.decode = func(b []byte) (any, error) {
			var s S
			if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
				return nil, err
			}
			return from(s)
		}
	default:
		panic("web: unknown encoding " + enc)
	}
	return c
}

// The encodings of stored analyses.
const (
	encJSON = "json"
	encGob  = "gob"
)

// codecFor is the codec of key's kind; ok is false for kinds that are not stored.
func (c *computeCache) codecFor(key string) (snapCodec, bool) {
	prefix, _, _ := strings.Cut(key, "|")
	codec, ok := c.codecs[prefix]
	return codec, ok
}

// snapshotStore keeps the compute cache's results across restarts.
type snapshotStore interface {
	// guard is read before a build: a result is written only while it holds (an
	// erasure committed during the build changes it).
	guard(ctx context.Context) (string, error)
	load(ctx context.Context, key string) (store.AnalysisSnapshot, bool, error)
	save(ctx context.Context, s store.AnalysisSnapshot, guard string) error
}

// dbSnapshots is the analysis_snapshots table, guarded by the processor's epoch (which
// every erasure moves, in the transaction that deletes the snapshots).
type dbSnapshots struct{ db *store.DB }

func (d dbSnapshots) guard(ctx context.Context) (string, error) {
	v, _, err := d.db.Setting(ctx, identity.EpochSetting)
	return v, err
}

func (d dbSnapshots) load(ctx context.Context, key string) (store.AnalysisSnapshot, bool, error) {
	return d.db.LoadSnapshot(ctx, key)
}

func (d dbSnapshots) save(ctx context.Context, s store.AnalysisSnapshot, guard string) error {
	return d.db.SaveSnapshot(ctx, s, identity.EpochSetting, guard)
}

// attrSnap is the stored form of an attrAnalysis.
type attrSnap struct {
	Cur, Prev *attrPeriodSnap
	Truth     *attribution.GroundTruthReport
	TruthErr  string
}

// attrPeriodSnap is an attrPeriod: the period's exported figures and the ROI computed
// from the rest (the pages read nothing else), with each result's details in their
// own types (Details is an interface).
type attrPeriodSnap struct {
	Period     attribution.Period
	Details    []attrDetails // per result of Period.Results
	Spend      map[string]int64
	SpendTotal int64
	NewTotal   int64
	ROI        map[string]attribution.ROIPeriod
}

// attrDetails holds one of the models' details.
type attrDetails struct {
	Markov    *attribution.MarkovDetails    `json:",omitempty"`
	ShapleyCR *attribution.ShapleyCRDetails `json:",omitempty"`
	Shapley   []attribution.NamedValue      `json:",omitempty"` // {"shapley_values": …}
}

func attrSnapOf(a *attrAnalysis) (*attrSnap, error) {
	s := &attrSnap{Truth: a.Truth, TruthErr: a.TruthErr}
	var err error
	if s.Cur, err = attrPeriodSnapOf(a.Cur); err != nil {
		return nil, err
	}
	if s.Prev, err = attrPeriodSnapOf(a.Prev); err != nil {
		return nil, err
	}
	return s, nil
}

func attrPeriodSnapOf(p *attrPeriod) (*attrPeriodSnap, error) {
	if p == nil {
		return nil, nil
	}
	s := &attrPeriodSnap{Period: *p.Period, Spend: p.Spend, SpendTotal: p.SpendTotal, NewTotal: p.NewTotal, ROI: p.roi}
	s.Period.Results = append([]attribution.Result(nil), p.Results...)
	for i := range s.Period.Results {
		r := &s.Period.Results[i]
		var d attrDetails
		switch det := r.Details.(type) {
		case nil:
		case *attribution.MarkovDetails:
			d.Markov = det
		case *attribution.ShapleyCRDetails:
			d.ShapleyCR = det
		case map[string]any:
			vals, ok := det["shapley_values"].([]attribution.NamedValue)
			if !ok || len(det) != 1 || vals == nil {
				return nil, fmt.Errorf("attribution details of %s: not a form that is stored", r.Model)
			}
			d.Shapley = vals
		default:
			return nil, fmt.Errorf("attribution details of %s: %T is not stored", r.Model, det)
		}
		r.Details = nil
		s.Details = append(s.Details, d)
	}
	return s, nil
}

func (s *attrSnap) analysis() (*attrAnalysis, error) {
	a := &attrAnalysis{Truth: s.Truth, TruthErr: s.TruthErr}
	var err error
	if a.Cur, err = s.Cur.period(); err != nil {
		return nil, err
	}
	if a.Prev, err = s.Prev.period(); err != nil {
		return nil, err
	}
	if a.Cur == nil {
		return nil, fmt.Errorf("stored attribution without its period")
	}
	return a, nil
}

func (s *attrPeriodSnap) period() (*attrPeriod, error) {
	if s == nil {
		return nil, nil
	}
	if len(s.Details) != len(s.Period.Results) {
		return nil, fmt.Errorf("stored attribution: %d details for %d results", len(s.Details), len(s.Period.Results))
	}
	p := s.Period
	for i, d := range s.Details {
		r := &p.Results[i]
		switch {
		case d.Markov != nil:
			r.Details = d.Markov
		case d.ShapleyCR != nil:
			r.Details = d.ShapleyCR
		case d.Shapley != nil:
			r.Details = map[string]any{"shapley_values": d.Shapley}
		}
	}
	roi := s.ROI
	if roi == nil {
		roi = map[string]attribution.ROIPeriod{}
	}
	return &attrPeriod{Period: &p, Spend: s.Spend, SpendTotal: s.SpendTotal, NewTotal: s.NewTotal, roi: roi}, nil
}

// valueSnap is the stored form of a value.Snapshot (its time zone goes by name:
// value.StoreData.GobEncode); its lookups are rebuilt when read.
type valueSnap struct {
	Snapshot *value.Snapshot
}

func valueSnapOf(v *value.Snapshot) (*valueSnap, error) { return &valueSnap{Snapshot: v}, nil }

func (s *valueSnap) snapshot() (*value.Snapshot, error) {
	if s.Snapshot == nil {
		return nil, fmt.Errorf("stored customer value without its snapshot")
	}
	s.Snapshot.Reindex()
	return s.Snapshot, nil
}

// budgetSnap is the stored form of a budgetModel: its series and the fitted model in
// the form mix stores it (mix.Model.MarshalBinary). The default plan and the response
// curves are worked out again from the model on the first request that shows them.
type budgetSnap struct {
	Series mix.Series
	Model  []byte
}

func budgetSnapOf(b *budgetModel) (*budgetSnap, error) {
	m, err := b.model.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &budgetSnap{Series: b.series, Model: m}, nil
}

func (s *budgetSnap) model() (*budgetModel, error) {
	m, err := mix.UnmarshalModel(s.Model)
	if err != nil {
		return nil, err
	}
	return &budgetModel{series: s.Series, model: m}, nil
}

package journey

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
)

// Assignment to a step's test variants. In test mode a run's variant is
// experiment.Bucket(test name, "CUSTOMER/ENTRY_KEY") walked along the weights, the same
// hash websites get (internal/experiment/assign.go): the unit is the run's key, the unit
// the holdout hashes too (with the journey's name instead of the test's, so the two are
// independent), and a customer who enters again with the same key gets the same variant.
// Unnamed `split` steps keep their hash of the run id and step id.

// testUnit is the unit a run is assigned by.
func testUnit(r *run) string { return fmt.Sprintf("%d/%s", r.CustomerID, r.Key) }

// testExperiment is the test as an experiment.Experiment, for its assignment.
func (t *Test) experiment() experiment.Experiment {
	e := experiment.Experiment{Name: t.Name}
	for _, v := range t.Variants {
		e.Variants = append(e.Variants, experiment.Variant{Key: v.Key, Weight: v.Weight})
	}
	return e
}

// chooseVariant picks the run's variant at a test step.
func (w *work) chooseVariant(ctx context.Context, r *run, pl *Plan, step int) (*TestVariant, error) {
	t := pl.Nodes[step].Test
	if t.Mode != ModeOptimise {
		return &t.Variants[t.experiment().Assign(testUnit(r))], nil
	}
	shares, period, err := w.e.banditShares(ctx, w, pl.Name, t)
	if err != nil {
		return nil, err
	}
	// A hash, not a random draw: the same run at the same period gets the same variant
	// if the batch is replayed after a crash.
	u := experiment.Bucket(fmt.Sprintf("%s@%d", t.Name, period), testUnit(r))
	var cum float64
	for i, s := range shares {
		cum += s
		if u < cum {
			return &t.Variants[i], nil
		}
	}
	return &t.Variants[len(t.Variants)-1], nil
}

type banditState struct {
	period int64
	shares []float64
}

// banditShares returns the test's shares for the current update period, computing them
// once per period from the counts up to its start: each variant's delivered sends and how
// many of them were opened or clicked (the test's metric).
func (e *Engine) banditShares(ctx context.Context, w *work, journey string, t *Test) ([]float64, int64, error) {
	upd := t.Update
	if upd <= 0 {
		upd = DefaultTestUpdate
	}
	period := w.now.UnixMilli() / upd.Milliseconds()
	key := journey + "\x00" + t.Name
	e.mu.Lock()
	st, ok := e.bandits[key]
	e.mu.Unlock()
	if ok && st.period == period && len(st.shares) == len(t.Variants) {
		return st.shares, period, nil
	}
	counts, err := banditCounts(ctx, w, t, time.UnixMilli(period*upd.Milliseconds()))
	if err != nil {
		return nil, 0, err
	}
	b := experiment.Bandit{Floor: t.Floor, Arms: counts}
	h := fnv.New64a()
	h.Write([]byte(key))
	shares, err := b.Allocation(rand.New(rand.NewPCG(h.Sum64(), uint64(period))))
	if err != nil {
		return nil, 0, fmt.Errorf("test %s: %w", t.Name, err)
	}
	e.mu.Lock()
	if e.bandits == nil {
		e.bandits = map[string]banditState{}
	}
	e.bandits[key] = banditState{period: period, shares: shares}
	e.mu.Unlock()
	return shares, period, nil
}

// banditCounts reads each variant's delivered sends before until, and how many were
// opened or clicked.
func banditCounts(ctx context.Context, w *work, t *Test, until time.Time) ([]experiment.BanditArm, error) {
	col := "clicked_at"
	if t.Metric == TestOpen {
		col = "opened_at"
	}
	rows, err := w.q.Query(ctx, `SELECT variant, COUNT(*), SUM(CASE WHEN `+col+` > 0 THEN 1 ELSE 0 END) FROM journey_sends
		WHERE experiment = ? AND variant <> '' AND status = 'sent' AND created_at < ? GROUP BY variant`, t.Name, until.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("test %s counts: %w", t.Name, err)
	}
	defer rows.Close()
	got := map[string][2]int64{}
	for rows.Next() {
		var v string
		var n, k int64
		if err := rows.Scan(&v, &n, &k); err != nil {
			return nil, err
		}
		got[v] = [2]int64{n, k}
	}
	arms := make([]experiment.BanditArm, len(t.Variants))
	for i, v := range t.Variants {
		arms[i] = experiment.BanditArm{Key: v.Key, Trials: got[v.Key][0], Successes: got[v.Key][1]}
	}
	return arms, rows.Err()
}

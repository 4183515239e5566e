package value

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// FeedOptions control RefreshSegments.
type FeedOptions struct {
	Rules []SegmentRule // nil: DefaultSegmentRules
	// Thresholds are the P(alive) values journeys enter on (p_alive_below); a crossing of
	// any of them is recorded at once. Crossings of a multiple of Step are recorded too,
	// so the feed also shows slow decay; default Step 0.1.
	Thresholds []float64
	Step       float64
}

// FeedResult is what one refresh did.
type FeedResult struct {
	AsOf      time.Time      `json:"as_of"`
	Customers int            `json:"customers"` // scored
	Changes   int            `json:"changes"`   // segment_changes rows written
	Entered   map[string]int `json:"entered"`   // new rows by segment
	Baseline  int            `json:"baseline"`  // rows that are a customer's first: their starting state, not a move
	PAlive    bool           `json:"p_alive"`   // false when BG/NBD could not be fitted yet (p_alive -1)
}

// RefreshSegments scores every customer with a purchase up to asOf (RFM segment with the
// rules, BG/NBD probability alive on weekly units) and appends a segment_changes row for
// each customer whose segment changed or whose P(alive) crossed a threshold since their
// last row. Journeys with a segment entry (win-back on "At Risk") read that feed.
//
// A customer's first row is a baseline, which journeys do not enter on: a segment
// journey applied to an existing business (or fed a history import) starts with the
// customers who move into the segment from then on, as Klaviyo's segment-triggered flows
// do, rather than messaging everyone who already was in it.
func RefreshSegments(ctx context.Context, db *store.DB, asOf time.Time, o FeedOptions) (FeedResult, error) {
	res := FeedResult{Entered: map[string]int{}}
	if o.Step <= 0 {
		o.Step = 0.1
	}
	d, err := LoadStoreData(ctx, db, asOf)
	if err != nil {
		return res, err
	}
	asOf = asOf.In(d.Location)
	res.AsOf = asOf
	if len(d.Transactions) == 0 {
		return res, nil
	}
	scores, err := RFM(d.Transactions, asOf, o.Rules)
	if err != nil {
		return res, err
	}
	res.Customers = len(scores)
	pAlive := map[string]float64{}
	sum, err := Summarize(d.Transactions, asOf, Week)
	if err != nil {
		return res, err
	}
	if m, err := FitBGNBDContext(ctx, GroupHistories(sum)); err == nil {
		res.PAlive = true
		for _, s := range sum {
			pAlive[s.ID] = m.PAlive(s.Frequency, s.Recency, s.T)
		}
	} else if ctx.Err() != nil {
		return res, ctx.Err()
	} // no repeat purchases yet, or no fit: segments still move, P(alive) stays unknown (-1)

	type last struct {
		seg string
		p   float64
	}
	prev := map[int64]last{}
	rows, err := db.Query(ctx, `SELECT s.customer_id, s.segment, s.p_alive FROM segment_changes s
		JOIN (SELECT customer_id, MAX(id) AS id FROM segment_changes GROUP BY customer_id) l ON l.id = s.id`)
	if err != nil {
		return res, fmt.Errorf("read segment feed: %w", err)
	}
	for rows.Next() {
		var id int64
		var l last
		if err := rows.Scan(&id, &l.seg, &l.p); err != nil {
			rows.Close()
			return res, fmt.Errorf("read segment feed: %w", err)
		}
		prev[id] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read segment feed: %w", err)
	}

	type change struct {
		id       int64
		seg      string
		p        float64
		baseline int
	}
	var out []change
	for _, s := range scores {
		id, err := strconv.ParseInt(s.ID, 10, 64)
		if err != nil {
			continue // not a stored customer id (cannot happen with LoadStoreData)
		}
		p, ok := pAlive[s.ID]
		if !ok {
			p = -1
		}
		p = math.Round(p*1e4) / 1e4
		l, had := prev[id]
		if had && l.seg == s.Segment && !crossed(l.p, p, o.Thresholds, o.Step) {
			continue
		}
		c := change{id, s.Segment, p, 0}
		if !had {
			c.baseline = 1
			res.Baseline++
		}
		out = append(out, c)
		if had && l.seg != s.Segment {
			res.Entered[s.Segment]++
		}
	}
	res.Changes = len(out)
	if len(out) == 0 {
		return res, nil
	}
	at := asOf.UnixMilli()
	err = db.Write(ctx, func(tx *store.Tx) error {
		const chunk = 500
		for i := 0; i < len(out); i += chunk {
			part := out[i:min(i+chunk, len(out))]
			var b strings.Builder
			b.WriteString(`INSERT INTO segment_changes (customer_id, segment, p_alive, changed_at, baseline) VALUES `)
			args := make([]any, 0, 5*len(part))
			for j, c := range part {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?)")
				args = append(args, c.id, c.seg, c.p, at, c.baseline)
			}
			if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("write segment feed: %w", err)
	}
	return res, nil
}

// crossed reports whether P(alive) moved across a threshold or a multiple of step, or
// became known or unknown.
func crossed(a, b float64, thresholds []float64, step float64) bool {
	if (a < 0) != (b < 0) {
		return true
	}
	if a < 0 {
		return false
	}
	for _, t := range thresholds {
		if (a < t) != (b < t) {
			return true
		}
	}
	return math.Floor(a/step+1e-9) != math.Floor(b/step+1e-9)
}

// StoreLocation is the workspace time zone (setting "timezone"), UTC when unset.
func StoreLocation(ctx context.Context, db *store.DB) *time.Location { return storeLocation(ctx, db) }

// FeedSetting remembers the store day and order state of the last refresh.
const FeedSetting = "value.segment_feed"

// SegmentFeed keeps the segment feed current: Tick refreshes it when the workspace's
// calendar day or the orders changed since the last refresh (recency moves with the day,
// frequency and money with orders). Run ticks every Interval. The day is that of now or
// of the newest activity, whichever is earlier.
type SegmentFeed struct {
	DB         *store.DB
	Now        func() time.Time                             // default time.Now
	Interval   time.Duration                                // default 10 minutes
	Thresholds func(ctx context.Context) ([]float64, error) // P(alive) entry thresholds; may be nil
	OnChange   func(FeedResult)                             // called after a refresh that wrote rows
}

// Tick refreshes the feed if it is stale; it reports whether it refreshed.
func (f *SegmentFeed) Tick(ctx context.Context) (bool, FeedResult, error) {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	at := now()
	// Score as of the newest activity when the data stops before now: recency must not
	// grow over days the store received nothing (a broken pipeline, or the demo's
	// finished history), or win-back would message customers for our missing data.
	var newest int64
	if err := f.DB.QueryRow(ctx, `SELECT COALESCE(MAX(ts), 0) FROM activity`).Scan(&newest); err != nil {
		return false, FeedResult{}, fmt.Errorf("segment feed: %w", err)
	}
	if newest > 0 && newest < at.UnixMilli() {
		at = time.UnixMilli(newest)
	}
	st, err := ReadStoreState(ctx, f.DB)
	if err != nil {
		return false, FeedResult{}, err
	}
	key := fmt.Sprintf("%s|%v", at.In(storeLocation(ctx, f.DB)).Format("2006-01-02"), st)
	if v, _, err := f.DB.Setting(ctx, FeedSetting); err != nil || v == key {
		return false, FeedResult{}, err
	}
	var o FeedOptions
	if f.Thresholds != nil {
		if o.Thresholds, err = f.Thresholds(ctx); err != nil {
			return false, FeedResult{}, err
		}
	}
	res, err := RefreshSegments(ctx, f.DB, at, o)
	if err != nil {
		return false, res, err
	}
	if err := f.DB.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, FeedSetting, key) }); err != nil {
		return false, res, err
	}
	if res.Changes > 0 && f.OnChange != nil {
		f.OnChange(res)
	}
	return true, res, nil
}

// Run ticks until ctx is done; a failed tick is returned to onErr and retried next time.
func (f *SegmentFeed) Run(ctx context.Context, onErr func(error)) {
	iv := f.Interval
	if iv <= 0 {
		iv = time.Hour
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if _, _, err := f.Tick(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

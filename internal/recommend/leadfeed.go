package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// LeadFeedSetting remembers the activity and orders the last lead scoring saw.
const LeadFeedSetting = "recommend.lead_feed"

// LeadFeed keeps lead_score_changes current for journeys that enter on a lead score
// (entry lead_score_above, read by the journey engine). Tick rescores everyone with
// ScoreLeads, the function behind `omniroi leads`, and appends a row for each person
// whose score crossed one of the thresholds since their last row: a person not scored
// before counts as below every threshold, and one no longer scored (they bought, went
// quiet for the whole window, or opted out of personalisation) as 0. ScoreLeads leaves
// out people who opted out of personalisation, so they never cross. Nothing is scored
// while no enabled journey enters on a lead score, nor when the activity and orders are
// unchanged since the last scoring.
type LeadFeed struct {
	DB         *store.DB
	Now        func() time.Time                             // default time.Now
	Interval   time.Duration                                // default 1 hour
	Thresholds func(ctx context.Context) ([]float64, error) // journey.LeadThresholds
	Options    LeadOptions
}

// LeadFeedResult is what one scoring did.
type LeadFeedResult struct {
	Scored   int  `json:"scored"`   // people with a lead score
	Changes  int  `json:"changes"`  // rows written
	Baseline bool `json:"baseline"` // the feed's first scoring: its rows start no journey
	TooFew   bool `json:"too_few"`  // too few people or conversions to fit a score yet
}

// Tick scores if a journey needs it and the data changed; it reports whether it scored.
func (f *LeadFeed) Tick(ctx context.Context) (bool, LeadFeedResult, error) {
	var res LeadFeedResult
	if f.Thresholds == nil {
		return false, res, nil
	}
	ths, err := f.Thresholds(ctx)
	if err != nil || len(ths) == 0 {
		return false, res, err
	}
	var acts, actMax, orders, orderMax int64
	if err := f.DB.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM activity`).Scan(&acts, &actMax); err != nil {
		return false, res, fmt.Errorf("lead feed: %w", err)
	}
	if err := f.DB.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM orders`).Scan(&orders, &orderMax); err != nil {
		return false, res, fmt.Errorf("lead feed: %w", err)
	}
	// The key says what was scored; "scored:" once a scoring wrote the feed's baseline.
	state := fmt.Sprintf("%d/%d/%d/%d/%v", acts, actMax, orders, orderMax, ths)
	last, _, err := f.DB.Setting(ctx, LeadFeedSetting)
	if err != nil {
		return false, res, err
	}
	if before, ok := strings.CutPrefix(last, "scored:"); ok && before == state || last == "too_few:"+state {
		return false, res, nil
	}
	res.Baseline = !strings.HasPrefix(last, "scored:")
	rep, err := ScoreLeads(ctx, f.DB, f.Options, 0)
	if errors.Is(err, ErrTooFewLeads) {
		res.TooFew, res.Baseline = true, false
		return true, res, f.DB.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, LeadFeedSetting, "too_few:"+state) })
	}
	if err != nil {
		return false, res, err
	}
	res.Scored = len(rep.Leads)
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	at := now().UnixMilli()
	err = f.DB.Write(ctx, func(tx *store.Tx) error {
		prev, err := lastLeadScores(ctx, tx)
		if err != nil {
			return err
		}
		type row struct {
			cid             int64
			score, previous float64
		}
		var out []row
		scored := make(map[int64]bool, len(rep.Leads))
		for _, l := range rep.Leads {
			scored[l.CustomerID] = true
			p, had := prev[l.CustomerID]
			if !had {
				p = -1
			}
			if crossedAny(p, l.Score, ths) {
				out = append(out, row{l.CustomerID, l.Score, p})
			}
		}
		for cid, p := range prev {
			if !scored[cid] && crossedAny(p, 0, ths) {
				out = append(out, row{cid, 0, p})
			}
		}
		// In customer order, so the feed (and the runs it starts) do not depend on map order.
		slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a.cid, b.cid) })
		base := 0
		if res.Baseline {
			base = 1
		}
		const chunk = 400
		for i := 0; i < len(out); i += chunk {
			part := out[i:min(i+chunk, len(out))]
			var b strings.Builder
			b.WriteString(`INSERT INTO lead_score_changes (customer_id, score, previous, changed_at, baseline) VALUES `)
			args := make([]any, 0, 5*len(part))
			for j, r := range part {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?)")
				args = append(args, r.cid, r.score, r.previous, at, base)
			}
			if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		res.Changes = len(out)
		return store.SetSetting(ctx, tx, LeadFeedSetting, "scored:"+state)
	})
	if err != nil {
		return false, res, fmt.Errorf("lead feed: %w", err)
	}
	return true, res, nil
}

// Run ticks every Interval until ctx is done; a failed tick goes to onErr.
func (f *LeadFeed) Run(ctx context.Context, onErr func(error)) {
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

// crossedAny reports whether a score moved across a threshold ("above" is strictly
// greater; -1, not scored, is below all).
func crossedAny(a, b float64, ths []float64) bool {
	for _, t := range ths {
		if (a > t) != (b > t) {
			return true
		}
	}
	return false
}

// lastLeadScores is each person's score in their newest feed row.
func lastLeadScores(ctx context.Context, tx *store.Tx) (map[int64]float64, error) {
	rows, err := tx.Query(ctx, `SELECT s.customer_id, s.score FROM lead_score_changes s
		JOIN (SELECT customer_id, MAX(id) AS id FROM lead_score_changes GROUP BY customer_id) l ON l.id = s.id`)
	if err != nil {
		return nil, fmt.Errorf("read lead feed: %w", err)
	}
	defer rows.Close()
	out := map[int64]float64{}
	for rows.Next() {
		var id int64
		var s float64
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/omniroi/omniroi/internal/store"
)

// Lead-score entries (entry: {lead_score_above: 0.7}). recommend.LeadFeed rescores
// people and appends a lead_score_changes row with the new and the previous score for
// each person whose score crossed a threshold of an enabled journey; the engine tails
// that feed and enters a person when their score rises from at most a journey's
// threshold to above it. The feed's first scoring is a baseline, as the segment feed's
// first rows are: enabling such a journey does not enter everyone already above. Falling back below and rising again is a new crossing, which
// the journey's re-entry rule decides on like any other entry.

// LeadThresholds lists the lead-score thresholds enabled journeys enter on, so the lead
// feed records every crossing of them; none means no journey needs lead scores.
func LeadThresholds(ctx context.Context, db *store.DB) ([]float64, error) {
	rows, err := db.Query(ctx, `SELECT plan FROM journeys WHERE enabled = 1`)
	if err != nil {
		return nil, fmt.Errorf("journey lead thresholds: %w", err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var pj string
		if err := rows.Scan(&pj); err != nil {
			return nil, fmt.Errorf("journey lead thresholds: %w", err)
		}
		var p Plan
		if json.Unmarshal([]byte(pj), &p) != nil {
			continue
		}
		if p.Entry.Kind == "lead_score" && p.Entry.LeadScoreAbove > 0 && !slices.Contains(out, p.Entry.LeadScoreAbove) {
			out = append(out, p.Entry.LeadScoreAbove)
		}
	}
	slices.Sort(out)
	return out, rows.Err()
}

// consumeLeadScores tails lead_score_changes and starts lead_score runs. The cursor
// moves on whether or not a journey enters on lead scores, so a journey enabled later
// starts with the crossings from then on.
func (e *Engine) consumeLeadScores(ctx context.Context) (int, error) {
	var plans []*Plan
	for _, p := range e.entryPlans() {
		if p.Entry.Kind == "lead_score" {
			plans = append(plans, p)
		}
	}
	cursor, err := settingInt(ctx, e.db, LeadCursorSetting)
	if err != nil {
		return 0, err
	}
	type change struct {
		id, cid         int64
		score, previous float64
		baseline        bool
	}
	rows, err := e.db.Query(ctx, `SELECT id, customer_id, score, previous, baseline FROM lead_score_changes WHERE id > ? ORDER BY id LIMIT ?`, cursor, e.opt.Batch)
	if err != nil {
		return 0, fmt.Errorf("read lead score changes: %w", err)
	}
	var cs []change
	for rows.Next() {
		var c change
		var b int
		if err := rows.Scan(&c.id, &c.cid, &c.score, &c.previous, &b); err != nil {
			rows.Close()
			return 0, err
		}
		c.baseline = b == 1
		cs = append(cs, c)
	}
	rows.Close()
	if len(cs) == 0 {
		return 0, rows.Err()
	}
	now := e.opt.Now()
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		if cur, err := lockedSettingInt(ctx, tx, LeadCursorSetting); err != nil || cur != cursor {
			return errCursorMoved
		}
		w := e.newWork(tx, now)
		for _, c := range cs {
			if c.baseline {
				continue // scores when the feed started: who was a hot lead already is no crossing
			}
			for _, pl := range plans {
				t := pl.Entry.LeadScoreAbove
				if !(c.score > t && c.previous <= t) {
					continue
				}
				pj, _ := json.Marshal(map[string]any{"lead_score": c.score, "previous_score": max(c.previous, 0)})
				if _, err := w.enter(ctx, pl, c.cid, "", 0, pj); err != nil {
					return err
				}
			}
		}
		return store.SetSetting(ctx, tx, LeadCursorSetting, strconv.FormatInt(cs[len(cs)-1].id, 10))
	})
	if err == errCursorMoved {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lead score entries: %w", err)
	}
	return len(cs), nil
}

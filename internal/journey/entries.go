package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// consumeSegments tails segment_changes and starts segment-entry runs when a customer's
// segment becomes the journey's (or probability alive drops below its threshold).
func (e *Engine) consumeSegments(ctx context.Context) (int, error) {
	var plans []*Plan
	for _, p := range e.entryPlans() {
		if p.Entry.Kind == "segment" {
			plans = append(plans, p)
		}
	}
	cursor, err := settingInt(ctx, e.db, SegmentCursorSetting)
	if err != nil {
		return 0, err
	}
	type change struct {
		id, cid  int64
		seg      string
		p        float64
		baseline bool
	}
	rows, err := e.db.Query(ctx, `SELECT id, customer_id, segment, p_alive, baseline FROM segment_changes WHERE id > ? ORDER BY id LIMIT ?`, cursor, e.opt.Batch)
	if err != nil {
		return 0, fmt.Errorf("read segment changes: %w", err)
	}
	var cs []change
	for rows.Next() {
		var c change
		var b int
		if err := rows.Scan(&c.id, &c.cid, &c.seg, &c.p, &b); err != nil {
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
		if cur, err := lockedSettingInt(ctx, tx, SegmentCursorSetting); err != nil || cur != cursor {
			return errCursorMoved
		}
		w := e.newWork(tx, now)
		for _, c := range cs {
			if len(plans) == 0 {
				break
			}
			if c.baseline {
				continue // the state the customer was in when the feed started, not a move
			}
			var prevSeg string
			prevP := -1.0
			err := tx.QueryRow(ctx, `SELECT segment, p_alive FROM segment_changes WHERE customer_id = ? AND id < ? ORDER BY id DESC LIMIT 1`, c.cid, c.id).Scan(&prevSeg, &prevP)
			hadPrev := err == nil
			for _, pl := range plans {
				in := func(seg string, p float64) bool {
					ok := true
					if pl.Entry.Segment != "" {
						ok = strings.EqualFold(seg, pl.Entry.Segment)
					}
					if pl.Entry.PAliveBelow > 0 {
						ok = ok && p >= 0 && p < pl.Entry.PAliveBelow
					}
					return ok
				}
				if !in(c.seg, c.p) || hadPrev && in(prevSeg, prevP) {
					continue
				}
				pj, _ := json.Marshal(map[string]any{"segment": c.seg, "p_alive": c.p})
				if _, err := w.enter(ctx, pl, c.cid, "", 0, pj); err != nil {
					return err
				}
			}
		}
		return store.SetSetting(ctx, tx, SegmentCursorSetting, strconv.FormatInt(cs[len(cs)-1].id, 10))
	})
	if err == errCursorMoved {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("segment entries: %w", err)
	}
	return len(cs), nil
}

// dateEntries runs once per UTC day: birthdays (trait birthday, YYYY-MM-DD or MM-DD)
// and first-purchase anniversaries. The entry key is the year, so each year is one run.
func (e *Engine) dateEntries(ctx context.Context) (int, error) {
	now := e.opt.Now().UTC()
	today := now.Format("2006-01-02")
	last, _, err := e.db.Setting(ctx, DatesSetting)
	if err != nil || last == today {
		return 0, err
	}
	var plans []*Plan
	for _, p := range e.entryPlans() {
		if p.Entry.Kind == "date" {
			plans = append(plans, p)
		}
	}
	md := now.Format("01-02")
	year := strconv.Itoa(now.Year())
	due := map[string][]int64{} // date kind → customers
	if len(plans) > 0 {
		rows, err := e.db.Query(ctx, `SELECT id, traits FROM customers WHERE traits LIKE ?`, "%irthday%")
		if err != nil {
			return 0, fmt.Errorf("date entries: %w", err)
		}
		for rows.Next() {
			var id int64
			var traits string
			if err := rows.Scan(&id, &traits); err != nil {
				rows.Close()
				return 0, err
			}
			var t map[string]struct {
				V any `json:"v"`
			}
			if json.Unmarshal([]byte(traits), &t) != nil {
				continue
			}
			for _, k := range []string{"birthday", "birthDate", "birth_date"} {
				if s, ok := t[k].V.(string); ok && len(s) >= 5 && s[len(s)-5:] == md {
					due["birthday"] = append(due["birthday"], id)
					break
				}
			}
		}
		rows.Close()
		rows, err = e.db.Query(ctx, `SELECT customer_id, MIN(ts) FROM orders GROUP BY customer_id`)
		if err != nil {
			return 0, fmt.Errorf("date entries: %w", err)
		}
		for rows.Next() {
			var id, ts int64
			if err := rows.Scan(&id, &ts); err != nil {
				rows.Close()
				return 0, err
			}
			first := time.UnixMilli(ts).UTC()
			if first.Format("01-02") == md && first.Year() < now.Year() {
				due["first_purchase_anniversary"] = append(due["first_purchase_anniversary"], id)
			}
		}
		rows.Close()
	}
	n := 0
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		w := e.newWork(tx, now)
		for _, pl := range plans {
			for _, cid := range due[pl.Entry.Date] {
				ok, err := w.enter(ctx, pl, cid, year, 0, []byte(`{"date":"`+today+`"}`))
				if err != nil {
					return err
				}
				if ok {
					n++
				}
			}
		}
		return store.SetSetting(ctx, tx, DatesSetting, today)
	})
	if err != nil {
		return 0, fmt.Errorf("date entries: %w", err)
	}
	return n, nil
}

package journey

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Smarter sending: send time and channel chosen per customer from their own history,
// each choice written to journey_decisions as a line a person can read.

// engagementWindow bounds the history a decision looks at: recent habits, bounded cost.
const (
	engagementWindow = 180 * 24 * time.Hour
	engagementLimit  = 1000
)

// Our own delivery receipts are not the customer doing anything.
var notEngagement = map[string]bool{
	"Email Sent": true, "Email Delivered": true, "Email Bounced": true, "Email Marked as Spam": true, "Unsubscribed": true,
	"SMS Sent": true, "SMS Delivered": true, "Push Notification Sent": true, "Push Notification Delivered": true, "Webhook Sent": true,
}

// engagedChannel maps an activity row to the messaging channel it shows engagement with
// ("" for none): opens and clicks of our messages, and visits the channel rules
// attributed to Email, SMS or Mobile Push.
func engagedChannel(channel, name string) string {
	switch {
	case name == "Email Opened" || name == "Email Link Clicked" || strings.EqualFold(channel, "Email"):
		return "email"
	case strings.HasPrefix(name, "SMS ") || strings.EqualFold(channel, "SMS"):
		return "sms"
	case strings.HasPrefix(name, "Push Notification") || strings.EqualFold(channel, "Mobile Push Notifications"):
		return "push"
	}
	return ""
}

type engaged struct {
	ts      int64
	channel string // email, sms, push or ""
}

// engagement reads a customer's engaged events (theirs and merged customers') up to now.
func (w *work) engagement(ctx context.Context, cid int64) ([]engaged, error) {
	ids, err := w.mergedInto(ctx, cid)
	if err != nil {
		return nil, err
	}
	now := w.now.UnixMilli()
	var out []engaged
	for _, id := range ids {
		rows, err := w.q.Query(ctx, `SELECT ts, channel, name FROM activity WHERE customer_id = ? AND ts > ? AND ts <= ? ORDER BY ts DESC LIMIT ?`,
			id, now-engagementWindow.Milliseconds(), now, engagementLimit)
		if err != nil {
			return nil, fmt.Errorf("engagement of customer %d: %w", id, err)
		}
		for rows.Next() {
			var e engaged
			var ch, name string
			if err := rows.Scan(&e.ts, &ch, &name); err != nil {
				rows.Close()
				return nil, err
			}
			if notEngagement[name] {
				continue
			}
			e.channel = engagedChannel(ch, name)
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BestHour picks the hour of day (in loc) of most engagement and when to send: the next
// start of that hour after now, or now when evidence is short (< minEvents) or the hour is
// more than maxDelay away. Ties go to the hour that comes soonest. why explains the choice.
func BestHour(now time.Time, loc *time.Location, ts []time.Time, minEvents int, maxDelay time.Duration) (at time.Time, why string) {
	var hist [24]int
	for _, t := range ts {
		hist[t.In(loc).Hour()]++
	}
	if len(ts) < minEvents {
		return now, fmt.Sprintf("sent now: %d past opens/visits, fewer than the %d needed to pick an hour", len(ts), minEvents)
	}
	lt := now.In(loc)
	best, bestN, bestAt := -1, 0, time.Time{}
	for k := range 24 {
		h := (lt.Hour() + k) % 24
		if hist[h] <= bestN {
			continue
		}
		start := time.Date(lt.Year(), lt.Month(), lt.Day(), h, 0, 0, 0, loc)
		if h < lt.Hour() {
			start = time.Date(lt.Year(), lt.Month(), lt.Day()+1, h, 0, 0, 0, loc)
		}
		best, bestN, bestAt = h, hist[h], start
	}
	span := fmt.Sprintf("%d of %d past opens/visits were %02d:00–%02d:00", bestN, len(ts), best, (best+1)%24)
	if best == lt.Hour() {
		return now, fmt.Sprintf("sent at once at %s %s: %s", lt.Format("15:04"), loc, span)
	}
	if d := bestAt.Sub(now); d > maxDelay {
		return now, fmt.Sprintf("sent now: best hour %02d:00 %s is %s away, beyond max_delay %s (%s)", best, loc, d.Round(time.Minute), dur(maxDelay), span)
	}
	return bestAt, fmt.Sprintf("sent at %02d:00 %s: %s", best, loc, span)
}

// ChannelChoice is one candidate channel with its evidence.
type ChannelChoice struct {
	Channel  string
	Engaged  int
	Excluded string // why it may not be used ("no consent", "no address"), "" if eligible
}

// ChooseChannel picks the eligible channel with the most engagement, ties (and no
// evidence at all) going to the earliest listed. With no eligible channel it returns the
// first listed, which the send-time consent check then suppresses.
func ChooseChannel(cs []ChannelChoice) (string, string) {
	best := -1
	for i, c := range cs {
		if c.Excluded == "" && (best < 0 || c.Engaged > cs[best].Engaged) {
			best = i
		}
	}
	var parts []string
	for i, c := range cs {
		if i == best {
			continue
		}
		if c.Excluded != "" {
			parts = append(parts, fmt.Sprintf("%s excluded (%s)", c.Channel, c.Excluded))
		} else {
			parts = append(parts, fmt.Sprintf("%d on %s", c.Engaged, c.Channel))
		}
	}
	rest := ""
	if len(parts) > 0 {
		rest = "; " + strings.Join(parts, ", ")
	}
	switch {
	case best < 0:
		return cs[0].Channel, fmt.Sprintf("no usable channel, queued %s to be suppressed%s", cs[0].Channel, rest)
	case cs[best].Engaged == 0:
		return cs[best].Channel, fmt.Sprintf("chose %s: no opens/clicks/visits on any usable channel, first in the listed order%s", cs[best].Channel, rest)
	}
	tie := ""
	for i, c := range cs {
		if i != best && c.Excluded == "" && c.Engaged == cs[best].Engaged {
			tie = " (tie broken by the listed order)"
			break
		}
	}
	return cs[best].Channel, fmt.Sprintf("chose %s: %d opens/clicks/visits on %s%s%s", cs[best].Channel, cs[best].Engaged, cs[best].Channel, tie, rest)
}

// smartSend decides channel and send time for a send node; the reasons are recorded.
func (w *work) smartSend(ctx context.Context, r *run, step int, a *Action) (string, time.Time, error) {
	ch, at := a.Channel, w.now
	if ch != "best" && a.SendTime != "best" {
		return ch, at, nil
	}
	ev, err := w.engagement(ctx, r.CustomerID)
	if err != nil {
		return "", at, err
	}
	prof, err := w.profile(ctx, r.CustomerID)
	if err != nil {
		return "", at, err
	}
	if ch == "best" {
		counts := map[string]int{}
		for _, e := range ev {
			counts[e.channel]++
		}
		var cs []ChannelChoice
		for _, o := range a.Options {
			c := ChannelChoice{Channel: o.Channel, Engaged: counts[o.Channel]}
			if address(prof, &o) == "" {
				c.Excluded = "no address"
			} else if !a.Transactional {
				ok, err := hasConsent(ctx, w.q, prof, o.Channel, "marketing")
				if err != nil {
					return "", at, err
				}
				if !ok {
					c.Excluded = "no consent"
				}
			}
			cs = append(cs, c)
		}
		var why string
		ch, why = ChooseChannel(cs)
		if err := w.decision(ctx, r, step, "channel", why); err != nil {
			return "", at, err
		}
	}
	if a.SendTime == "best" {
		var ts []time.Time
		for _, e := range ev {
			ts = append(ts, time.UnixMilli(e.ts))
		}
		var why string
		at, why = BestHour(w.now, w.e.location(prof), ts, a.MinEvents, a.MaxDelay)
		if err := w.decision(ctx, r, step, "send_time", why); err != nil {
			return "", at, err
		}
	}
	return ch, at, nil
}

// address is where a message on a.Channel goes for p ("" if nowhere).
func address(p *Profile, a *Action) string {
	switch a.Channel {
	case "email":
		return p.Email
	case "sms":
		return p.Phone
	case "push":
		if t := traitString(p.Traits, "push_token", "device_token"); t != "" {
			return t
		}
		return p.UserID
	case "webhook":
		return a.URL
	}
	return ""
}

func (w *work) decision(ctx context.Context, r *run, step int, kind, text string) error {
	_, err := w.q.Exec(ctx, `INSERT INTO journey_decisions (run_id, step, kind, journey, customer_id, at, text) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, step, kind) DO NOTHING`, r.ID, step, kind, r.Journey, r.CustomerID, w.now.UnixMilli(), text)
	if err != nil {
		return fmt.Errorf("record decision: %w", err)
	}
	return nil
}

// Decision is one recorded choice the engine made for a run.
type Decision struct {
	RunID      int64     `json:"run_id"`
	CustomerID int64     `json:"customer_id"`
	Step       int       `json:"step"`
	Kind       string    `json:"kind"` // channel, send_time
	At         time.Time `json:"at"`
	Text       string    `json:"text"`
}

// Decisions lists a journey's most recent decisions (newest first), or one run's when
// runID > 0.
func Decisions(ctx context.Context, db *store.DB, journey string, runID int64, limit int) ([]Decision, error) {
	if limit <= 0 {
		limit = 20
	}
	q, args := `SELECT run_id, customer_id, step, kind, at, text FROM journey_decisions WHERE journey = ?`, []any{journey}
	if runID > 0 {
		q += ` AND run_id = ?`
		args = append(args, runID)
	}
	rows, err := db.Query(ctx, q+` ORDER BY at DESC, run_id DESC, step, kind LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("journey %s decisions: %w", journey, err)
	}
	defer rows.Close()
	out := []Decision{}
	for rows.Next() {
		var d Decision
		var at int64
		if err := rows.Scan(&d.RunID, &d.CustomerID, &d.Step, &d.Kind, &at, &d.Text); err != nil {
			return nil, err
		}
		d.At = time.UnixMilli(at).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

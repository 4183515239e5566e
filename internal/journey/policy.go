package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// WorkspacePolicy holds the guardrails every journey gets unless its own policy says
// otherwise. It is stored as JSON in the journey.policy setting.
type WorkspacePolicy struct {
	Caps     map[string]Cap `json:"frequency_caps,omitempty"` // per channel, across all journeys
	Quiet    *Quiet         `json:"quiet_hours,omitempty"`
	Timezone string         `json:"timezone,omitempty"` // for customers without a timezone trait; default UTC
}

// LoadPolicy reads the workspace policy (empty when unset).
func LoadPolicy(ctx context.Context, db *store.DB) (WorkspacePolicy, error) {
	var p WorkspacePolicy
	v, ok, err := db.Setting(ctx, PolicySetting)
	if err != nil || !ok {
		return p, err
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return p, fmt.Errorf("setting %s: %w", PolicySetting, err)
	}
	return p, nil
}

// SavePolicy stores the workspace policy; running engines pick it up within 30 seconds.
func SavePolicy(ctx context.Context, db *store.DB, p WorkspacePolicy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, PolicySetting, string(b)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "journey.policy", Target: "setting:" + PolicySetting, Detail: map[string]any{"policy": json.RawMessage(b)}})
	})
}

func (e *Engine) capFor(pl *Plan, channel string) *Cap {
	if pl != nil && pl.Policy.Cap != nil {
		return pl.Policy.Cap
	}
	if c, ok := e.policy.Load().Caps[channel]; ok {
		return &c
	}
	return nil
}

func (e *Engine) quietFor(pl *Plan) *Quiet {
	if pl != nil && pl.Policy.Quiet != nil {
		return pl.Policy.Quiet
	}
	return e.policy.Load().Quiet
}

func (e *Engine) location(p *Profile) *time.Location {
	for _, tz := range []string{p.Timezone, e.policy.Load().Timezone} {
		if tz == "" {
			continue
		}
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}

// QuietUntil reports whether t falls in the quiet window q in loc and, if so, the
// instant the window ends there. DST is handled by building the end as a wall-clock
// time in loc.
func QuietUntil(t time.Time, loc *time.Location, q *Quiet) (time.Time, bool) {
	if q == nil || q.From == q.To {
		return t, false
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	var in bool
	if q.From < q.To {
		in = m >= q.From && m < q.To
	} else {
		in = m >= q.From || m < q.To
	}
	if !in {
		return t, false
	}
	end := time.Date(lt.Year(), lt.Month(), lt.Day(), q.To/60, q.To%60, 0, 0, loc)
	if !end.After(lt) {
		end = time.Date(lt.Year(), lt.Month(), lt.Day()+1, q.To/60, q.To%60, 0, 0, loc)
	}
	return end, true
}

// ParsePolicy reads a workspace policy document:
//
//	frequency_caps:
//	  email: {max: 3, per: 7d, over: skip}
//	  sms: {max: 1, per: 7d, over: delay}
//	quiet_hours: {from: "21:00", to: "08:00"}
//	timezone: Europe/Berlin
func ParsePolicy(src []byte) (WorkspacePolicy, error) {
	var wp WorkspacePolicy
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return wp, fmt.Errorf("parse policy: %w", err)
	}
	if len(root.Content) == 0 {
		return wp, nil
	}
	p := &parser{}
	o := p.object("", root.Content[0])
	if cn := o.node("frequency_caps"); cn != nil {
		co := p.object("frequency_caps", cn)
		wp.Caps = map[string]Cap{}
		for _, ch := range co.ord {
			if !slices.Contains(channels[:3], ch) {
				p.errorf("frequency_caps."+ch, co.kpos[ch], "%q is not email, sms or push", ch)
			}
			wp.Caps[ch] = p.cap("frequency_caps."+ch, co.node(ch))
		}
	}
	if qn := o.node("quiet_hours"); qn != nil {
		q := p.quiet("quiet_hours", qn)
		wp.Quiet = &q
	}
	wp.Timezone = o.str("timezone", false)
	if wp.Timezone != "" {
		if _, err := time.LoadLocation(wp.Timezone); err != nil {
			p.errorf("timezone", o.keys["timezone"], "%q is not a time zone (e.g. Europe/Berlin)", wp.Timezone)
		}
	}
	o.done("frequency_caps", "quiet_hours", "timezone")
	if len(p.errs) > 0 {
		return wp, &DocError{Errs: p.errs}
	}
	return wp, nil
}

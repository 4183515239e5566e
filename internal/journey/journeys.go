package journey

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
)

// Applied is the result of Apply.
type Applied struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Changed bool   `json:"changed"` // false: the document compiled to the stored plan; no new version
}

// Apply compiles a document and stores it as the journey's next version, unless it
// compiles to the same plan as the latest version. Running runs keep their version.
// A new version is recorded in the audit log as done by audit.ActorFrom(ctx).
func Apply(ctx context.Context, db *store.DB, src []byte) (Applied, error) {
	p, err := Compile(src)
	if err != nil {
		return Applied{}, err
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return Applied{}, err
	}
	sum := sha256.Sum256(pj)
	digest := hex.EncodeToString(sum[:])
	out := Applied{Name: p.Name}
	err = db.Write(ctx, func(tx *store.Tx) error {
		var v int
		var d string
		err := tx.QueryRow(ctx, `SELECT version, digest FROM journeys WHERE name = ? ORDER BY version DESC LIMIT 1`, p.Name).Scan(&v, &d)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && d == digest {
			out.Version = v
			return nil
		}
		out.Version, out.Changed = v+1, true
		_, err = tx.Exec(ctx, `INSERT INTO journeys (name, version, doc, plan, digest, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			p.Name, v+1, string(src), string(pj), digest, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if err := experiment.SyncJourneyTests(ctx, tx, audit.ActorFrom(ctx), p.Name, p.testExperiments(), time.Now()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "journey.apply", Target: "journey:" + p.Name,
			Detail: map[string]any{"version": v + 1, "digest": digest}})
	})
	if err != nil {
		return out, fmt.Errorf("apply journey %s: %w", p.Name, err)
	}
	return out, nil
}

// SetEnabled turns a journey on or off; off stops new entries, runs already in go on.
// Like Apply, it records the change in the audit log as done by audit.ActorFrom(ctx).
func SetEnabled(ctx context.Context, db *store.DB, name string, on bool) error {
	v := 0
	if on {
		v = 1
	}
	action := "journey.disable"
	if on {
		action = "journey.enable"
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE journeys SET enabled = ? WHERE name = ?`, v, name)
		if err != nil {
			return fmt.Errorf("enable journey %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("journey %s: %w", name, ErrNotFound)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: action, Target: "journey:" + name})
	})
}

// Summary is one journey in List.
type Summary struct {
	Name     string    `json:"name"`
	Version  int       `json:"version"`
	Enabled  bool      `json:"enabled"`
	Entry    string    `json:"entry"`
	Active   int64     `json:"active_runs"`
	Total    int64     `json:"total_runs"`
	Sent     int64     `json:"sent"`
	Created  time.Time `json:"created_at"`
	Describe string    `json:"description,omitempty"`
}

// List returns the latest version of every journey with run counts.
func List(ctx context.Context, db *store.DB) ([]Summary, error) {
	return list(ctx, db, true)
}

// Latest returns the latest version of every journey without run counts (Active, Total
// and Sent are zero): List's counts scan every run and send of each journey.
func Latest(ctx context.Context, db *store.DB) ([]Summary, error) {
	return list(ctx, db, false)
}

func list(ctx context.Context, db *store.DB, counts bool) ([]Summary, error) {
	cols := `0, 0, 0`
	if counts {
		cols = `(SELECT COUNT(*) FROM journey_runs r WHERE r.journey = j.name AND r.status = 'active'),
		(SELECT COUNT(*) FROM journey_runs r WHERE r.journey = j.name),
		(SELECT COUNT(*) FROM journey_sends s WHERE s.journey = j.name AND s.status = 'sent')`
	}
	rows, err := db.Query(ctx, `SELECT j.name, j.version, j.enabled, j.plan, j.created_at, `+cols+`
		FROM journeys j WHERE j.version = (SELECT MAX(version) FROM journeys k WHERE k.name = j.name) ORDER BY j.name`)
	if err != nil {
		return nil, fmt.Errorf("list journeys: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var s Summary
		var en int
		var pj string
		var created int64
		if err := rows.Scan(&s.Name, &s.Version, &en, &pj, &created, &s.Active, &s.Total, &s.Sent); err != nil {
			return nil, fmt.Errorf("list journeys: %w", err)
		}
		s.Enabled, s.Created = en == 1, time.UnixMilli(created).UTC()
		var p Plan
		if json.Unmarshal([]byte(pj), &p) == nil {
			s.Describe = p.Description
			s.Entry = p.Entry.Kind + " " + p.Entry.Event + p.Entry.Segment + p.Entry.Date
			if p.Entry.Kind == "lead_score" {
				s.Entry += fmt.Sprintf("above %g", p.Entry.LeadScoreAbove)
			}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// StepCount is how many runs reached and are at a step, and what its sends became.
type StepCount struct {
	Index      int              `json:"index"`
	ID         string           `json:"id"`
	Text       string           `json:"text"`
	Words      string           `json:"words"`   // the step in plain words, without template syntax
	Waiting    int64            `json:"waiting"` // active runs at this step
	Sends      map[string]int64 `json:"sends,omitempty"`
	Opened     int64            `json:"opened,omitempty"`
	Clicked    int64            `json:"clicked,omitempty"`
	Suppressed map[string]int64 `json:"suppressed,omitempty"` // by reason
}

// Detail is a journey's latest version with counts per step.
type Detail struct {
	Name     string           `json:"name"`
	Version  int              `json:"version"`
	Enabled  bool             `json:"enabled"`
	Plan     *Plan            `json:"plan"`
	Doc      string           `json:"document"`
	Runs     map[string]int64 `json:"runs"` // by status
	Steps    []StepCount      `json:"steps"`
	Versions int              `json:"versions"`
	// Decisions are the latest channel and send-time choices, newest first.
	Decisions []Decision `json:"decisions,omitempty"`
}

// Show returns a journey's latest version, its runs by status and counts per step
// (over all versions whose step ids line up with the latest plan's).
func Show(ctx context.Context, db *store.DB, name string) (*Detail, error) {
	d := &Detail{Name: name, Runs: map[string]int64{}}
	var pj string
	var en int
	err := db.QueryRow(ctx, `SELECT version, enabled, doc, plan, (SELECT COUNT(*) FROM journeys WHERE name = ?) FROM journeys WHERE name = ? ORDER BY version DESC LIMIT 1`, name, name).
		Scan(&d.Version, &en, &d.Doc, &pj, &d.Versions)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("journey %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("show journey %s: %w", name, err)
	}
	d.Enabled = en == 1
	d.Plan = &Plan{}
	if err := json.Unmarshal([]byte(pj), d.Plan); err != nil {
		return nil, fmt.Errorf("journey %s: stored plan: %w", name, err)
	}
	for i, n := range d.Plan.Nodes {
		d.Steps = append(d.Steps, StepCount{Index: i, ID: n.ID, Text: d.Plan.nodeText(&n), Words: d.Plan.StepWords(i), Sends: map[string]int64{}, Suppressed: map[string]int64{}})
	}
	rows, err := db.Query(ctx, `SELECT status, step, COUNT(*) FROM journey_runs WHERE journey = ? AND version = ? GROUP BY status, step`, name, d.Version)
	if err != nil {
		return nil, fmt.Errorf("show journey %s: %w", name, err)
	}
	for rows.Next() {
		var st string
		var step int
		var n int64
		if err := rows.Scan(&st, &step, &n); err != nil {
			rows.Close()
			return nil, err
		}
		d.Runs[st] += n
		if st == "active" && step >= 0 && step < len(d.Steps) {
			d.Steps[step].Waiting += n
		}
	}
	rows.Close()
	rows, err = db.Query(ctx, `SELECT s.step, s.status, s.reason, COUNT(*), SUM(CASE WHEN s.opened_at > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN s.clicked_at > 0 THEN 1 ELSE 0 END)
		FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id WHERE r.journey = ? AND r.version = ? GROUP BY s.step, s.status, s.reason`, name, d.Version)
	if err != nil {
		return nil, fmt.Errorf("show journey %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var step int
		var st, reason string
		var n, op, cl int64
		if err := rows.Scan(&step, &st, &reason, &n, &op, &cl); err != nil {
			return nil, err
		}
		if step < 0 || step >= len(d.Steps) {
			continue
		}
		sc := &d.Steps[step]
		sc.Sends[st] += n
		if st == "suppressed" {
			sc.Suppressed[reason] += n
		}
		sc.Opened += op
		sc.Clicked += cl
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if d.Decisions, err = Decisions(ctx, db, name, 0, 10); err != nil {
		return nil, err
	}
	return d, nil
}

package experiment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// A journey step's test is stored as an experiment too, so that it is listed with the
// others and `omniroi experiment report NAME` reads it: unit run, Design.Journey and
// Design.Step naming where it lives. It is running from the moment a journey version
// with it is applied, and stopped when a version without it is applied; the journey
// package computes its report (JourneyReporter).

// UnitRun is a journey run reaching a test step.
const UnitRun Unit = "run"

// JourneyReporter reads a journey test's report; the journey package sets it (it imports
// this one, not the other way round).
var JourneyReporter func(ctx context.Context, db *store.DB, e Experiment, now time.Time) (Report, error)

// IsJourneyTest reports whether e lives in a journey step.
func (e Experiment) IsJourneyTest() bool { return e.Design.Journey != "" }

// SyncJourneyTests records, in the transaction that applies a journey version, the
// tests that version has: new ones are created running, changed ones updated, and the
// journey's running tests the version no longer has are stopped. A test's name may not
// be another experiment's.
func SyncJourneyTests(ctx context.Context, tx *store.Tx, actor, journey string, tests []Experiment, now time.Time) error {
	keep := map[string]bool{}
	for _, e := range tests {
		e.Unit = UnitRun
		e.Design.Journey = journey
		if err := e.Validate(); err != nil {
			return fmt.Errorf("test %s: %w", e.Name, err)
		}
		keep[e.Name] = true
		vj, _ := json.Marshal(e.Variants)
		mj, _ := json.Marshal(e.Metric)
		dj, _ := json.Marshal(e.Design)
		old, err := scanExperiment(tx.QueryRow(ctx, `SELECT `+expCols+` FROM experiments WHERE name = ?`, e.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO experiments (name, hypothesis, unit, variants, metric, guardrails, mde, status, start_at, end_at, channel, design, created_at, updated_at)
				VALUES (?,?,?,?,?,'[]',?,?,?,0,'',?,?,?) RETURNING id`,
				e.Name, e.Hypothesis, string(UnitRun), string(vj), string(mj), e.MDE, StatusRunning, now.UnixMilli(), string(dj), now.UnixMilli(), now.UnixMilli()).Scan(&id); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "experiment.create", Target: fmt.Sprintf("experiment:%d", id),
				Detail: map[string]any{"name": e.Name, "unit": string(UnitRun), "journey": journey, "step": e.Design.Step}}); err != nil {
				return err
			}
		case err != nil:
			return err
		case old.Design.Journey != journey:
			return fmt.Errorf("test %s: an experiment of that name exists already; give the test another name", e.Name)
		default:
			start := millis(old.Start)
			if old.Status != StatusRunning {
				start = now.UnixMilli() // a test taken out and put back starts a new period
			}
			if _, err := tx.Exec(ctx, `UPDATE experiments SET variants = ?, metric = ?, design = ?, status = ?, start_at = ?, end_at = 0, updated_at = ? WHERE id = ?`,
				string(vj), string(mj), string(dj), StatusRunning, start, now.UnixMilli(), old.ID); err != nil {
				return err
			}
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+expCols+` FROM experiments WHERE unit = ? AND status = ?`, string(UnitRun), StatusRunning)
	if err != nil {
		return err
	}
	var gone []Experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			rows.Close()
			return err
		}
		if e.Design.Journey == journey && !keep[e.Name] {
			gone = append(gone, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range gone {
		if _, err := tx.Exec(ctx, `UPDATE experiments SET status = ?, end_at = ?, updated_at = ? WHERE id = ?`, StatusStopped, now.UnixMilli(), now.UnixMilli(), e.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "experiment.stop", Target: fmt.Sprintf("experiment:%d", e.ID),
			Detail: map[string]any{"name": e.Name, "journey": journey, "why": "removed from the journey"}}); err != nil {
			return err
		}
	}
	return nil
}

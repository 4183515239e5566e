package identity

// What an erasure (internal/privacy) needs from the processor: it deletes derived rows
// under a running processor, so the processor's in-memory graph must be reloaded, and it
// scrubs the erased person's values out of other customers' traits.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/omniroi/omniroi/internal/store"
)

// EpochSetting changes whenever rows the processor derived were changed by someone else
// (an erasure). The processor reloads its graph when it changes, and its write
// transaction refuses to write a batch built on an older graph.
const EpochSetting = "processor.epoch"

// errEpochChanged makes the processor drop its graph and reload.
var errEpochChanged = errors.New("derived tables changed under the processor (an erasure); reloading")

// BumpEpoch marks the derived tables changed, inside the transaction that changed them.
// On PostgreSQL it takes the row lock the processor's write takes, so the two serialise.
func BumpEpoch(ctx context.Context, tx *store.Tx) error {
	if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`, EpochSetting); err != nil {
		return fmt.Errorf("bump processor epoch: %w", err)
	}
	return nil
}

func (p *Processor) readEpoch(ctx context.Context) (string, error) {
	v, _, err := p.db.Setting(ctx, EpochSetting)
	return v, err
}

// epochMoved reports whether the graph in memory predates an erasure.
func (p *Processor) epochMoved(ctx context.Context) (bool, error) {
	v, err := p.readEpoch(ctx)
	if err != nil {
		return false, err
	}
	return v != p.epoch, nil
}

// checkEpoch, inside the processor's write transaction, fails when an erasure committed
// after the graph was loaded. FOR UPDATE on PostgreSQL waits for an erasure in flight.
func (p *Processor) checkEpoch(ctx context.Context, tx *store.Tx) error {
	q := `SELECT value FROM settings WHERE key = ?`
	if tx.Dialect == store.Postgres {
		q += ` FOR UPDATE`
	}
	var v string
	if err := tx.QueryRow(ctx, q, EpochSetting).Scan(&v); err != nil && p.epoch != "" {
		return fmt.Errorf("read processor epoch: %w", err)
	}
	if v != p.epoch {
		return errEpochChanged
	}
	return nil
}

// ScrubTraits rewrites, in the traits of customers ids (other people, whose events
// mentioned an erased person), every value redact changes, and recomputes their display
// name, email and phone. The erasure redacts the same values in those people's events the
// same way, so a rebuild derives the same rows. It returns how many customers changed.
func ScrubTraits(ctx context.Context, tx *store.Tx, ids []int64, redact func(json.RawMessage) (json.RawMessage, bool)) (int, error) {
	changed := 0
	for _, id := range ids {
		var raw string
		if err := tx.QueryRow(ctx, `SELECT traits FROM customers WHERE id = ?`, id).Scan(&raw); err != nil {
			return changed, fmt.Errorf("scrub customer %d: %w", id, err)
		}
		c := &customer{id: id, traitsRaw: raw}
		m := c.traitMap()
		touched := false
		for k, t := range m {
			if nv, ok := redact(t.V); ok {
				t.V = nv
				m[k] = t
				touched = true
			}
			// A consent trait keeps each category's value among its leaves too (consent.go).
			for i := range t.P {
				if nv, ok := redact(t.P[i].V); ok {
					t.P[i].V = nv // t.P was parsed for this customer alone
					m[k] = t
					touched = true
				}
			}
		}
		if !touched {
			continue
		}
		c.refreshDisplay()
		if _, err := tx.Exec(ctx, `UPDATE customers SET traits = ?, name = ?, email = ?, phone = ? WHERE id = ?`,
			c.traitsJSON(), c.name, c.email, c.phone, id); err != nil {
			return changed, fmt.Errorf("scrub customer %d: %w", id, err)
		}
		changed++
	}
	return changed, nil
}

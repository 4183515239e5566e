// Package identitytest loads events for tests the way production does: Segment payloads
// through event.Normalize into the event log, then the identity processor derives
// customers, identities, touchpoints and orders from them.
package identitytest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Insert normalizes Segment payloads and appends them to the event log under the source
// named source (created when missing). received is the server clock the payloads arrive
// at, which payloads without a timestamp take. A payload is JSON as a string, []byte or
// json.RawMessage; any other value (a map, a struct) is marshalled to JSON first.
func Insert[P any](t testing.TB, db *store.DB, source string, received time.Time, payloads ...P) {
	t.Helper()
	ctx := context.Background()
	src, err := db.EnsureSource(ctx, source)
	if err != nil {
		t.Fatalf("source %q: %v", source, err)
	}
	evs := make([]event.Event, 0, len(payloads))
	for _, p := range payloads {
		raw, err := rawJSON(any(p))
		if err != nil {
			t.Fatalf("marshal %v: %v", p, err)
		}
		e, err := event.Normalize(raw, "", received, time.Time{})
		if err != nil {
			t.Fatalf("normalize %s: %v", raw, err)
		}
		e.SourceID = src.ID
		evs = append(evs, e)
	}
	if err := db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		_, err := store.InsertEvents(ctx, tx, evs)
		return err
	}); err != nil {
		t.Fatalf("insert events: %v", err)
	}
}

// CatchUp runs the identity processor (default options) until it has derived everything
// in the event log.
func CatchUp(t testing.TB, db *store.DB) {
	t.Helper()
	if err := identity.NewProcessor(db, identity.Options{}).CatchUp(context.Background()); err != nil {
		t.Fatalf("catch up: %v", err)
	}
}

// Load is Insert followed by CatchUp.
func Load[P any](t testing.TB, db *store.DB, source string, received time.Time, payloads ...P) {
	t.Helper()
	Insert(t, db, source, received, payloads...)
	CatchUp(t, db)
}

func rawJSON(p any) ([]byte, error) {
	switch v := p.(type) {
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	}
	return json.Marshal(p)
}

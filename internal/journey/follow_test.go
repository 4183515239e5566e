package journey

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// insertMany appends track events in one transaction (the fixture's insert takes one
// each, too slow for thousands).
func (f *fixture) insertMany(userID string, names []string, props func(i int) map[string]any) {
	f.t.Helper()
	now := f.clock()
	evs := make([]event.Event, 0, len(names))
	for i, name := range names {
		f.n++
		call := map[string]any{"type": "track", "event": name, "userId": userID, "messageId": fmt.Sprintf("m%d", f.n),
			"timestamp": event.FormatTime(now), "properties": props(i)}
		body, _ := json.Marshal(call)
		ev, err := event.Normalize(body, "", now, now)
		if err != nil {
			f.t.Fatal(err)
		}
		ev.SourceID = f.src
		evs = append(evs, ev)
	}
	err := f.db.Write(f.ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(f.ctx, tx); err != nil {
			return err
		}
		_, err := store.InsertEvents(f.ctx, tx, evs)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// With no journey, the engine passes the log without reading its events: a shop that
// has none pays nothing per event. Counted in allocations, which reading and parsing
// events make by the dozen each.
func TestEngineReadsNothingWithoutJourneys(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{Batch: 5000})
	a := f.customer(1, consented)
	const n = 2000
	names := make([]string, n)
	for i := range names {
		names[i] = "Product Viewed"
	}
	f.insertMany(a, names, func(i int) map[string]any {
		return map[string]any{"product_id": fmt.Sprintf("p%d", i%40), "price": 4.5, "category": "bread"}
	})
	f.process()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := f.eng.Step(f.ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if cur, err := settingInt(f.ctx, db, CursorSetting); err != nil || cur < n {
		t.Fatalf("journey cursor %d (%v), want past the %d events", cur, err, n)
	}
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations for one step over %d events", allocs, n)
	if allocs > n/2 {
		t.Fatalf("one step over %d events no journey names made %d allocations: it read the events", n, allocs)
	}
}

// Reading only what plans name keeps every effect: a journey applied later starts runs
// on later events, a disabled journey's runs still exit on their exit event, and a
// span with more matching events than a batch is consumed exactly once.
func TestEngineFollowsOnlyNamedEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{Batch: 3})
		a := f.customer(1, consented)
		f.track(a, "Product Added", map[string]any{"cart_id": "before"})
		f.applyTemplate("abandoned-cart", "holdout: 10%", "holdout: 0%")
		if n := f.count(`SELECT COUNT(*) FROM journey_runs`); n != 0 {
			t.Fatalf("%d runs from an event consumed before the journey existed", n)
		}
		// Ten carts between irrelevant events, consumed three at a time.
		names := make([]string, 40)
		for i := range names {
			names[i] = "Page Viewed"
			if i%4 == 1 {
				names[i] = "Product Added"
			}
		}
		f.insertMany(a, names, func(i int) map[string]any { return map[string]any{"cart_id": fmt.Sprintf("c%d", i)} })
		f.drain()
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'active'`); n != 10 {
			t.Fatalf("active runs = %d, want 10 (one per cart added after the journey was applied)", n)
		}
		if err := SetEnabled(f.ctx, db, "abandoned-cart", false); err != nil {
			t.Fatal(err)
		}
		f.drain()
		f.track(a, "Product Added", map[string]any{"cart_id": "disabled"}) // no entry: disabled
		f.track(a, "Order Completed", map[string]any{"cart_id": "c5", "order_id": "o1"})
		if n := f.count(`SELECT COUNT(*) FROM journey_runs WHERE status = 'exited'`); n != 1 {
			t.Fatalf("exited runs = %d, want 1: a disabled journey's run ends on its exit event", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM journey_runs`); n != 10 {
			t.Fatalf("runs = %d, want 10", n)
		}
	})
}

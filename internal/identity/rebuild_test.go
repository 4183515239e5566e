package identity_test

import (
	"context"
	"sync"
	"testing"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestIncrementalEqualsRebuild(t *testing.T) {
	t.Parallel()
	evs := genEvents(3000, 1)
	var mu sync.Mutex
	dumps := map[string]string{}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Incrementally: the log grows in chunks, processed in small odd-sized batches.
		// One processor keeps its graph between turns; fresh ones load it from the tables.
		// Fresh ones write 250 events per transaction read in chunks of 64.
		kept := identity.NewProcessor(db, identity.Options{BatchSize: 97, CatchUpBatchSize: 97, ReadChunk: 64})
		for i, start := 0, 0; start < len(evs); i, start = i+1, start+500 {
			insert(t, db, evs[start:min(start+500, len(evs))]...)
			p := kept
			if i%3 == 2 {
				p = identity.NewProcessor(db, identity.Options{BatchSize: 97, CatchUpBatchSize: 250, ReadChunk: 64})
			}
			if err := p.CatchUp(ctx); err != nil {
				t.Fatal(err)
			}
		}
		inc := dump(t, db)
		if err := identity.NewProcessor(db, identity.Options{BatchSize: 5000}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		full := dump(t, db)
		if inc != full {
			t.Fatalf("incremental and rebuilt tables differ:\n%s", firstDiff(inc, full))
		}
		// The stream must exercise what it claims to.
		for q, min := range map[string]int64{
			`SELECT COUNT(*) FROM customer_merges`:               50,
			`SELECT COUNT(*) FROM identity_conflicts`:            5,
			`SELECT COUNT(*) FROM identities WHERE shared = 1`:   1,
			`SELECT COUNT(*) FROM orders`:                        200,
			`SELECT COUNT(*) FROM refunds WHERE full_refund = 1`: 5,
			`SELECT COUNT(*) FROM customers WHERE user_id <> ''`: 50,
			`SELECT COUNT(DISTINCT channel) FROM activity`:       5,
		} {
			if n := count(t, db, q); n < min {
				t.Errorf("%s = %d, want >= %d", q, n, min)
			}
		}
		// Every derived row points at an existing customer.
		for _, q := range []string{
			`SELECT COUNT(*) FROM activity WHERE customer_id NOT IN (SELECT id FROM customers)`,
			`SELECT COUNT(*) FROM identities WHERE customer_id NOT IN (SELECT id FROM customers)`,
			`SELECT COUNT(*) FROM orders WHERE customer_id NOT IN (SELECT id FROM customers)`,
		} {
			if n := count(t, db, q); n != 0 {
				t.Errorf("%s = %d, want 0", q, n)
			}
		}
		mu.Lock()
		dumps[string(db.Dialect)] = full
		mu.Unlock()
	})
	if a, b := dumps["sqlite"], dumps["postgres"]; a != "" && b != "" && a != b {
		t.Fatalf("SQLite and PostgreSQL derived different tables:\n%s", firstDiff(a, b))
	}
}

func firstDiff(a, b string) string {
	al, bl := splitLines(a), splitLines(b)
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i) + ":\n  " + x + "\n  " + y
		}
	}
	return "(same)"
}

// A batch that fails half-way leaves nothing behind: rows and cursor commit together, and
// the next run produces exactly what an uninterrupted one would.
func TestFailedBatchLeavesNoTrace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		evs := genEvents(600, 3)
		insert(t, db, evs[:300]...)
		catchUp(t, db)
		before := dump(t, db)
		st0, err := identity.Stats(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		insert(t, db, evs[300:]...)
		// Make the write fail at the refunds insert, after activity and customers were written.
		if _, err := db.Exec(ctx, `ALTER TABLE refunds RENAME TO refunds_away`); err != nil {
			t.Fatal(err)
		}
		p := identity.NewProcessor(db, identity.Options{})
		if err := p.CatchUp(ctx); err == nil {
			t.Fatal("CatchUp succeeded without a refunds table")
		}
		if _, err := db.Exec(ctx, `ALTER TABLE refunds_away RENAME TO refunds`); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db); got != before {
			t.Fatalf("a failed batch left rows behind:\n%s", firstDiff(before, got))
		}
		if st, err := identity.Stats(ctx, db); err != nil || st.ProcessedSeq != st0.ProcessedSeq || st.Unidentified != st0.Unidentified {
			t.Fatalf("cursor moved by a failed batch: %d → %d (%v)", st0.ProcessedSeq, st.ProcessedSeq, err)
		}
		// The same processor recovers (it drops its in-memory state) and catches up.
		if err := p.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		inc := dump(t, db)
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if full := dump(t, db); full != inc {
			t.Fatalf("recovered run differs from a rebuild:\n%s", firstDiff(inc, full))
		}
	})
}

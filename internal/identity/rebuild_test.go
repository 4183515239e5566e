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
	evs := genEvents(3000, 1)
	var mu sync.Mutex
	dumps := map[string]string{}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Incrementally: the log grows in chunks, processed in small odd-sized batches.
		// One processor keeps its graph between turns; fresh ones load it from the tables.
		kept := identity.NewProcessor(db, identity.Options{BatchSize: 97})
		for i, start := 0, 0; start < len(evs); i, start = i+1, start+500 {
			insert(t, db, evs[start:min(start+500, len(evs))]...)
			p := kept
			if i%3 == 2 {
				p = identity.NewProcessor(db, identity.Options{BatchSize: 97})
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

package pathstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestOneProcessorEqualsFromScratch: one processor, as a server runs it, edits the rows
// batch after batch from the rows it decoded in the batch before (RowCache); the table
// stays byte for byte what Compute derives, also when rows change under it between
// batches (an erasure, a rebuild by another processor).
func TestOneProcessorEqualsFromScratch(t *testing.T) {
	for _, seed := range []uint64{4, 5} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if seed%2 == 1 {
				defer pathstore.SetBlockBits(3)()
			}
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				r := rand.New(rand.NewPCG(seed, 17))
				evs := genEvents(r, 60)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				p := identity.NewProcessor(db, identity.Options{})
				for step := 0; len(evs) > 0; step++ {
					n := min(len(evs), 1+r.IntN(40))
					identitytest.Insert(t, db, "web", t0.Add(90*24*time.Hour), evs[:n]...)
					if err := p.CatchUp(ctx); err != nil {
						t.Fatal(err)
					}
					evs = evs[n:]
					switch step {
					case 3: // rows change under the processor's cache
						eraseFirstBuyer(t, db)
					case 6:
						if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
							t.Fatal(err)
						}
					}
					if step%4 == 0 || len(evs) == 0 {
						gotD, gotS := stored(t, db)
						wantD, wantS := fromScratch(t, db)
						sameRows(t, fmt.Sprintf("after batch %d", step), gotD, wantD)
						sameRows(t, fmt.Sprintf("summaries after batch %d", step), gotS, wantS)
					}
				}
			})
		})
	}
}

// eraseFirstBuyer deletes the customer of the first order from the processor's tables
// and the paths table, as an erasure does.
func eraseFirstBuyer(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	var cid int64
	if err := db.QueryRow(ctx, `SELECT customer_id FROM orders ORDER BY customer_id LIMIT 1`).Scan(&cid); err != nil {
		t.Fatal(err)
	}
	err := db.Write(ctx, func(tx *store.Tx) error {
		for _, q := range []string{`DELETE FROM refunds WHERE order_id IN (SELECT order_id FROM orders WHERE customer_id = ?)`,
			`DELETE FROM orders WHERE customer_id = ?`, `DELETE FROM activity WHERE customer_id = ?`} {
			if _, err := tx.Exec(ctx, q, cid); err != nil {
				return err
			}
		}
		_, err := pathstore.EraseCustomers(ctx, tx, []int64{cid})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

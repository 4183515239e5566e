package identity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestProfileSizeBounded: a person's merged traits stay within 64 KB however many calls
// (or merged profiles) bring keys; the keys left out are named where rejections are
// listed, and a rebuild gives the same profile without repeating the notes.
func TestProfileSizeBounded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		traits := func(prefix string, n int) map[string]any {
			m := map[string]any{}
			for i := range n {
				m[fmt.Sprintf("%s%03d", prefix, i)] = strings.Repeat("v", 100)
			}
			return m
		}
		var calls []map[string]any
		for c := range 6 { // 6 calls × 200 keys × ~150 bytes: ~180 KB of traits
			calls = append(calls, map[string]any{"type": "identify", "userId": "u-big", "timestamp": at.Add(time.Duration(c) * time.Minute).Format(time.RFC3339),
				"traits": traits(fmt.Sprintf("c%d_", c), 200)})
		}
		// Two people of ~40 KB each, then one email joins them: the merge is bounded too.
		for _, u := range []string{"u-a", "u-b"} {
			tr := traits(u+"_", 250)
			tr["email"] = "shared@example.com"
			calls = append(calls, map[string]any{"type": "identify", "userId": u, "timestamp": at.Add(time.Hour).Format(time.RFC3339), "traits": tr})
		}
		identitytest.Load(t, db, "web", at.Add(2*time.Hour), calls...)

		check := func() int {
			t.Helper()
			rows, err := db.Query(ctx, `SELECT id, traits FROM customers`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var id int64
				var tr string
				if err := rows.Scan(&id, &tr); err != nil {
					t.Fatal(err)
				}
				if len(tr) > event.MaxProfileBytes {
					t.Errorf("customer %d has %d bytes of traits, over %d", id, len(tr), event.MaxProfileBytes)
				}
				n++
			}
			var notes int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rejected_events WHERE origin = ? AND reason LIKE '%left out of the profile%'`, identity.ProfileOrigin).Scan(&notes); err != nil {
				t.Fatal(err)
			}
			return notes
		}
		notes := check()
		if notes == 0 {
			t.Fatal("no rejected_events row names the trait keys left out")
		}
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if again := check(); again != notes {
			t.Fatalf("after a rebuild %d notes, before %d", again, notes)
		}
	})
}

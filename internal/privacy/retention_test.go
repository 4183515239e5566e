package privacy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

// TestRetention: events received before privacy.retention.events are minimised (ids,
// times, channels and orders stay: a rebuild derives the same orders and touchpoints),
// rejected payloads and message copies past their periods are deleted, and the job does
// nothing the second time.
func TestRetention(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		old := now.AddDate(0, 0, -800)
		identitytest.Insert(t, db, "web", old,
			`{"type":"page","userId":"u-old","anonymousId":"a-old","name":"Home","context":{"ip":"192.0.2.9","userAgent":"Mozilla/5.0 Old","page":{"url":"https://shop.example/?utm_source=news&email=old%40example.com","title":"Hello Olga"},"campaign":{"source":"news","medium":"email"}}}`,
			`{"type":"identify","userId":"u-old","traits":{"email":"old@example.com","name":"Olga Oldfield","consent":{"email":{"marketing":true}}}}`,
			`{"type":"track","userId":"u-old","event":"Order Completed","properties":{"order_id":"o-old","revenue":25,"currency":"EUR","email":"old@example.com","gift_note":"For Olga","products":[{"product_id":"p1","price":25,"engraving":"OLGA"}]}}`)
		identitytest.Insert(t, db, "web", now,
			`{"type":"identify","userId":"u-new","traits":{"email":"new@example.com","name":"Nina New"}}`,
			`{"type":"track","userId":"u-new","event":"Order Completed","properties":{"order_id":"o-new","revenue":10,"currency":"EUR"}}`)
		identitytest.CatchUp(t, db)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, r := range []struct {
				at   time.Time
				body string
			}{{now.AddDate(0, 0, -31), `{"email":"old-reject@example.com"}`}, {now.AddDate(0, 0, -1), `{"email":"new-reject@example.com"}`}} {
				if _, err := tx.Exec(ctx, `INSERT INTO rejected_events (source_id, received_at, origin, position, reason, body) VALUES (1, ?, 'api /v1/batch', 0, 'test', ?)`, r.at.UnixMilli(), r.body); err != nil {
					return err
				}
			}
			for i, at := range []time.Time{now.AddDate(0, 0, -100), now} {
				if _, err := tx.Exec(ctx, `INSERT INTO journey_runs (journey, version, customer_id, status, entry_props, started_at, updated_at, ended_at) VALUES ('welcome', 1, 1, 'done', '{"email":"x@example.com"}', ?, ?, ?)`,
					at.UnixMilli(), at.UnixMilli(), at.UnixMilli()); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO journey_sends (idem_key, run_id, journey, customer_id, step, channel, purpose, status, reason, not_before, created_at) VALUES (?, 1, 'welcome', 1, 0, 'email', 'marketing', 'failed', 'smtp send to x@example.com: 550', ?, ?)`,
					"k"+itoa(int64(i)), at.UnixMilli(), at.UnixMilli()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(db.DataDir, privacy.OutboxDir, "email")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, age := range map[string]time.Duration{"old.eml": 100 * 24 * time.Hour, "new.eml": time.Hour} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("To: someone@example.com\r\n\r\nHi"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}
		ordersBefore := dumpRows(t, db, `SELECT order_id, customer_id, revenue_minor, channel FROM orders ORDER BY order_id`)
		touchBefore := dumpRows(t, db, `SELECT seq, customer_id, channel, campaign FROM activity ORDER BY seq`)

		rep, err := privacy.RunRetention(ctx, db, now)
		if err != nil {
			t.Fatal(err)
		}
		if rep.EventsMinimised != 3 || rep.RejectedDeleted != 1 || rep.FilesDeleted != 1 || rep.ReasonsCleared != 1 || rep.PropsCleared != 1 {
			t.Fatalf("report: %+v", rep)
		}
		rows, err := db.Query(ctx, `SELECT user_id, received_at, body FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var uid, body string
			var recv int64
			if err := rows.Scan(&uid, &recv, &body); err != nil {
				t.Fatal(err)
			}
			if uid != "u-old" {
				if strings.Contains(body, "minimised") {
					t.Errorf("a recent event was minimised: %s", body)
				}
				continue
			}
			for _, gone := range []string{"old@example.com", "old%40example.com", "Olga", "OLGA", "192.0.2.9", "Mozilla"} {
				if strings.Contains(body, gone) {
					t.Errorf("minimised event keeps %q: %s", gone, body)
				}
			}
			if !strings.Contains(body, `"userId":"u-old"`) {
				t.Errorf("minimised event lost its userId: %s", body)
			}
		}
		rows.Close()
		if files, _ := os.ReadDir(dir); len(files) != 1 || files[0].Name() != "new.eml" {
			t.Fatalf("outbox after retention: %v", files)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM rejected_events`); n != 1 {
			t.Fatalf("rejected left: %d", n)
		}
		// Events are the source of truth: a rebuild from minimised ones derives the same
		// orders and touchpoints (channels and campaigns included).
		if err := identity.NewProcessor(db, identity.Options{}).Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if after := dumpRows(t, db, `SELECT order_id, customer_id, revenue_minor, channel FROM orders ORDER BY order_id`); after != ordersBefore {
			t.Fatalf("orders after rebuild:\n%s\nbefore:\n%s", after, ordersBefore)
		}
		if after := dumpRows(t, db, `SELECT seq, customer_id, channel, campaign FROM activity ORDER BY seq`); after != touchBefore {
			t.Fatalf("touchpoints after rebuild:\n%s\nbefore:\n%s", after, touchBefore)
		}
		if rep, err := privacy.RunRetention(ctx, db, now); err != nil || rep.EventsMinimised+rep.RejectedDeleted+rep.ReasonsCleared+rep.PropsCleared != 0 || rep.FilesDeleted != 0 {
			t.Fatalf("second run: %+v %v", rep, err)
		}
		// History imported later with its original receipt time is caught on the next run.
		identitytest.Insert(t, db, "import", old, `{"type":"identify","userId":"u-late","traits":{"email":"late@example.com"}}`)
		if rep, err := privacy.RunRetention(ctx, db, now); err != nil || rep.EventsMinimised != 1 {
			t.Fatalf("run after a late import: %+v %v", rep, err)
		}
		// 0 keeps the data.
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, workspace.RetentionEventsKey.Name, "0"); err != nil {
			t.Fatal(err)
		}
		identitytest.Insert(t, db, "import", old, `{"type":"identify","userId":"u-kept","traits":{"email":"kept@example.com"}}`)
		if rep, err := privacy.RunRetention(ctx, db, now); err != nil || rep.EventsMinimised != 0 || rep.Cutoffs[workspace.RetentionEventsKey.Name] != "kept" {
			t.Fatalf("retention off: %+v %v", rep, err)
		}
	})
}

func dumpRows(t *testing.T, db *store.DB, q string) string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprint(&b, v, "\t")
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		t.Fatalf("%s: no rows", q)
	}
	return b.String()
}

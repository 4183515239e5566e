package mix

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func setSetting(t testing.TB, db *store.DB, k, v string) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx *store.Tx) error { return store.SetSetting(context.Background(), tx, k, v) }); err != nil {
		t.Fatal(err)
	}
}

func insertSpend(t testing.TB, db *store.DB, day, channel string, amount int64, cur string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, '', 'manual', ?, ?)`,
		day, channel, amount, cur); err != nil {
		t.Fatalf("insert spend: %v", err)
	}
}

// TestLoadStore reads the daily series the way `omniroi budget` does without --input:
// days in the business time zone, refunds netted on their own day (a refund without an
// amount takes the order's amount), other currencies left out, today left out.
func TestLoadStore(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setSetting(t, db, "currency", "EUR")
		setSetting(t, db, "timezone", "America/New_York") // UTC−5 in winter
		ny, _ := time.LoadLocation("America/New_York")
		at := func(day, hour int) time.Time { return time.Date(2026, 1, 1+day, hour, 30, 0, 0, ny) }
		var evs []string
		order := func(id, user string, ts time.Time, revenue float64, cur string) {
			evs = append(evs, fmt.Sprintf(`{"type":"track","event":"Order Completed","userId":%q,"timestamp":%q,"properties":{"order_id":%q,"revenue":%v,"currency":%q}}`,
				user, ts.UTC().Format(time.RFC3339), id, revenue, cur))
		}
		refund := func(id, user string, ts time.Time, amount string) {
			evs = append(evs, fmt.Sprintf(`{"type":"track","event":"Order Refunded","userId":%q,"timestamp":%q,"properties":{"order_id":%q%s}}`,
				user, ts.UTC().Format(time.RFC3339), id, amount))
		}
		order("A", "u1", at(0, 23), 30, "EUR") // 23:30 in New York is the next day in UTC: still day 0
		order("B", "u2", at(1, 10), 50, "EUR")
		order("C", "u1", at(1, 11), 20, "EUR")
		order("D", "u3", at(2, 9), 99, "USD") // another currency: left out
		refund("B", "u2", at(3, 12), "")      // full refund: the order's 50, on day 3
		refund("C", "u1", at(3, 13), `,"amount":5`)
		order("E", "u4", at(4, 12), 10, "EUR")
		identitytest.Load(t, db, "shop", at(5, 0), evs...)
		for d := range 6 {
			day := time.Date(2026, 1, 1+d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			insertSpend(t, db, day, "Paid Search", int64(1000+100*d), "EUR")
			if d%2 == 0 {
				insertSpend(t, db, day, "Paid Social", 2500, "EUR")
			}
		}
		if _, err := db.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, ?, ?, ?, ?)`, "2026-01-02", "Paid Search", "us", "manual", 777, "USD"); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 5, 15, 0, 0, 0, ny) // day 4 is today: left out

		s, err := LoadStore(ctx, db, StoreOptions{Target: TargetRevenue, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		d := s.Data
		if d.Len() != 4 || civil(d.Dates[0]) != "2026-01-01" || civil(d.Dates[3]) != "2026-01-04" {
			t.Fatalf("dates %v", d.Dates)
		}
		want := []float64{30, 70, 0, -55}
		for i, v := range want {
			if math.Abs(d.Target[i]-v) > 1e-9 {
				t.Errorf("revenue %v, want %v", d.Target, want)
				break
			}
		}
		if s.Currency != "EUR" || !s.Money || strings.Join(d.Channels, ",") != "Paid Search,Paid Social" {
			t.Errorf("currency %s, channels %v", s.Currency, d.Channels)
		}
		if d.Spend[0][1] != 11 || d.Spend[1][1] != 0 || d.Spend[1][2] != 25 {
			t.Errorf("spend %v", d.Spend)
		}
		if !strings.Contains(strings.Join(s.Notes, " "), "1 orders in other currencies") || !strings.Contains(strings.Join(s.Notes, " "), "1 spend rows in other currencies") {
			t.Errorf("notes %v", s.Notes)
		}
		o, err := LoadStore(ctx, db, StoreOptions{Target: TargetOrders, Now: now, From: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if o.Data.Len() != 3 || o.Data.Target[0] != 2 || o.Money {
			t.Errorf("orders %v", o.Data.Target)
		}
		if _, err := LoadStore(ctx, db, StoreOptions{Target: "profit"}); err == nil {
			t.Error("unknown target accepted")
		}
		n, err := LoadStore(ctx, db, StoreOptions{Target: TargetNewCustomers, Now: now})
		if err == nil || !strings.Contains(err.Error(), "no days") {
			t.Errorf("new customers within the burn-in: %v %v", n.Data.Target, err)
		}
	})
}

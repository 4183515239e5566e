package value

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// seqGen hands out event seqs for hand-built derived rows.
type seqGen struct{ n int64 }

func (g *seqGen) next() int64 { g.n++; return g.n }

var base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

func insertOrder(t testing.TB, db *store.DB, g *seqGen, id string, cust int64, ts time.Time, revenue int64, cur, channel string) {
	t.Helper()
	loc := "web"
	if channel == "In-store" {
		loc = "store"
	}
	if _, err := db.Exec(context.Background(), `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)`,
		id, cust, ms(ts), revenue, cur, loc, channel, g.next()); err != nil {
		t.Fatalf("insert order: %v", err)
	}
}

func insertRefund(t testing.TB, db *store.DB, g *seqGen, order string, cust int64, ts time.Time, amount int64, cur string, full bool) {
	t.Helper()
	f := 0
	if full {
		f = 1
	}
	if _, err := db.Exec(context.Background(), `INSERT INTO refunds (seq, order_id, customer_id, ts, amount_minor, currency, full_refund) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.next(), order, cust, ms(ts), amount, cur, f); err != nil {
		t.Fatalf("insert refund: %v", err)
	}
}

func insertActivity(t testing.TB, db *store.DB, seq int64, cust int64, ts time.Time, channel string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'page', '', ?, 1)`,
		seq, cust, ms(ts), channel); err != nil {
		t.Fatalf("insert activity: %v", err)
	}
}

func insertSpend(t testing.TB, db *store.DB, day, channel string, amount int64, cur string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, ?, '', 'manual', ?, ?)`,
		day, channel, amount, cur); err != nil {
		t.Fatalf("insert spend: %v", err)
	}
}

func setSetting(t testing.TB, db *store.DB, k, v string) {
	t.Helper()
	if err := db.Write(context.Background(), func(tx *store.Tx) error { return store.SetSetting(context.Background(), tx, k, v) }); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTransactionsRefunds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		setSetting(t, db, "currency", "EUR")
		setSetting(t, db, "timezone", "Europe/Berlin")
		g := &seqGen{n: 100}
		day := func(d int, h int) time.Time { return base.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour) }
		// Customer 1: order A netted by a same-day partial refund; order B fully refunded
		// later, then a further partial refund of B that has nothing left to refund.
		insertOrder(t, db, g, "A", 1, day(0, 10), 5000, "EUR", "Direct")
		insertRefund(t, db, g, "A", 1, day(0, 12), 1000, "EUR", false)
		insertOrder(t, db, g, "B", 1, day(4, 23), 3000, "EUR", "Direct") // 00:00 on day 5 in Berlin
		insertRefund(t, db, g, "B", 1, day(8, 9), 0, "EUR", true)
		insertRefund(t, db, g, "B", 1, day(9, 9), 500, "EUR", false)
		// Customer 2: a USD order (skipped with its refund) and a refund of an unknown order.
		insertOrder(t, db, g, "C", 2, day(1, 10), 7000, "USD", "Direct")
		insertRefund(t, db, g, "C", 2, day(2, 10), 7000, "USD", false)
		insertRefund(t, db, g, "nope", 2, day(2, 10), 100, "EUR", false)
		// Customer 3: a refund stamped before its order (clock skew) and a partial refund
		// larger than what is left, capped at the order's revenue.
		insertOrder(t, db, g, "D", 3, day(3, 10), 2000, "EUR", "In-store")
		insertRefund(t, db, g, "D", 3, day(3, 9), 1500, "EUR", false)
		insertRefund(t, db, g, "D", 3, day(6, 9), 900, "EUR", false)
		// After asOf: left out.
		insertOrder(t, db, g, "E", 3, day(20, 10), 4000, "EUR", "In-store")
		insertRefund(t, db, g, "A", 1, day(21, 10), 100, "EUR", false)

		d, err := LoadStoreData(ctx, db, day(10, 0))
		if err != nil {
			t.Fatal(err)
		}
		if d.Currency != "EUR" || d.Location.String() != "Europe/Berlin" {
			t.Fatalf("currency %s, location %s", d.Currency, d.Location)
		}
		type row struct {
			cust string
			day  string
			amt  int64
		}
		var got []row
		for _, x := range d.Transactions {
			got = append(got, row{x.CustomerID, x.Time.Format("2006-01-02 15:04"), x.Amount})
		}
		want := []row{
			{"1", "2025-01-01 11:00", 5000},
			{"3", "2025-01-04 11:00", 2000},
			{"1", "2025-01-06 00:00", 3000},
			{"1", "2025-01-01 13:00", -1000},
			{"3", "2025-01-04 11:00", -1500}, // moved to its order's time
			{"3", "2025-01-07 10:00", -500},  // capped: 2000 - 1500 left
			{"1", "2025-01-09 10:00", -3000}, // full refund = the order's revenue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("transactions\n got %v\nwant %v", got, want)
		}
		if d.Orders != 3 || d.Refunds != 4 || d.SkippedOrders != 1 || d.SkippedRefunds != 3 {
			t.Fatalf("counts %+v", d)
		}
		// The file rules then apply: same-day refund nets the day, a later one only
		// lowers realised revenue.
		sum, err := Summarize(d.Transactions, day(10, 0), Day)
		if err != nil {
			t.Fatal(err)
		}
		if len(sum) != 2 || sum[0].ID != "1" || sum[0].Frequency != 1 || sum[0].Monetary != 3000 || sum[0].Revenue != 4000 ||
			sum[1].ID != "3" || sum[1].Frequency != 0 || sum[1].Revenue != 0 {
			t.Fatalf("summaries %+v", sum)
		}
		all, err := LoadTransactions(ctx, db, time.Time{})
		if err != nil || len(all) != 9 {
			t.Fatalf("all transactions: %d, %v", len(all), err)
		}
	})
}

// TestStoreCurrencyIsTheWorkspaceCurrency: the business currency is the workspace
// setting, EUR when unset, never guessed from the orders (docs/decisions.md).
func TestStoreCurrencyIsTheWorkspaceCurrency(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	g := &seqGen{}
	insertOrder(t, db, g, "a", 1, base, 100, "USD", "Direct")
	insertOrder(t, db, g, "b", 2, base, 100, "USD", "Direct")
	insertOrder(t, db, g, "c", 3, base, 100, "EUR", "Direct")
	d, err := LoadStoreData(context.Background(), db, time.Time{})
	if err != nil || d.Currency != "EUR" || len(d.Transactions) != 1 || d.SkippedOrders != 2 {
		t.Fatalf("unset: %+v %v", d, err)
	}
	setSetting(t, db, "currency", "USD")
	d, err = LoadStoreData(context.Background(), db, time.Time{})
	if err != nil || d.Currency != "USD" || len(d.Transactions) != 2 || d.SkippedOrders != 1 {
		t.Fatalf("USD: %+v %v", d, err)
	}
}

func TestAcquisitionsAndEconomics(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g := &seqGen{n: 1000}
		first := base.AddDate(0, 2, 0) // 2025-03-01
		// 10: Paid Search 10 days before, Direct 2 days before → Paid Search.
		insertActivity(t, db, 1, 10, first.AddDate(0, 0, -10), "Paid Search")
		insertActivity(t, db, 2, 10, first.AddDate(0, 0, -2), "Direct")
		insertOrder(t, db, g, "o10", 10, first, 3000, "EUR", "Direct")
		insertOrder(t, db, g, "o10b", 10, first.AddDate(0, 0, 20), 3000, "EUR", "Email")
		// 11: an email 40 days before is outside the 30-day lookback → the order's In-store.
		insertActivity(t, db, 3, 11, first.AddDate(0, 0, -40), "Email")
		insertOrder(t, db, g, "o11", 11, first, 2000, "EUR", "In-store")
		// 12: walk-in without any touch.
		insertOrder(t, db, g, "o12", 12, first.AddDate(0, 0, 1), 1500, "EUR", "In-store")
		// 13: touches only after the first order.
		insertOrder(t, db, g, "o13", 13, first, 1000, "EUR", "Phone")
		insertActivity(t, db, 4, 13, first.AddDate(0, 0, 1), "Paid Social")
		// 14: two touches at the same instant: the lower seq wins.
		insertActivity(t, db, 6, 14, first.AddDate(0, 0, -1), "Organic Social")
		insertActivity(t, db, 5, 14, first.AddDate(0, 0, -1), "Referral")
		insertOrder(t, db, g, "o14", 14, first, 1000, "EUR", "Direct")
		// 15: activity, never bought.
		insertActivity(t, db, 7, 15, first, "Paid Search")
		// 16: Paid Search, acquired before the CAC period below.
		insertActivity(t, db, 8, 16, base, "Paid Search")
		insertOrder(t, db, g, "o16", 16, base.AddDate(0, 0, 1), 1000, "EUR", "Direct")

		acq, err := Acquisitions(ctx, db, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		touch := map[string]bool{}
		for _, a := range acq {
			got[a.CustomerID] = a.Channel
			touch[a.CustomerID] = a.FromTouch
		}
		want := map[string]string{"10": "Paid Search", "11": "In-store", "12": "In-store", "13": "Phone", "14": "Referral", "16": "Paid Search"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("channels\n got %v\nwant %v", got, want)
		}
		if !touch["10"] || touch["11"] || touch["12"] || touch["13"] || !touch["14"] {
			t.Fatalf("from touch %v", touch)
		}
		if a := acq[0]; a.CustomerID != "10" || !a.FirstOrder.Equal(first) {
			t.Fatalf("first acquisition %+v", a)
		}
		long, err := AcquisitionChannels(ctx, db, 50*24*time.Hour)
		if err != nil || long["11"] != "Email" {
			t.Fatalf("50-day lookback: %v %v", long, err)
		}

		// CAC over March: Paid Search spent 90.00 in March (and 500.00 in January, outside),
		// and acquired customer 10 then (16 was acquired in January). Paid Social spent
		// but acquired nobody. Spend in USD is left out.
		insertSpend(t, db, "2025-03-01", "Paid Search", 6000, "EUR")
		insertSpend(t, db, "2025-03-31", "Paid Search", 3000, "EUR")
		insertSpend(t, db, "2025-01-05", "Paid Search", 50000, "EUR")
		insertSpend(t, db, "2025-03-10", "Paid Social", 2000, "EUR")
		insertSpend(t, db, "2025-03-10", "Display", 2000, "USD")
		e, err := EconomicsFromStore(ctx, db, StoreEconomicsOptions{
			From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), Unit: Week})
		if err != nil {
			t.Fatal(err)
		}
		if e.Currency != "EUR" || e.SkippedSpend != 1 || e.AsOf.Format(time.DateOnly) != "2025-03-21" {
			t.Fatalf("economics %+v", e)
		}
		by := map[string]ChannelEconomics{}
		for _, c := range e.Channels {
			by[c.Channel] = c
		}
		ps := by["Paid Search"]
		if ps.Customers != 2 || ps.NewCustomers != 1 || ps.Spend != 9000 || ps.CAC != 9000 || ps.Warning != "no customer with 12 months of history: realised 12-month value unknown" {
			t.Fatalf("Paid Search %+v", ps)
		}
		if ps.LTVToCAC <= 0 || ps.Predicted12 < 3000 {
			t.Fatalf("Paid Search value %+v", ps) // customer 10 already bought 60.00 and 16 10.00
		}
		pso := by["Paid Social"]
		if pso.Spend != 2000 || pso.CAC != 0 || pso.NewCustomers != 0 || pso.Warning == "" {
			t.Fatalf("Paid Social %+v", pso)
		}
		if st := by["In-store"]; st.Customers != 2 || st.NewCustomers != 2 || st.CAC != 0 {
			t.Fatalf("In-store %+v", st)
		}
	})
}

// seedStore writes n synthetic customers drawn from a buy-till-you-die process
// (about a year of history) into the derived tables, with acquisition touches
// and spend, and returns the number of orders.
func seedStore(t testing.TB, db *store.DB, n int, seed uint64) int {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 7))
	g := &seqGen{n: 1 << 20}
	orders := 0
	err := db.Write(ctx, func(tx *store.Tx) error {
		for c := range n {
			cust := int64(c + 1)
			start := r.IntN(330)
			// Heterogeneous rates, dropout and spend, as the models assume: with one
			// dropout probability for everyone the Beta fit degenerates (a, b → ∞).
			rate := []float64{1.0 / 5, 1.0 / 20, 1.0 / 60}[r.IntN(3)]
			drop := []float64{0.03, 0.15, 0.5}[r.IntN(3)]
			spend := []int64{800, 2000, 5000}[r.IntN(3)]
			ch := []string{"In-store", "Paid Search", "Email"}[c%3]
			orderCh := ch
			if ch != "In-store" {
				orderCh = "Direct"
				if _, err := tx.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'page', '', ?, 1)`,
					g.next(), cust, ms(base.AddDate(0, 0, start).Add(-48*time.Hour)), ch); err != nil {
					return err
				}
			}
			day := float64(start)
			for k := 0; day < 365; k++ {
				ts := base.Add(time.Duration(day * 24 * float64(time.Hour))).Truncate(time.Minute).Add(9 * time.Hour)
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', ?, 1, ?)`,
					strconv.Itoa(c)+"-"+strconv.Itoa(k), cust, ms(ts), spend/2+r.Int64N(spend), orderCh, g.next()); err != nil {
					return err
				}
				orders++
				if r.Float64() < drop {
					break // dropped out
				}
				day += r.ExpFloat64() / rate
			}
		}
		for d := range 365 {
			if _, err := tx.Exec(ctx, `INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency) VALUES (?, 'Paid Search', '', 'google_ads', 1000, 'EUR')`,
				base.AddDate(0, 0, d).Format(time.DateOnly)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed store: %v", err)
	}
	return orders
}

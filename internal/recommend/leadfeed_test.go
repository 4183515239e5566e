package recommend_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

const hotLeadJourney = `name: hot-lead
purpose: transactional
entry: {lead_score_above: %v}
reentry: after_exit
holdout: 0
steps:
  - update_profile: {traits: {hot_lead: "yes"}}
`

// leadShop writes 300 people who browse a service business's site over 120 days before
// end (the more products they view, the likelier a first order within weeks), plus the
// people the test follows: 900001–900004 with one page view 20 days before end (900004
// opted out of personalisation), 900005 a hot lead already at end.
func leadShop(t *testing.T, db *store.DB, end time.Time) { leadShopTB(t, db, end) }

func leadShopTB(t testing.TB, db *store.DB, end time.Time) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 15))
	start := end.AddDate(0, 0, -120)
	seq := int64(0)
	err := db.Write(ctx, func(tx *store.Tx) error {
		act := func(c int64, at time.Time, typ, name string) error {
			seq++
			_, err := tx.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, ?, ?, 'Direct', 1)`, seq, c, at.UnixMilli(), typ, name)
			return err
		}
		person := func(c int64, traits string) error {
			_, err := tx.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, user_id, email, name, traits, events) VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
				c, start.UnixMilli(), end.UnixMilli(), fmt.Sprintf("lead-%d", c), fmt.Sprintf("lead%d@example.com", c), fmt.Sprintf("Lead %d", c), traits)
			return err
		}
		for i := range 300 {
			c := int64(800000 + i)
			if err := person(c, "{}"); err != nil {
				return err
			}
			at := start.Add(time.Duration(r.Float64() * 118 * float64(24*time.Hour)))
			views := 1 + r.IntN(9)
			if err := act(c, at, "page", "Services"); err != nil {
				return err
			}
			for k := range views {
				if err := act(c, at.Add(time.Duration(k)*7*time.Hour), "track", "Product Viewed"); err != nil {
					return err
				}
			}
			if r.Float64() < float64(views)/11 {
				seq++
				if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, 90000, 'EUR', 'web', 'Direct', 1, ?)`,
					fmt.Sprintf("L-%d", i), c, at.Add(time.Duration(24+r.IntN(15*24))*time.Hour).UnixMilli(), seq); err != nil {
					return err
				}
			}
		}
		for c, traits := range map[int64]string{900001: "{}", 900002: "{}", 900003: "{}", 900004: `{"consent":{"v":{"personalisation":false},"t":0,"s":0}}`} {
			if err := person(c, traits); err != nil {
				return err
			}
			if err := act(c, end.AddDate(0, 0, -20), "page", "Services"); err != nil {
				return err
			}
		}
		return person(900005, "{}")
	})
	if err != nil {
		t.Fatal(err)
	}
	browseTB(t, db, end, 30, 900005)
}

// browse adds product views and cart adds for people on the days before at.
func browse(t *testing.T, db *store.DB, at time.Time, views int, people ...int64) {
	browseTB(t, db, at, views, people...)
}

func browseTB(t testing.TB, db *store.DB, at time.Time, views int, people ...int64) {
	t.Helper()
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM activity`).Scan(&seq); err != nil {
			return err
		}
		for _, c := range people {
			for k := range views {
				seq++
				name := "Product Viewed"
				if k%4 == 3 {
					name = "Product Added"
				}
				if _, err := tx.Exec(ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'track', ?, 'Direct', 1)`,
					seq, c, at.Add(-time.Duration(views-k)*3*time.Hour).UnixMilli(), name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLeadScoreTrigger: a journey with entry {lead_score_above: T} enters the people whose
// behaviour raises their lead score above T, once per crossing (not on every scoring);
// people already above when the feed starts (its baseline), people whose score stays
// low, and people who opted out of personalisation (never scored) do not enter.
func TestLeadScoreTrigger(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		end := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		leadShop(t, db, end)
		const threshold = 0.3
		if _, err := journey.Apply(ctx, db, fmt.Appendf(nil, hotLeadJourney, threshold)); err != nil {
			t.Fatal(err)
		}
		now := end.AddDate(0, 0, 3)
		eng, err := journey.NewEngine(ctx, db, journey.Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		feed := &recommend.LeadFeed{DB: db, Now: func() time.Time { return now },
			Thresholds: func(ctx context.Context) ([]float64, error) { return journey.LeadThresholds(ctx, db) }}
		runs := func() map[int64]int {
			t.Helper()
			if err := eng.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			out := map[int64]int{}
			rows, err := db.Query(ctx, `SELECT customer_id FROM journey_runs WHERE journey = 'hot-lead'`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var c int64
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				out[c]++
			}
			return out
		}
		// crossings are the people whose newest non-baseline feed rows rose above T.
		crossings := func() []int64 {
			t.Helper()
			rows, err := db.Query(ctx, `SELECT customer_id FROM lead_score_changes WHERE baseline = 0 AND previous <= ? AND score > ? ORDER BY customer_id`, threshold, threshold)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []int64
			for rows.Next() {
				var c int64
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				out = append(out, c)
			}
			return out
		}
		score := func(id int64) float64 {
			t.Helper()
			rep, err := recommend.ScoreLeads(ctx, db, recommend.LeadOptions{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range rep.Leads {
				if l.CustomerID == id {
					return l.Score
				}
			}
			return -1
		}

		ok, res, err := feed.Tick(ctx)
		if err != nil || !ok || !res.Baseline || res.Scored == 0 || res.Changes == 0 {
			t.Fatalf("first scoring: %v %+v %v; want a baseline with people above %v", ok, res, err, threshold)
		}
		if r := runs(); len(r) != 0 {
			t.Fatalf("the baseline started runs: %v", r)
		}
		if ok, _, err := feed.Tick(ctx); ok || err != nil {
			t.Fatalf("a second scoring with unchanged data ran (%v, %v)", ok, err)
		}
		for _, id := range []int64{900001, 900002, 900003} {
			if s := score(id); s < 0 || s > threshold {
				t.Fatalf("person %d scores %v before browsing: the fixture must start them below %v", id, s, threshold)
			}
		}
		if s := score(900005); s <= threshold {
			t.Fatalf("person 900005 scores %v at the start: the fixture must start them above %v", s, threshold)
		}

		// 900001, 900002, the opted-out 900004 and the hot lead 900005 browse a lot;
		// 900003 looked once more, a week before.
		browse(t, db, end.AddDate(0, 0, 1), 16, 900001, 900002, 900004, 900005)
		browse(t, db, end.AddDate(0, 0, -8), 1, 900003)
		if ok, res, err := feed.Tick(ctx); err != nil || !ok || res.Baseline {
			t.Fatalf("scoring after new activity: %v %+v %v", ok, res, err)
		}
		r := runs()
		for _, id := range []int64{900001, 900002} {
			if r[id] != 1 {
				t.Fatalf("person %d (score %v) has %d runs, want 1: their browsing raised the score above %v", id, score(id), r[id], threshold)
			}
		}
		if r[900003] != 0 {
			t.Fatalf("person 900003 (score %v) entered: one more page view must not lift them above %v", score(900003), threshold)
		}
		if r[900005] != 0 {
			t.Fatalf("person 900005 (score %v) entered, but was above %v when the feed started", score(900005), threshold)
		}
		if r[900004] != 0 || score(900004) >= 0 {
			t.Fatalf("the person who opted out of personalisation entered (%d runs) or was scored (%v)", r[900004], score(900004))
		}
		var entered []int64
		for id := range r {
			entered = append(entered, id)
		}
		slices.Sort(entered)
		if want := crossings(); !slices.Equal(entered, want) {
			t.Fatalf("entered %v, but the feed's upward crossings are %v", entered, want)
		}
		// The opt-out is the reason 900004 was left out: without it, the same behaviour scores.
		if _, err := db.Exec(ctx, `UPDATE customers SET traits = '{}' WHERE id = 900004`); err != nil {
			t.Fatal(err)
		}
		if s := score(900004); s <= threshold {
			t.Fatalf("without the opt-out person 900004 scores %v: the fixture does not test the exclusion", s)
		}
		if _, err := db.Exec(ctx, `UPDATE customers SET traits = '{"consent":{"v":{"personalisation":false},"t":0,"s":0}}' WHERE id = 900004`); err != nil {
			t.Fatal(err)
		}

		// 900001 keeps browsing: still above, so no new crossing and no second run, though
		// the first run has ended and the journey allows re-entry after exit.
		var status string
		if err := db.QueryRow(ctx, `SELECT status FROM journey_runs WHERE journey = 'hot-lead' AND customer_id = 900001`).Scan(&status); err != nil || status == "active" {
			t.Fatalf("900001's run: %q %v; want it finished", status, err)
		}
		browse(t, db, end.AddDate(0, 0, 2), 8, 900001)
		if ok, _, err := feed.Tick(ctx); err != nil || !ok {
			t.Fatalf("third scoring: %v %v", ok, err)
		}
		if r := runs(); r[900001] != 1 {
			t.Fatalf("person 900001 has %d runs after a scoring that kept them above %v, want 1", r[900001], threshold)
		}
	})
}

// BenchmarkLeadFeedTick measures one scoring of the lead feed (ScoreLeads over 305 people
// and 120 days, the crossings written) as `omniroi serve` runs it hourly while a
// lead-score journey is enabled: new activity before each scoring, so none is skipped.
func BenchmarkLeadFeedTick(b *testing.B) {
	db := storetest.SQLite(b)
	ctx := context.Background()
	end := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	leadShopTB(b, db, end)
	if _, err := journey.Apply(ctx, db, fmt.Appendf(nil, hotLeadJourney, 0.3)); err != nil {
		b.Fatal(err)
	}
	feed := &recommend.LeadFeed{DB: db, Thresholds: func(ctx context.Context) ([]float64, error) { return journey.LeadThresholds(ctx, db) }}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		browseTB(b, db, end.Add(time.Duration(i)*time.Minute), 1, 900001)
		b.StartTimer()
		if ok, _, err := feed.Tick(ctx); err != nil || !ok {
			b.Fatalf("tick %d: %v %v", i, ok, err)
		}
	}
}

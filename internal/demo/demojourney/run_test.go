package demojourney

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestDemoJourneys runs the four templates over a small demo's last three weeks and checks
// what went out against what the store recorded: every delivery is a sent, consented,
// treated send; the holdout gets nothing; every order the simulated customers placed is
// in the store and traces back to a delivered message.
func TestDemoJourneys(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	dir := t.TempDir()
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 3, Customers: 1500, End: end}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	// Eager customers, so that a small demo surely has opens, clicks, unsubscribes and
	// orders to trace; the default rates are for the full demo.
	eager := Reaction{Open: 0.9, Click: 0.7, Buy: 0.7, Unsub: 0.05}
	react := Reactions{}
	for _, j := range Templates {
		react[j] = map[string]Reaction{"email": eager, "sms": {Click: 0.7, Buy: 0.7}, "push": {Click: 0.7, Buy: 0.7}}
	}
	rep, err := Run(ctx, db, Options{Dir: dir, End: end, Days: 21, Seed: 3, BaseURL: "http://127.0.0.1:8080", Persona: &react})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replay: %+v; delivered %v; consent %v; %.1fs", rep.Replay, rep.Delivered, rep.Consent, rep.WallSecond)
	// The subject-line test: both subjects went out, the question one is opened more
	// often by the known amount, and the stored test's report holds the true difference.
	st := rep.SubjectTest
	t.Logf("subject test truth: %+v", st)
	if st.Runs == 0 || st.Delivered[0] == 0 || st.Delivered[1] == 0 || st.VariantOpen != min(1, st.ControlOpen+SubjectOpenLift) {
		t.Fatalf("subject test: %+v", st)
	}
	v, verdict, err := MeasureSubjectTest(ctx, db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("subject test measured: diff %v (%v to %v); %s", v.Diff, v.DiffLow, v.DiffHigh, verdict)
	if !(float64(v.DiffLow) <= st.TrueDiff && st.TrueDiff <= float64(v.DiffHigh)) {
		t.Errorf("subject test: interval %v to %v misses the true difference %.3f", v.DiffLow, v.DiffHigh, st.TrueDiff)
	}
	// SMS and push go through a webhook receiver on loopback, which the demo allows
	// explicitly (webhooks.allowed_networks): none of its sends may fail as refused.
	var failed int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE status = 'failed'`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 0 || rep.Delivered["push"] == 0 {
		t.Fatalf("%d failed sends, %d push deliveries through the loopback relay", failed, rep.Delivered["push"])
	}

	// Deliveries in the outbox are the store's sent sends, one file each.
	sent := map[string]int{}
	rows, err := db.Query(ctx, `SELECT s.channel, s.idem_key, r.holdout, s.customer_id FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id WHERE s.status = 'sent' AND s.channel IN ('email', 'sms', 'push')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ch, key string
		var h int
		var cid int64
		if err := rows.Scan(&ch, &key, &h, &cid); err != nil {
			t.Fatal(err)
		}
		if h == 1 {
			t.Errorf("send %s to a holdout run was delivered", key)
		}
		ext := ".json"
		if ch == "email" {
			ext = ".eml"
		}
		if _, err := os.Stat(filepath.Join(dir, OutboxDir, ch, safeName(key)+ext)); err != nil {
			t.Errorf("sent %s not in the outbox: %v", key, err)
		}
		sent[ch]++
	}
	rows.Close()
	for ch, n := range rep.Delivered {
		if sent[ch] != n {
			t.Errorf("%s: outbox received %d, store says %d sent", ch, n, sent[ch])
		}
	}
	if sent["email"] == 0 {
		t.Fatal("no email went out")
	}
	// No marketing message without consent: a granted decision (the list import) or a
	// consent trait the customer signed up with (merged customers included). A withdrawal
	// after the send (the simulated customer unsubscribed from a later message) overwrote
	// the decision the send was checked against, so it is no evidence either way.
	rows, err = db.Query(ctx, `SELECT s.idem_key, s.channel, s.customer_id,
		COALESCE((SELECT MAX(CASE WHEN c.granted = 0 AND c.updated_at > s.sent_at THEN 2 ELSE c.granted END) FROM journey_consent c WHERE c.channel = s.channel AND (c.customer_id = s.customer_id
			OR c.customer_id IN (SELECT merged_id FROM customer_merges WHERE survivor_id = s.customer_id))), -1),
		COALESCE((SELECT traits FROM customers WHERE id = s.customer_id), '{}')
		FROM journey_sends s WHERE s.status = 'sent' AND s.channel IN ('email', 'sms', 'push')`)
	if err != nil {
		t.Fatal(err)
	}
	var unconsented, byTrait int
	for rows.Next() {
		var key, ch, traits string
		var cid, granted int64
		if err := rows.Scan(&key, &ch, &cid, &granted, &traits); err != nil {
			t.Fatal(err)
		}
		var tr struct {
			Consent struct {
				V map[string]map[string]bool `json:"v"`
			} `json:"consent"`
		}
		_ = json.Unmarshal([]byte(traits), &tr)
		switch {
		case granted == 1 || granted == 2:
		case granted == -1 && tr.Consent.V[ch]["marketing"]:
			byTrait++
		default:
			unconsented++
			t.Errorf("%s went on %s to customer %d without consent (decision %d, traits %s)", key, ch, cid, granted, traits)
		}
	}
	rows.Close()
	t.Logf("%d sends consented by a sign-up trait", byTrait)
	if unconsented > 0 {
		t.Errorf("%d messages went to customers without consent", unconsented)
	}

	// The web shop's key is public: addresses only it stated got a confirmation first;
	// some customers confirmed, some did not, and no journey message went to an address
	// that was unverified when it was sent (every later confirmation is an event after it).
	t.Logf("confirmations: %+v", rep.Confirm)
	conf := rep.Confirm
	if conf.Delivered["email"] == 0 || conf.Confirmed == 0 || conf.Confirmed >= conf.Delivered["email"]+conf.Delivered["sms"] || conf.Waiting == 0 {
		t.Errorf("double opt-in did not happen as the demo simulates it: %+v", conf)
	}
	var n0 int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_confirmations WHERE status = 'sent'`).Scan(&n0); err != nil {
		t.Fatal(err)
	}
	if n0 != conf.Delivered["email"]+conf.Delivered["sms"] {
		t.Errorf("%d confirmations recorded sent, the outbox has %v", n0, conf.Delivered)
	}
	rows, err = db.Query(ctx, `SELECT s.idem_key, s.channel, s.customer_id, s.sent_at FROM journey_sends s WHERE s.status = 'sent' AND s.channel IN ('email', 'sms')`)
	if err != nil {
		t.Fatal(err)
	}
	type sentTo struct {
		key, ch string
		cid, at int64
	}
	var sentList []sentTo
	for rows.Next() {
		var x sentTo
		if err := rows.Scan(&x.key, &x.ch, &x.cid, &x.at); err != nil {
			t.Fatal(err)
		}
		sentList = append(sentList, x)
	}
	rows.Close()
	for _, x := range sentList {
		p, err := identity.Profile(ctx, db, x.cid)
		if err != nil {
			continue // merged away since
		}
		if slices.Contains(p.Unverified, map[string]string{"email": "email", "sms": "phone"}[x.ch]) {
			t.Errorf("%s went on %s to customer %d, whose address is still unverified", x.key, x.ch, x.cid)
		}
	}

	// The customers' orders are in the store, each after a delivered message.
	var truthOrders int
	var truthRevenue int64
	for _, j := range rep.Journeys {
		truthOrders += j.Truth.Orders
		truthRevenue += j.Truth.RevenueMinor
		m := j.Measured
		t.Logf("%-15s truth: %d orders EUR %.2f, %d opens, %d clicks, %d unsubscribes | measured: treated %d runs %.1f%%, holdout %d runs %.1f%%, incremental EUR %.2f [%.2f, %.2f]",
			j.Name, j.Truth.Orders, float64(j.Truth.RevenueMinor)/100, j.Truth.Opens, j.Truth.Clicks, j.Truth.Unsubscribes,
			m.Treated.Runs, m.Treated.Rate*100, m.Holdout.Runs, m.Holdout.Rate*100, m.Incremental/100, m.IncrementalCI[0]/100, m.IncrementalCI[1]/100)
		if m.Treated.Runs == 0 {
			t.Errorf("%s: no treated runs", j.Name)
		}
	}
	var n int
	var rev int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(revenue_minor), 0) FROM orders WHERE order_id LIKE 'J-%'`).Scan(&n, &rev); err != nil {
		t.Fatal(err)
	}
	if truthOrders == 0 || n != truthOrders || rev != truthRevenue {
		t.Errorf("store has %d journey-caused orders (EUR %.2f), the truth %d (EUR %.2f)", n, float64(rev)/100, truthOrders, float64(truthRevenue)/100)
	}
	rows, err = db.Query(ctx, `SELECT order_id FROM orders WHERE order_id LIKE 'J-%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		var st string
		var h int
		if err := db.QueryRow(ctx, `SELECT s.status, r.holdout FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id WHERE s.idem_key = ?`, strings.TrimPrefix(id, "J-")).Scan(&st, &h); err != nil {
			t.Errorf("order %s: no send behind it: %v", id, err)
		} else if st != "sent" || h == 1 {
			t.Errorf("order %s follows a send that is %s (holdout %d)", id, st, h)
		}
	}
	rows.Close()

	// Opens and unsubscribes went through the engine's handlers.
	var opened, unsub int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE opened_at > 0`).Scan(&opened); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_consent WHERE granted = 0`).Scan(&unsub); err != nil {
		t.Fatal(err)
	}
	var opens, unsubs int
	for _, j := range rep.Journeys {
		opens += j.Truth.Opens
		unsubs += j.Truth.Unsubscribes
	}
	if opened == 0 || opened > opens {
		t.Errorf("%d sends recorded opened, %d simulated opens", opened, opens)
	}
	if unsub != unsubs {
		t.Errorf("%d consent withdrawals recorded, %d simulated one-click unsubscribes", unsub, unsubs)
	}

	// The live engine carries on after the replay's last event.
	cursor, _, err := db.Setting(ctx, journey.CursorSetting)
	if err != nil {
		t.Fatal(err)
	}
	var maxSeq int64
	if err := db.QueryRow(ctx, `SELECT MAX(seq) FROM events`).Scan(&maxSeq); err != nil {
		t.Fatal(err)
	}
	if cursor != strconv.FormatInt(maxSeq, 10) {
		t.Errorf("journey cursor %s after the replay, log ends at %d", cursor, maxSeq)
	}
}

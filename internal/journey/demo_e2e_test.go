package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/testenv"
)

// hookSink is an httptest receiver for SMS, push and webhook sends.
type hookSink struct {
	mu   sync.Mutex
	keys map[string]int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.keys[r.Header.Get(IdempotencyHeader)]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestDemoEndToEnd runs the four built-in journeys over a small demo business with a
// simulated clock: email through a real SMTP server, SMS and push to an HTTP sink.
//
// The demo lacks what some journeys need, so the test sets it up explicitly: consent
// (the demo has no consent traits; explicit SetConsent decisions instead), "Signed Up"
// events (welcome), "At Risk" segment changes (win-back; the value engine writes them in
// production), and shop-counter purchases of web carts (demo till orders carry no cart_id).
// The demo's log is in load order, not time order (events arrive per source and
// customer), so its last 14 days are fed to the engine sorted by time, as a live shop's
// events would arrive.
func TestDemoEndToEnd(t *testing.T) {
	testenv.Slow(t, "a demo end to end")
	ctx := context.Background()
	db := storetest.SQLite(t)
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := demo.Load(ctx, db, demo.LoadOptions{Config: demo.Config{Seed: 1, Customers: 300, End: end}, Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	proc := identity.NewProcessor(db, identity.Options{})

	be, port, tlsc := startSMTP(t)
	smtpS, err := ParseSMTPURL("smtp://shop:s3cret@127.0.0.1:" + strconv.Itoa(port) + "?from=hello@bakery.example")
	if err != nil {
		t.Fatal(err)
	}
	smtpS.TLSConfig = tlsc
	hooks := &hookSink{keys: map[string]int{}}
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	secret := []byte("test-secret")
	var clock atomic.Int64
	start := end.Add(-14 * 24 * time.Hour)
	clock.Store(start.UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()).UTC() }
	eng, err := NewEngine(ctx, db, Options{
		Senders: map[string]Sender{
			"email": smtpS,
			"sms":   &WebhookSender{URL: hs.URL + "/sms", Secret: secret, Policy: loopbackRelay},
			"push":  &WebhookSender{URL: hs.URL + "/push", Secret: secret, Policy: loopbackRelay},
		},
		BaseURL: "https://bakery.example", Business: "Crumb & Co", Now: now, Policy: &WorkspacePolicy{Timezone: "Europe/Amsterdam"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"abandoned-cart", "welcome", "review-request", "win-back"} {
		src, err := TemplateSource(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(ctx, db, src); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
	}
	// The same cart reminder with the channel and the hour chosen per customer.
	_, err = Apply(ctx, db, []byte(`name: smart-cart
entry: {event: Product Added, key: cart_id}
exit: {event: Order Completed}
steps:
  - wait: {until: {event: Order Completed}, timeout: 1h, on_event: end}
  - id: nudge
    message:
      channels: [email, sms, push]
      send_time: best
      email: {template: abandoned_cart}
      sms: {text: "Your cart is waiting"}
      push: {text: "Your cart is waiting"}
`))
	if err != nil {
		t.Fatal(err)
	}

	// Consent: explicit decisions for every customer, a different share per channel.
	type cust struct {
		id           int64
		user, email  string
		email_, sms_ bool
	}
	var custs []cust
	rows, err := db.Query(ctx, `SELECT id, user_id, email FROM customers ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c cust
		if err := rows.Scan(&c.id, &c.user, &c.email); err != nil {
			t.Fatal(err)
		}
		c.email_, c.sms_ = c.id%4 != 0, c.id%2 == 0
		custs = append(custs, c)
	}
	rows.Close()
	consent := map[[2]any]bool{}
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, c := range custs {
			for ch, g := range map[string]bool{"email": c.email_, "sms": c.sms_, "push": c.id%3 == 0} {
				consent[[2]any{c.id, ch}] = g
				if err := SetConsent(ctx, tx, c.id, ch, "marketing", g, "test", start); err != nil {
					return err
				}
			}
		}
		// The demo's log is consumed below in time order, not by Step.
		return store.SetSetting(ctx, tx, CursorSetting, strconv.FormatInt(math.MaxInt64, 10))
	})
	if err != nil {
		t.Fatal(err)
	}

	drain := func() {
		t.Helper()
		if err := eng.Drain(ctx); err != nil {
			t.Fatalf("engine: %v", err)
		}
	}
	// advanceTo moves the clock to at, stopping at every due timer and held send on the way.
	advanceTo := func(at time.Time) {
		t.Helper()
		for {
			var nt, ns int64
			if err := db.QueryRow(ctx, `SELECT COALESCE(MIN(due_at), 0) FROM journey_timers`).Scan(&nt); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(ctx, `SELECT COALESCE(MIN(not_before), 0) FROM journey_sends WHERE status = 'pending'`).Scan(&ns); err != nil {
				t.Fatal(err)
			}
			next := int64(math.MaxInt64)
			for _, v := range []int64{nt, ns} {
				if v > 0 {
					next = min(next, v)
				}
			}
			if next > at.UnixMilli() {
				break
			}
			clock.Store(max(clock.Load(), next))
			drain()
		}
		// No step here: sends queued at the new time are due, and the loop above runs them
		// before the next event; a step per event would triple the test's time.
		clock.Store(max(clock.Load(), at.UnixMilli()))
	}
	// feed hands events to the engine in time order, the clock at each event's time.
	feed := func(evs []event.Event) {
		t.Helper()
		sort.SliceStable(evs, func(i, j int) bool {
			if !evs[i].Timestamp.Equal(evs[j].Timestamp) {
				return evs[i].Timestamp.Before(evs[j].Timestamp)
			}
			return evs[i].Seq < evs[j].Seq
		})
		for i := range evs {
			advanceTo(evs[i].Timestamp)
			err := db.Write(ctx, func(tx *store.Tx) error {
				return eng.newWork(tx, now()).onEvent(ctx, &evs[i])
			})
			if err != nil {
				t.Fatalf("event %d: %v", evs[i].Seq, err)
			}
		}
		drain()
	}
	all, err := db.ReadEvents(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var window []event.Event
	for _, ev := range all {
		if !ev.Timestamp.Before(start) && ev.Timestamp.Before(end) {
			window = append(window, ev)
		}
	}
	drain()
	feed(window)

	// After the demo's end: sign-ups, carts bought at the shop counter within 30 minutes,
	// carts left alone, and customers the value engine marks At Risk.
	srcs := map[string]int64{}
	for _, s := range []string{"web", "store-till"} {
		src, err := db.EnsureSource(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		srcs[s] = src.ID
	}
	var known []cust
	for _, c := range custs {
		if c.user != "" && c.email != "" {
			known = append(known, c)
		}
	}
	if len(known) < 80 {
		t.Fatalf("demo has %d customers with a userId and email; want at least 80", len(known))
	}
	var extra []event.Event
	mk := func(src, userID, name string, at time.Time, props map[string]any) {
		call := map[string]any{"type": "track", "event": name, "userId": userID, "properties": props,
			"messageId": fmt.Sprintf("e2e-%d", len(extra)), "timestamp": event.FormatTime(at)}
		ev, err := normalize(call, at)
		if err != nil {
			t.Fatal(err)
		}
		ev.SourceID = srcs[src]
		extra = append(extra, ev)
	}
	// Sign-ups: customer ids depend on the demo's load order, so pick 4 holdout members
	// and 36 others by the holdout hash, or a 40-run journey may draw no holdout at all.
	var signups []cust
	nHold := 0
	for _, c := range known {
		if InHoldout("welcome", c.id, "", 0.10) {
			if nHold < 4 {
				signups, nHold = append(signups, c), nHold+1
			}
		} else if len(signups)-nHold < 36 {
			signups = append(signups, c)
		}
	}
	if len(signups) != 40 {
		t.Fatalf("found %d sign-up customers (%d in the holdout), want 40", len(signups), nHold)
	}
	var atRisk []cust
	for _, c := range known {
		if !slices.ContainsFunc(signups, func(s cust) bool { return s.id == c.id }) && len(atRisk) < 80 {
			atRisk = append(atRisk, c)
		}
	}
	t0 := end.Add(2 * time.Hour)
	storeCarts := map[string]bool{}
	for i, c := range signups {
		at := t0.Add(time.Duration(i) * 7 * time.Minute)
		mk("web", c.user, "Signed Up", at, nil)
		cart := fmt.Sprintf("e2e-cart-%d", i)
		mk("web", c.user, "Product Added", at.Add(time.Minute), map[string]any{"cart_id": cart, "name": "Seeded rye"})
		if i%2 == 0 {
			storeCarts[cart] = true
			mk("store-till", c.user, "Order Completed", at.Add(31*time.Minute), map[string]any{"cart_id": cart, "order_id": "e2e-o-" + cart, "revenue": 9.5, "currency": "EUR", "location": "Main St"})
		}
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		if _, err := store.InsertEvents(ctx, tx, extra); err != nil {
			return err
		}
		for _, c := range atRisk {
			if err := RecordSegment(ctx, tx, c.id, "At Risk", 0.2, t0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	fresh, err := db.ReadEvents(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	extra = extra[:0]
	for _, ev := range fresh {
		if ev.MessageID != "" && len(ev.MessageID) > 4 && ev.MessageID[:4] == "e2e-" {
			extra = append(extra, ev)
		}
	}
	if len(extra) != 100 {
		t.Fatalf("re-read %d test events, want 100", len(extra))
	}
	advanceTo(t0)
	drain() // the At Risk segment entries
	feed(extra)
	advanceTo(t0.Add(30 * 24 * time.Hour)) // every wait (1 h, 24 h, 3 d, 7 d, 14 d) is over
	drain()

	// What went out: SMTP Message-IDs and webhook Idempotency-Keys are the sends' keys.
	delivered := map[string]int{}
	midRe := regexp.MustCompile(`(?mi)^Message-ID:\s*<([^@>]+)@`)
	be.mu.Lock()
	for _, m := range be.msgs {
		mm := midRe.FindStringSubmatch(m.data)
		if mm == nil {
			t.Errorf("message without Message-ID to %s", m.to)
			continue
		}
		delivered[mm[1]]++
	}
	nMail := len(be.msgs)
	be.mu.Unlock()
	hooks.mu.Lock()
	for k, n := range hooks.keys {
		delivered[k] += n
	}
	hooks.mu.Unlock()

	type sendRow struct {
		journey, channel, status, reason, key string
		customer, run                         int64
		step                                  int
		holdout                               bool
		started                               int64
		entryKey                              string
	}
	var sends []sendRow
	rows, err = db.Query(ctx, `SELECT s.journey, s.channel, s.status, s.reason, s.idem_key, s.customer_id, s.run_id, s.step, r.holdout, r.started_at, r.entry_key
		FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s sendRow
		var h int
		if err := rows.Scan(&s.journey, &s.channel, &s.status, &s.reason, &s.key, &s.customer, &s.run, &s.step, &h, &s.started, &s.entryKey); err != nil {
			t.Fatal(err)
		}
		s.holdout = h == 1
		sends = append(sends, s)
	}
	rows.Close()
	byKey := map[string]sendRow{}
	counts := map[string]int{}
	for _, s := range sends {
		byKey[s.key] = s
		counts[s.journey+" "+s.channel+" "+s.status+" "+s.reason]++
	}
	t.Logf("sends by journey, channel, status, reason: %v", counts)
	t.Logf("delivered: %d emails over SMTP, %d webhook posts", nMail, len(hooks.keys))

	// Confirmations (double opt-in) went to addresses only the web shop's public key
	// stated, once each; every other delivery is a journey send.
	confirmations := 0
	for k, n := range delivered {
		if !strings.HasPrefix(k, "confirm-") {
			continue
		}
		confirmations++
		var st, ch, addr string
		var cid int64
		if err := db.QueryRow(ctx, `SELECT status, channel, address, customer_id FROM journey_confirmations WHERE id = ?`, strings.TrimPrefix(k, "confirm-")).Scan(&st, &ch, &addr, &cid); err != nil {
			t.Errorf("delivered %s, which is no confirmation: %v", k, err)
			continue
		}
		if st != "sent" || n != 1 {
			t.Errorf("confirmation %s delivered %d times, recorded %s", k, n, st)
		}
		if p, err := identity.Profile(ctx, db, cid); err == nil && !slices.Contains(p.Unverified, map[string]string{"email": "email", "sms": "phone"}[ch]) {
			t.Errorf("confirmation %s asked customer %d to confirm a verified %s", k, cid, ch)
		}
		delete(delivered, k)
	}
	var nConfirm int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_confirmations WHERE status = 'sent'`).Scan(&nConfirm); err != nil {
		t.Fatal(err)
	}
	if confirmations == 0 || nConfirm != confirmations {
		t.Errorf("%d confirmations delivered, %d recorded sent; the demo's web sign-ups should need some", confirmations, nConfirm)
	}
	// Every delivery is a recorded 'sent' send, delivered once, to a consenting, treated customer.
	for k, n := range delivered {
		s, ok := byKey[k]
		switch {
		case !ok:
			t.Errorf("delivered %s, which is no send", k)
		case n != 1:
			t.Errorf("%s delivered %d times", k, n)
		case s.status != "sent":
			t.Errorf("%s delivered but recorded %s %s", k, s.status, s.reason)
		case s.holdout:
			t.Errorf("%s delivered to a holdout run", k)
		case !consent[[2]any{s.customer, s.channel}]:
			t.Errorf("%s delivered on %s to customer %d without consent", k, s.channel, s.customer)
		case s.channel == "email" || s.channel == "sms":
			if p, err := identity.Profile(ctx, db, s.customer); err == nil && slices.Contains(p.Unverified, map[string]string{"email": "email", "sms": "phone"}[s.channel]) {
				t.Errorf("%s delivered on %s to customer %d's unverified address", k, s.channel, s.customer)
			}
		}
	}
	var sent, holdoutSuppressed, noConsent int
	for _, s := range sends {
		if s.status == "sent" && s.channel != "profile" {
			sent++
			if delivered[s.key] != 1 {
				t.Errorf("%s recorded sent, delivered %d times", s.key, delivered[s.key])
			}
		}
		if s.holdout && s.channel != "profile" && (s.status != "suppressed" || s.reason != "holdout") {
			t.Errorf("holdout send %s is %s %s, want suppressed (holdout)", s.key, s.status, s.reason)
		}
		if s.holdout {
			holdoutSuppressed++
		}
		if s.reason == "no consent" {
			noConsent++
			if consent[[2]any{s.customer, s.channel}] {
				t.Errorf("%s suppressed for no consent, but customer %d consented to %s", s.key, s.customer, s.channel)
			}
		}
	}
	if sent == 0 || holdoutSuppressed == 0 || noConsent == 0 {
		t.Errorf("sent %d, holdout-suppressed %d, no-consent %d: each should happen on this data", sent, holdoutSuppressed, noConsent)
	}

	// Abandoned carts: an email step reached exactly when no purchase of that cart (any
	// source, the shop counter included) came within 1 h of the run's start.
	purchases := map[string][]int64{}
	for _, ev := range append(all, extra...) {
		if ev.Type == event.Track && ev.Name == "Order Completed" {
			if c := propText(props(ev.Body), "cart_id"); c != "" {
				purchases[c] = append(purchases[c], ev.Timestamp.UnixMilli())
			}
		}
	}
	boughtWithin := func(cart string, from int64) bool {
		for _, p := range purchases[cart] {
			if p >= from && p < from+time.Hour.Milliseconds() {
				return true
			}
		}
		return false
	}
	emailed := map[int64]bool{}
	for _, s := range sends {
		if s.journey == "abandoned-cart" && s.channel == "email" || s.journey == "smart-cart" {
			emailed[s.run] = true
			if boughtWithin(s.entryKey, s.started) {
				t.Errorf("cart %s bought within 1 h of run %d but its email step ran (%s %s)", s.entryKey, s.run, s.status, s.reason)
			}
		}
	}
	rows, err = db.Query(ctx, `SELECT id, entry_key, started_at, status, exit_reason FROM journey_runs WHERE journey IN ('abandoned-cart', 'smart-cart')`)
	if err != nil {
		t.Fatal(err)
	}
	var carts, cartRuns, storeExits int
	for rows.Next() {
		var id, startedAt int64
		var key, st, reason string
		if err := rows.Scan(&id, &key, &startedAt, &st, &reason); err != nil {
			t.Fatal(err)
		}
		cartRuns++
		if !boughtWithin(key, startedAt) && !emailed[id] {
			t.Errorf("cart %s (run %d, %s %s) was not bought within 1 h, but no email step ran", key, id, st, reason)
		}
		if storeCarts[key] {
			carts++ // two journeys: counted twice
			if emailed[id] || st != "exited" {
				t.Errorf("cart %s bought at the counter after 31 min: run %s, emailed %v", key, st, emailed[id])
			} else {
				storeExits++
			}
		}
	}
	rows.Close()
	if carts != 2*len(storeCarts) || storeExits != 2*len(storeCarts) {
		t.Errorf("counter-bought carts: %d runs, %d exited, want %d", carts, storeExits, 2*len(storeCarts))
	}
	checkSmart(t, ctx, db)
	t.Logf("abandoned-cart and smart-cart: %d runs, %d reached the message step", cartRuns, len(emailed))

	for _, name := range []string{"abandoned-cart", "welcome", "review-request", "win-back", "smart-cart"} {
		// All runs: a few dozen carts leave too few runs past the first message to be sure of a holdout in each.
		r, err := Measure(ctx, db, name, ReportOptions{AllRuns: true, CostPerSend: map[string]int64{"email": 1, "sms": 5}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: treated %d runs %.1f%% converted, holdout %d runs %.1f%%, lift %+.1f pp [%.1f, %.1f], sends %d",
			name, r.Treated.Runs, r.Treated.Rate*100, r.Holdout.Runs, r.Holdout.Rate*100, r.Lift, r.LiftCI[0], r.LiftCI[1], r.Sends)
		if testing.Verbose() && name == "review-request" {
			b, _ := json.MarshalIndent(r, "", "  ")
			t.Logf("report --json:\n%s", b)
		}
		if r.Treated.Runs == 0 || r.Holdout.Runs == 0 {
			t.Errorf("%s: treated %d and holdout %d runs; want both", name, r.Treated.Runs, r.Holdout.Runs)
			continue
		}
		if d := r.Treated.Rate - r.Holdout.Rate; math.Abs(r.Lift-d*100) > 1e-9 && math.Abs(r.Lift-d) > 1e-9 {
			t.Errorf("%s: lift %v is not treated − holdout (%v)", name, r.Lift, d)
		}
		if r.LiftCI[0] > r.Lift || r.LiftCI[1] < r.Lift {
			t.Errorf("%s: lift %v outside its interval %v", name, r.Lift, r.LiftCI)
		}
	}
}

func normalize(call map[string]any, at time.Time) (event.Event, error) {
	body, err := json.Marshal(call)
	if err != nil {
		return event.Event{}, err
	}
	return event.Normalize(body, "", at, at)
}

// checkSmart: every smart-cart send has its two decisions, went on the channel the log
// names, and, when the log names an hour, went out in that hour in Amsterdam.
func checkSmart(t *testing.T, ctx context.Context, db *store.DB) {
	t.Helper()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no tzdata")
	}
	rows, err := db.Query(ctx, `SELECT s.run_id, s.channel, s.status, s.sent_at,
		COALESCE((SELECT text FROM journey_decisions d WHERE d.run_id = s.run_id AND d.kind = 'channel'), ''),
		COALESCE((SELECT text FROM journey_decisions d WHERE d.run_id = s.run_id AND d.kind = 'send_time'), '')
		FROM journey_sends s WHERE s.journey = 'smart-cart'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	hourRe := regexp.MustCompile(`^sent at (\d\d):00 Europe/Amsterdam: (\d+) of (\d+) past`)
	var n, atHour int
	kinds := map[string]int{}
	for rows.Next() {
		var run, sentAt int64
		var ch, st, chWhy, timeWhy string
		if err := rows.Scan(&run, &ch, &st, &sentAt, &chWhy, &timeWhy); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.HasPrefix(chWhy, "chose "+ch+":") && !strings.HasPrefix(chWhy, "no usable channel, queued "+ch+" ") {
			t.Errorf("run %d went on %s, but the log says %q", run, ch, chWhy)
		}
		if strings.HasPrefix(chWhy, "no usable channel") && st != "suppressed" {
			t.Errorf("run %d: %q, yet the send is %s", run, chWhy, st)
		}
		m := hourRe.FindStringSubmatch(timeWhy)
		switch {
		case m != nil:
			atHour++
			kinds["hour"]++
			if st == "sent" {
				if h, _ := strconv.Atoi(m[1]); time.UnixMilli(sentAt).In(ams).Hour() != h {
					t.Errorf("run %d: %q, sent at %v", run, timeWhy, time.UnixMilli(sentAt).In(ams))
				}
			}
		case strings.HasPrefix(timeWhy, "sent now: ") || strings.HasPrefix(timeWhy, "sent at once"):
			kinds["now"]++
		default:
			t.Errorf("run %d: send_time decision %q", run, timeWhy)
		}
		kinds[strings.SplitN(chWhy, ":", 2)[0]]++
	}
	if n == 0 || atHour == 0 {
		t.Errorf("smart-cart: %d sends, %d held for a best hour", n, atHour)
	}
	t.Logf("smart-cart decisions: %v", kinds)
	ds, err := Decisions(ctx, db, "smart-cart", 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		t.Logf("run %d %s: %s", d.RunID, d.Kind, d.Text)
	}
}

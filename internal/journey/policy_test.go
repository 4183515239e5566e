package journey

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestQuietUntil(t *testing.T) {
	t.Parallel()
	q := &Quiet{From: 21 * 60, To: 8 * 60}
	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, c := range []struct {
		at    string
		loc   *time.Location
		quiet bool
		until string
	}{
		{"2026-03-02T02:30:00Z", ny, true, "2026-03-02T13:00:00Z"},    // 21:30 EST → 08:00 EST
		{"2026-03-02T02:30:00Z", tokyo, false, ""},                    // 11:30 JST
		{"2026-03-02T13:30:00Z", tokyo, true, "2026-03-02T23:00:00Z"}, // 22:30 JST → 08:00 JST next day
		{"2026-03-08T06:30:00Z", ny, true, "2026-03-08T12:00:00Z"},    // 01:30 EST on the DST night → 08:00 EDT
		{"2026-03-02T20:59:00Z", time.UTC, false, ""},                 // a minute before the window
		{"2026-03-02T21:00:00Z", time.UTC, true, "2026-03-03T08:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		until, quiet := QuietUntil(at, c.loc, q)
		if quiet != c.quiet || (quiet && until.UTC().Format(time.RFC3339) != c.until) {
			t.Errorf("%s in %s: quiet=%v until %s, want %v %s", c.at, c.loc, quiet, until.UTC().Format(time.RFC3339), c.quiet, c.until)
		}
	}
	day := &Quiet{From: 12 * 60, To: 14 * 60}
	if _, q := QuietUntil(time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC), time.UTC, day); !q {
		t.Error("non-wrapping window")
	}
}

func TestQuietHoursHoldNotDrop(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{Policy: &WorkspacePolicy{Quiet: &Quiet{From: 21 * 60, To: 8 * 60}, Timezone: "Europe/London"}})
		f.now = time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC) // 21:30 in New York, 11:30 in Tokyo, 02:30 in London
		f.apply(`name: q
entry: {event: Visited}
holdout: 0
steps:
  - email: {subject: "hi", text: "hi"}
`)
		withTZ := func(tz string) map[string]any {
			m := map[string]any{"consent.email.marketing": true}
			if tz != "" {
				m["timezone"] = tz
			}
			return m
		}
		f.track(f.customer(1, withTZ("America/New_York")), "Visited", nil)
		f.track(f.customer(2, withTZ("Asia/Tokyo")), "Visited", nil)
		f.track(f.customer(3, withTZ("")), "Visited", nil) // workspace default: London
		sentTo := func() map[int64]bool {
			m := map[int64]bool{}
			for _, x := range f.sink.byChannel("email") {
				m[x.CustomerID] = true
			}
			return m
		}
		if got := sentTo(); !got[2] || got[1] || got[3] {
			t.Fatalf("at 02:30 UTC sent to %v, want only Tokyo (2)", got)
		}
		f.advance(5*time.Hour + 31*time.Minute) // 08:01 London, 03:01 New York
		if got := sentTo(); !got[3] || got[1] {
			t.Fatalf("at 08:01 London sent to %v, want London (3) but not New York (1)", got)
		}
		f.advance(5 * time.Hour) // 08:01 New York
		if got := sentTo(); !got[1] {
			t.Fatalf("at 08:01 New York: %v", got)
		}
		if got := f.sends("1=1"); got["sent"] != 3 {
			t.Fatalf("every held send must go out: %v", got)
		}
	})
}

// TestHoldoutSimulation checks the report on a seeded simulation: the holdout share
// matches, the estimated lift is near the true one and its interval covers it, and
// with no true effect the interval covers zero.
func TestHoldoutSimulation(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	sim := func(name string, pControl, pTreated float64, seed uint64) *Report {
		r := rand.New(rand.NewPCG(seed, 1))
		const n = 8000 // a holdout of ~800 runs: Cochran's rule wants ~470 for this revenue
		err := db.Write(ctx, func(stx *store.Tx) error {
			tx := newStmts(stx)
			for i := range n {
				cid := int64(i + 1)
				if name == "null" {
					cid += n
				}
				h := InHoldout(name, cid, "", 0.10)
				hv := 0
				p := pTreated
				if h {
					hv, p = 1, pControl
				}
				if _, err := tx.Exec(ctx, `INSERT INTO journey_runs (journey, version, customer_id, status, holdout, started_at, updated_at) VALUES (?, 1, ?, 'done', ?, 1000, 1000)`, name, cid, hv); err != nil {
					return err
				}
				if r.Float64() < p {
					rev := 2000 + r.Int64N(4000)
					if _, err := tx.Exec(ctx, `INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq) VALUES (?, ?, ?, ?, 'EUR', 'web', 'direct', 1, ?)`,
						name+itoa(cid), cid, 1000+r.Int64N(86400000), rev, cid); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Measure(ctx, db, name, ReportOptions{AllRuns: true, CostPerSend: map[string]int64{"email": 1}})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := sim("lift", 0.08, 0.14, 42)
	share := float64(rep.Holdout.Runs) / float64(rep.Holdout.Runs+rep.Treated.Runs)
	if share < 0.085 || share > 0.115 {
		t.Errorf("holdout share %.3f, want ≈ 0.10", share)
	}
	if rep.LiftCI[0] > 6 || rep.LiftCI[1] < 6 || !rep.SignificantLift {
		t.Errorf("true lift 6 pp: estimate %.2f CI %v significant=%v", rep.Lift, rep.LiftCI, rep.SignificantLift)
	}
	trueDiff := (0.14 - 0.08) * 4000 // mean revenue 4000 minor units
	if rep.RevenueDiffCI[0] > trueDiff || rep.RevenueDiffCI[1] < trueDiff {
		t.Errorf("revenue/run diff %.1f CI %v does not cover %v (runs %d/%d, min %d/%d)", rep.RevenueDiff, rep.RevenueDiffCI, trueDiff, rep.Treated.Runs, rep.Holdout.Runs, rep.Treated.MinRuns, rep.Holdout.MinRuns)
	}
	if rep.Incremental <= 0 || rep.Currency != "EUR" {
		t.Errorf("incremental %v currency %q", rep.Incremental, rep.Currency)
	}
	null := sim("null", 0.10, 0.10, 7)
	if null.LiftCI[0] > 0 || null.LiftCI[1] < 0 || null.SignificantLift {
		t.Errorf("no effect: lift %.2f CI %v", null.Lift, null.LiftCI)
	}
}

func TestWilsonAndWelch(t *testing.T) {
	t.Parallel()
	// Reference values: Wilson 95 % for 10/100 is [0.0552, 0.1744].
	w := Wilson(10, 100, 1.96)
	if w[0] < 0.0551 || w[0] > 0.0553 || w[1] < 0.1743 || w[1] > 0.1745 {
		t.Errorf("Wilson(10,100) = %v", w)
	}
	// t(0.975, 10) = 2.228.
	if q := tQuantile975(10); q < 2.22 || q > 2.236 {
		t.Errorf("t quantile df=10: %v", q)
	}
}

func TestHoldoutMembersGetNothing(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.apply(`name: h
entry: {event: Visited}
holdout: 50%
steps:
  - email: {subject: "hi", text: "hi"}
`)
	for i := int64(1); i <= 40; i++ {
		f.track(f.customer(i, consented), "Visited", nil)
	}
	got := f.sends("1=1")
	if got["suppressed:holdout"] == 0 || got["sent"] == 0 || got["suppressed:holdout"]+got["sent"] != 40 {
		t.Fatalf("holdout 50%%: %v", got)
	}
	if len(f.sink.byChannel("email")) != got["sent"] {
		t.Fatal("a holdout member was sent something")
	}
	for _, m := range f.sink.byChannel("email") {
		if InHoldout("h", m.CustomerID, "", 0.5) {
			t.Fatalf("customer %d is in the holdout but got mail", m.CustomerID)
		}
	}
}

func TestSegmentAndDateEntries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{})
		f.applyTemplate("win-back", "holdout: 10%", "holdout: 0%")
		f.apply(`name: bday
entry: {date: birthday}
holdout: 0
steps:
  - email: {subject: "Happy birthday {{.Profile.FirstName}}", text: "cake"}
`)
		f.customer(1, consented)
		f.customer(2, map[string]any{"consent.email.marketing": true, "birthday": "1990-03-02", "firstName": "Bo"})
		f.customer(3, map[string]any{"consent.email.marketing": true, "birthday": "1990-03-03"})
		rec := func(cid int64, seg string) {
			err := db.Write(f.ctx, func(tx *store.Tx) error { return RecordSegment(f.ctx, tx, cid, seg, 0.2, f.clock()) })
			if err != nil {
				t.Fatal(err)
			}
		}
		rec(1, "Loyal")
		rec(3, "At Risk")
		f.drain()
		rec(1, "At Risk") // becomes At Risk: enters
		rec(3, "At Risk") // already At Risk: does not enter again
		f.drain()
		var winback, bday []int64
		for _, m := range f.sink.byChannel("email") {
			if m.Journey == "win-back" {
				winback = append(winback, m.CustomerID)
			} else {
				bday = append(bday, m.CustomerID)
			}
		}
		if len(winback) != 2 || len(bday) != 1 || bday[0] != 2 {
			t.Fatalf("win-back to %v (want 3 then 1), birthday to %v (want 2)", winback, bday)
		}
		f.advance(time.Hour) // same day: birthdays do not run twice
		if n := len(f.sink.byChannel("email")); n != 3 {
			t.Fatalf("emails = %d after a re-run on the same day", n)
		}
	})
}

func TestWebhookSenderSigns(t *testing.T) {
	t.Parallel()
	var got struct {
		sig, ts, idem string
		body          []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.sig, got.ts, got.idem = r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), r.Header.Get(IdempotencyHeader)
		got.body, _ = io.ReadAll(r.Body)
		if r.URL.Path == "/reject" {
			w.WriteHeader(422)
		}
	}))
	defer srv.Close()
	s := &WebhookSender{URL: srv.URL, Secret: []byte("shh"), Policy: loopbackRelay}
	m := &Message{IdemKey: "jr1-s2-sms", Channel: "sms", To: "+4470000", Text: "hi"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got.idem != "jr1-s2-sms" || VerifySignature([]byte("shh"), got.ts, got.sig, got.body, time.Minute) != nil {
		t.Fatalf("signature or key: %+v", got)
	}
	if VerifySignature([]byte("other"), got.ts, got.sig, got.body, time.Minute) == nil {
		t.Fatal("wrong key verified")
	}
	var wb webhookBody
	if json.Unmarshal(got.body, &wb) != nil || wb.To != "+4470000" || wb.Text != "hi" {
		t.Fatalf("body %s", got.body)
	}
	s.URL = srv.URL + "/reject"
	var perm *PermanentError
	if err := s.Send(context.Background(), m); err == nil || !asPerm(err, &perm) {
		t.Fatalf("422 must be permanent: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	wp, err := ParsePolicy([]byte("frequency_caps:\n  email: {max: 3, per: 7d}\n  sms: {max: 1, per: 1d, over: delay}\nquiet_hours: {from: \"21:00\", to: \"08:00\"}\ntimezone: Europe/Berlin\n"))
	if err != nil {
		t.Fatal(err)
	}
	if wp.Caps["email"].Max != 3 || wp.Caps["email"].Over != "skip" || wp.Caps["sms"].Per != 24*time.Hour || wp.Quiet.From != 21*60 || wp.Timezone != "Europe/Berlin" {
		t.Fatalf("%+v", wp)
	}
	_, err = ParsePolicy([]byte("frequency_caps:\n  fax: {max: 1, per: 1d}\ntimezone: Mars/Olympus\nquiet: 1\n"))
	want := "line 2: frequency_caps.fax: \"fax\" is not email, sms or push\nline 3: timezone: \"Mars/Olympus\" is not a time zone (e.g. Europe/Berlin)\nline 4: quiet: unknown field (expected one of: frequency_caps, quiet_hours, timezone)"
	if err == nil || err.Error() != want {
		t.Fatalf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestHoldoutIndependentPerRun: runs of one customer that differ only in the entry key's
// last characters are assigned independently, as a binomial would: per-customer holdout
// rates over 30 keys have the binomial variance, and about as many customers as chance
// allows have all or none of their runs in the holdout.
func TestHoldoutIndependentPerRun(t *testing.T) {
	t.Parallel()
	const customers, keys, p = 4000, 30, 0.10
	var sumsq, total float64
	extreme := 0
	for c := 1; c <= customers; c++ {
		cid := int64(c*397 + 1000)
		k := 0
		for d := 0; d < keys; d++ {
			if InHoldout("review-request", cid, "T"+strconv.FormatInt(int64(c), 36)+"-"+strconv.Itoa(d*7+3), p) {
				k++
			}
		}
		r := float64(k) / keys
		sumsq += (r - p) * (r - p)
		total += float64(k)
		if k == 0 || k == keys {
			extreme++
		}
	}
	share := total / (customers * keys)
	ratio := sumsq / customers / (p * (1 - p) / keys)
	// All-or-none under independence: 0.9^30 + 0.1^30 ≈ 4.2 % of customers.
	wantExtreme := customers * (math.Pow(1-p, keys) + math.Pow(p, keys))
	t.Logf("holdout share %.4f, per-customer variance %.2f × binomial, all-or-none %d (chance: %.0f)", share, ratio, extreme, wantExtreme)
	if math.Abs(share-p) > 0.005 || ratio > 1.15 || ratio < 0.85 || float64(extreme) > 1.5*wantExtreme {
		t.Errorf("holdout assignment is not independent per run")
	}
}

// Package demojourney runs omniroi's four built-in journeys over the demo business's last
// weeks on a simulated clock: real SMTP and webhook deliveries into an outbox directory,
// simulated customers who open, click, unsubscribe and buy (the holdout is never messaged,
// so it never reacts), and a ground truth of what each journey really earned to hold the
// holdout measurement against.
package demojourney

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Templates are the journeys the demo applies.
var Templates = []string{"abandoned-cart", "welcome", "review-request", "win-back"}

// OutboxDir is where the demo's messages land, inside the data directory.
const OutboxDir = "outbox"

// Options configure Run.
type Options struct {
	Dir     string        // data directory: the outbox goes in Dir/outbox
	End     time.Time     // the demo history's exclusive end
	Days    int           // how many final days of history the journeys run over; default 28
	BaseURL string        // where links in messages point (the dashboard's address)
	Seed    int64         // the customers' reactions are deterministic per seed
	Log     *slog.Logger  //
	Outbox  *Outbox       // a started outbox to deliver into; nil: Run starts and stops its own
	Persona *Reactions    // nil: DefaultReactions
	Window  time.Duration // conversion window of the holdout report; default 7 days
	// ConfirmRate is the share of customers who confirm an address a confirmation
	// message asks about (double opt-in); default DefaultConfirmRate.
	ConfirmRate float64
}

// DefaultConfirmRate is the demo's share of customers who confirm their address when
// asked: the web shop's sign-ups come through its public key, so their addresses wait
// for a confirmation before any journey writes to them. Some never confirm.
const DefaultConfirmRate = 0.6

// Confirmations is what the double opt-in did during the replay.
type Confirmations struct {
	Delivered map[string]int `json:"delivered"`                   // confirmation messages, by channel
	Confirmed int            `json:"confirmed"`                   // customers who confirmed (a link, or YES by SMS)
	Held      int            `json:"held"`                        // confirmations a new-recipient limit held back
	Waiting   int            `json:"journey_messages_suppressed"` // journey messages suppressed for an unverified address
}

// Reaction is how customers respond to one journey's messages on one channel.
type Reaction struct {
	Open     float64 `json:"open"`        // email: P(open)
	Click    float64 `json:"click"`       // P(click | open) for email, P(click) for SMS and push
	Buy      float64 `json:"buy"`         // P(order | click)
	BuyNoTap float64 `json:"buy_no_tap"`  // P(order) without a click (shows the SMS at the till)
	Unsub    float64 `json:"unsubscribe"` // P(one-click unsubscribe | open)
}

// Reactions are keyed by journey, then channel.
type Reactions map[string]map[string]Reaction

// DefaultReactions are plausible small-shop rates: cart reminders convert best, review
// requests hardly sell anything. They are the demo's truth, not an industry benchmark.
func DefaultReactions() Reactions {
	return Reactions{
		"abandoned-cart": {"email": {Open: 0.45, Click: 0.30, Buy: 0.40, Unsub: 0.004}, "push": {Click: 0.10, Buy: 0.35}},
		"welcome":        {"email": {Open: 0.55, Click: 0.20, Buy: 0.25, Unsub: 0.003}},
		"review-request": {"email": {Open: 0.40, Click: 0.15, Buy: 0.08, Unsub: 0.004}},
		"win-back":       {"email": {Open: 0.30, Click: 0.15, Buy: 0.30, Unsub: 0.008}, "sms": {Click: 0.08, Buy: 0.30, BuyNoTap: 0.03}},
	}
}

// Truth is what one journey's messages caused in the simulation: every order here exists
// only because a treated customer reacted to a message.
type Truth struct {
	Delivered    map[string]int `json:"delivered"` // by channel
	Opens        int            `json:"opens"`
	Clicks       int            `json:"clicks"`
	Unsubscribes int            `json:"unsubscribes"`
	Orders       int            `json:"incremental_orders"`
	RevenueMinor int64          `json:"incremental_revenue_minor"`
}

// JourneyResult sets a journey's holdout measurement beside its truth.
type JourneyResult struct {
	Name     string          `json:"journey"`
	Truth    Truth           `json:"truth"`
	Measured *journey.Report `json:"measured"`
}

// Report is what Run did.
type Report struct {
	From, To  time.Time           `json:"-"`
	FromDay   string              `json:"from"`
	ToDay     string              `json:"to"`
	Replay    journey.ReplayStats `json:"replay"`
	Outbox    string              `json:"outbox"`
	Delivered map[string]int      `json:"delivered"`
	Consent   map[string]int      `json:"consented_customers"` // by channel
	Confirm   Confirmations       `json:"confirmations"`
	Journeys  []JourneyResult     `json:"journeys"`
	Reactions Reactions           `json:"reactions"`
	// SubjectTest is the subject-line test's truth (subjecttest.go).
	SubjectTest SubjectTestTruth `json:"subject_test"`
	WallSecond  float64          `json:"seconds"`
}

// Run applies the templates and replays the last Days of the demo through them. The
// store must hold a freshly loaded demo (demo.Load) whose event processor has caught up.
func Run(ctx context.Context, db *store.DB, o Options) (*Report, error) {
	t0 := time.Now()
	if o.Days <= 0 {
		o.Days = 28
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.ConfirmRate <= 0 {
		o.ConfirmRate = DefaultConfirmRate
	}
	reactions := DefaultReactions()
	if o.Persona != nil {
		reactions = *o.Persona
	}
	if o.BaseURL == "" {
		o.BaseURL = "http://127.0.0.1:8080"
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	from, to := o.End.AddDate(0, 0, -o.Days), o.End
	rep := &Report{From: from, To: to, FromDay: from.Format("2006-01-02"), ToDay: to.AddDate(0, 0, -1).Format("2006-01-02"),
		Outbox: filepath.Join(o.Dir, OutboxDir), Reactions: reactions}

	for _, name := range Templates {
		src, err := journey.TemplateSource(name)
		if err != nil {
			return nil, err
		}
		if src, err = withSubjectTest(name, src); err != nil {
			return nil, err
		}
		if _, err := journey.Apply(ctx, db, src); err != nil {
			return nil, fmt.Errorf("apply %s: %w", name, err)
		}
	}
	loc, err := workspace.Location(ctx, db)
	if err != nil {
		return nil, err
	}
	tz := loc.String()
	policy := journey.WorkspacePolicy{
		Timezone: tz,
		Quiet:    &journey.Quiet{From: 21 * 60, To: 8 * 60},
		Caps:     map[string]journey.Cap{"email": {Max: 3, Per: 7 * 24 * time.Hour, Over: "delay"}, "sms": {Max: 1, Per: 7 * 24 * time.Hour, Over: "skip"}},
	}
	if err := journey.SavePolicy(ctx, db, policy); err != nil {
		return nil, err
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, workspace.ShopURLKey.Name, demo.SiteURL) })
	if err != nil {
		return nil, err
	}
	// The demo's SMS and push "providers" are a webhook receiver on this host. Webhooks may
	// reach loopback only when the workspace allows it, so the demo says so, here and for
	// the omniroi serve that follows it.
	if _, err := workspace.Set(ctx, db, audit.ActorSystem, workspace.WebhookNetworksKey.Name, "loopback"); err != nil {
		return nil, err
	}
	if rep.Consent, err = grantConsent(ctx, db, from, o.Seed); err != nil {
		return nil, err
	}

	box := o.Outbox
	if box == nil {
		box = &Outbox{Dir: rep.Outbox}
		if err := box.Start(); err != nil {
			return nil, err
		}
		defer box.Close()
	}
	clock := &journey.SimClock{}
	smtpS, err := journey.ParseSMTPURL("smtp://" + box.SMTPAddr + "?from=hello@crumbandco.example&tls=none")
	if err != nil {
		return nil, err
	}
	secret := []byte("demo-webhook-secret")
	relay := journey.SettingsNetPolicy(db)
	eng, err := journey.NewEngine(ctx, db, journey.Options{
		Senders: map[string]journey.Sender{
			"email": smtpS,
			"sms":   &journey.WebhookSender{URL: box.HTTPURL + "/sms", Secret: secret, Policy: relay},
			"push":  &journey.WebhookSender{URL: box.HTTPURL + "/push", Secret: secret, Policy: relay},
		},
		BaseURL: o.BaseURL, Business: "Crumb & Co.", Now: clock.Now, Policy: &policy, Logger: o.Log,
		MaxEntryAge: time.Duration(o.Days+1) * 24 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	proc := identity.NewProcessor(db, identity.Options{})
	rp := &journey.Replay{DB: db, Engine: eng, Clock: clock, Location: loc, Step: 15 * time.Minute,
		Process: func(ctx context.Context) error { return proc.CatchUp(ctx) }}
	feed := &value.SegmentFeed{DB: db, Now: clock.Now, Thresholds: func(ctx context.Context) ([]float64, error) { return journey.SegmentThresholds(ctx, db) }}
	// The feed refreshes at the start and then weekly, on Mondays: a refresh reads every
	// order (about a second for the default demo), and a weekly segment sync is what
	// many shops run. omniroi serve refreshes hourly when the orders or the day changed.
	first := true
	rp.OnDay = func(ctx context.Context, day time.Time) error {
		if !first && day.Weekday() != time.Monday {
			return nil
		}
		first = false
		_, _, err := feed.Tick(ctx)
		return err
	}
	web, err := db.SourceByName(ctx, "web")
	if err != nil {
		return nil, fmt.Errorf("the demo's web source: %w", err)
	}
	sim := &customers{db: db, replay: rp, handler: journey.NewHTTPHandler(eng, journey.HandlerOptions{}), base: o.BaseURL,
		seed: uint64(o.Seed), reactions: reactions, webSource: web.ID, truth: map[string]*Truth{}, confirmRate: o.ConfirmRate, end: to}
	box.OnDelivery = sim.received
	defer func() { box.OnDelivery = nil }()

	// Weeks of simulated minutes commit one by one; the demo can be rebuilt, so they skip
	// the fsync a live store pays per commit.
	restore, err := db.RelaxSync(ctx)
	if err != nil {
		return nil, err
	}
	rep.Replay, err = rp.Run(ctx, from, to)
	if rerr := restore(); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	if sim.err != nil {
		return nil, sim.err
	}
	if err := finishSubjectTruth(ctx, db, &sim.subject); err != nil {
		return nil, err
	}
	rep.SubjectTest = sim.subject
	rep.Delivered = box.Counts()
	rep.Confirm.Delivered = box.Confirmations()
	if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN confirmed_at > 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status = 'held' THEN 1 ELSE 0 END), 0)
		FROM journey_confirmations`).Scan(new(int), &rep.Confirm.Confirmed, &rep.Confirm.Held); err != nil {
		return nil, err
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE status = 'suppressed' AND (reason LIKE 'unverified%' OR reason LIKE ?)`, journey.ReasonOverLimit+"%").Scan(&rep.Confirm.Waiting); err != nil {
		return nil, err
	}
	for _, name := range Templates {
		m, err := journey.Measure(ctx, db, name, journey.ReportOptions{Window: o.Window, CostPerSend: map[string]int64{"email": 0, "sms": 6, "push": 0}})
		if err != nil {
			return nil, err
		}
		t := sim.truth[name]
		if t == nil {
			t = &Truth{}
		}
		rep.Journeys = append(rep.Journeys, JourneyResult{Name: name, Truth: *t, Measured: m})
	}
	rep.WallSecond = time.Since(t0).Seconds()
	return rep, nil
}

// grantConsent records the demo's subscriber lists as consent decisions, as a shop
// importing its lists would: email for everyone the newsletter reached before the
// replay, SMS for everyone the SMS club reached, push for a third of web account holders
// (the app's opt-in; the demo's world has no app events of its own). Customers who sign
// up later bring their consent as a trait (consent.email.marketing) on their identify.
func grantConsent(ctx context.Context, db *store.DB, before time.Time, seed int64) (map[string]int, error) {
	out := map[string]int{}
	type grant struct {
		cid int64
		ch  string
	}
	var gs []grant
	for ch, name := range map[string]string{"email": "Email Delivered", "sms": "SMS Delivered"} {
		rows, err := db.Query(ctx, `SELECT DISTINCT customer_id FROM activity WHERE name = ? AND ts < ?`, name, before.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("demo consent: %w", err)
		}
		for rows.Next() {
			var c int64
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return nil, err
			}
			gs = append(gs, grant{c, ch})
		}
		rows.Close()
	}
	rows, err := db.Query(ctx, `SELECT id, user_id FROM customers WHERE user_id <> ''`)
	if err != nil {
		return nil, fmt.Errorf("demo consent: %w", err)
	}
	for rows.Next() {
		var c int64
		var u string
		if err := rows.Scan(&c, &u); err != nil {
			rows.Close()
			return nil, err
		}
		if unit(uint64(seed), "push", u) < 1.0/3 {
			gs = append(gs, grant{c, "push"})
		}
	}
	rows.Close()
	sort.Slice(gs, func(i, j int) bool { return gs[i].cid < gs[j].cid || gs[i].cid == gs[j].cid && gs[i].ch < gs[j].ch })
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, g := range gs {
			if err := journey.SetConsent(ctx, tx, g.cid, g.ch, "marketing", true, "demo: subscriber list", before); err != nil {
				return err
			}
			out[g.ch]++
		}
		return nil
	})
	return out, err
}

// unit is a deterministic draw in [0, 1) from the parts.
func unit(seed uint64, parts ...string) float64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	x := h.Sum64()
	x ^= x >> 33 // fnv's low bits mix poorly
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

// customers simulates the people who receive the demo's messages.
type customers struct {
	db        *store.DB
	replay    *journey.Replay
	handler   http.Handler
	base      string
	seed      uint64
	reactions Reactions
	webSource int64
	// confirmRate is the share of people who confirm an address when asked.
	confirmRate float64

	mu      sync.Mutex
	truth   map[string]*Truth
	subject SubjectTestTruth // the subject-line test (subjecttest.go)
	end     time.Time        // the replay's end: later reactions never happen
	err     error
}

func (c *customers) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *customers) tally(journeyName string, f func(t *Truth)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.truth[journeyName]
	if t == nil {
		t = &Truth{Delivered: map[string]int{}}
		c.truth[journeyName] = t
	}
	f(t)
}

// received runs in the outbox's goroutine while the engine delivers: it only reads the
// message and schedules the reactions on the replay's clock.
func (c *customers) received(d Delivery) {
	links, err := messageLinks(d, c.base)
	if err != nil {
		c.fail(fmt.Errorf("demo customer reading %s: %w", d.Key, err))
		return
	}
	now := c.replay.Clock.Now()
	if strings.HasPrefix(d.Key, "confirm-") {
		c.replay.At(now, func(ctx context.Context) error { return c.confirm(ctx, d, links, now) })
		return
	}
	c.replay.At(now, func(ctx context.Context) error { return c.react(ctx, d, links, now) })
}

// confirm is a customer reading a confirmation (double opt-in): some confirm a few
// minutes to hours later, by the link in the email or by answering YES to the SMS; the
// others never do, and journeys never write to them.
func (c *customers) confirm(ctx context.Context, d Delivery, links map[string][]string, at time.Time) error {
	if unit(c.seed, d.Key, "confirm") >= c.confirmRate {
		return nil
	}
	when := at.Add(2*time.Minute + time.Duration(unit(c.seed, d.Key, "confirm-at")*float64(8*time.Hour)))
	c.replay.At(when, func(ctx context.Context) error {
		if d.Channel == "sms" {
			form := url.Values{"From": {d.To}, "Body": {"YES"}}
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/j/sms/inbound", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			c.handler.ServeHTTP(rec, req)
			if rec.Code >= 400 {
				return fmt.Errorf("demo customer answering %s: %d %s", d.Key, rec.Code, strings.TrimSpace(rec.Body.String()))
			}
		} else {
			if len(links["confirm"]) == 0 {
				return fmt.Errorf("confirmation %s has no link", d.Key)
			}
			if err := c.visit(ctx, http.MethodPost, links["confirm"][0]); err != nil {
				return err
			}
		}
		// The confirmation is an event in the log: derive it before the next message.
		return c.replay.Process(ctx)
	})
	return nil
}

type sendInfo struct {
	journey, entryKey, userID, anonID string
	experiment, variant               string
	customer                          int64
}

func (c *customers) lookup(ctx context.Context, key string) (sendInfo, error) {
	var s sendInfo
	err := c.db.QueryRow(ctx, `SELECT s.journey, r.entry_key, r.customer_id, COALESCE(s.experiment, ''), COALESCE(s.variant, '') FROM journey_sends s JOIN journey_runs r ON r.id = s.run_id WHERE s.idem_key = ?`, key).
		Scan(&s.journey, &s.entryKey, &s.customer, &s.experiment, &s.variant)
	if err != nil {
		return s, fmt.Errorf("send %s: %w", key, err)
	}
	// The customer may have been merged since; any of its identifiers reaches the survivor.
	_ = c.db.QueryRow(ctx, `SELECT user_id FROM customers WHERE id = ?`, s.customer).Scan(&s.userID)
	if s.userID == "" {
		_ = c.db.QueryRow(ctx, `SELECT value FROM identities WHERE customer_id = ? AND kind IN ('user_id', 'anonymous_id') ORDER BY kind DESC, first_seen LIMIT 1`, s.customer).Scan(&s.anonID)
	}
	return s, nil
}

func (c *customers) react(ctx context.Context, d Delivery, links map[string][]string, at time.Time) error {
	s, err := c.lookup(ctx, d.Key)
	if err != nil {
		return err
	}
	r, ok := c.reactions[s.journey][d.Channel]
	c.tally(s.journey, func(t *Truth) { t.Delivered[d.Channel]++ })
	if !ok {
		return nil
	}
	draw := func(what string) float64 { return unit(c.seed, d.Key, what) }
	between := func(what string, lo, hi time.Duration) time.Time {
		return at.Add(lo + time.Duration(draw(what)*float64(hi-lo)))
	}
	r = c.subjectReaction(s, d.Channel, r, func(rate float64) bool {
		return draw("open") < rate && len(links["o"]) > 0 && between("open-at", 5*time.Minute, 6*time.Hour).Before(c.end)
	})
	clickAt := at
	clicked := false
	if d.Channel == "email" {
		if draw("open") >= r.Open || len(links["o"]) == 0 {
			return nil
		}
		openAt := between("open-at", 5*time.Minute, 6*time.Hour)
		c.replay.At(openAt, func(ctx context.Context) error {
			c.tally(s.journey, func(t *Truth) { t.Opens++ })
			return c.visit(ctx, http.MethodGet, links["o"][0])
		})
		if draw("unsubscribe") < r.Unsub && len(links["u"]) > 0 {
			c.replay.At(openAt.Add(time.Minute), func(ctx context.Context) error {
				c.tally(s.journey, func(t *Truth) { t.Unsubscribes++ })
				return c.visit(ctx, http.MethodPost, links["u"][0])
			})
			return nil
		}
		if draw("click") < r.Click && len(links["c"]) > 0 {
			clicked, clickAt = true, openAt.Add(10*time.Second+time.Duration(draw("click-at")*float64(5*time.Minute)))
		}
	} else if draw("click") < r.Click {
		clicked, clickAt = true, between("click-at", time.Minute, 3*time.Hour)
	}
	if clicked && len(links["c"]) > 0 {
		link := links["c"][0]
		c.replay.At(clickAt, func(ctx context.Context) error {
			c.tally(s.journey, func(t *Truth) { t.Clicks++ })
			return c.visit(ctx, http.MethodGet, link)
		})
	} else if clicked {
		c.tally(s.journey, func(t *Truth) { t.Clicks++ }) // a push without a tracked link
	}
	buy := clicked && draw("buy") < r.Buy || !clicked && draw("buy-no-tap") < r.BuyNoTap
	if !buy {
		return nil
	}
	buyAt := clickAt.Add(2*time.Minute + time.Duration(draw("buy-at")*float64(36*time.Hour)))
	c.replay.At(buyAt, func(ctx context.Context) error { return c.order(ctx, s, d, buyAt) })
	return nil
}

// visit requests a tracking, click or unsubscribe link the way a mail client or a
// browser would, through the journey engine's own handler.
func (c *customers) visit(ctx context.Context, method, link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return err
	}
	var req *http.Request
	if method == http.MethodPost { // RFC 8058 one-click: the mail client posts this body
		req = httptest.NewRequestWithContext(ctx, method, u.RequestURI(), strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequestWithContext(ctx, method, u.RequestURI(), nil)
	}
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	if rec.Code >= 400 {
		return fmt.Errorf("%s %s: %d %s", method, u.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}

// order is the purchase a message caused: on the web shop after a click, or at the till
// for an SMS shown at the counter. It arrives like any other order event.
func (c *customers) order(ctx context.Context, s sendInfo, d Delivery, at time.Time) error {
	// Demo baskets are €4–40; a reminded cart is a web basket.
	minor := int64(400 + math.Round(unit(c.seed, d.Key, "basket")*3600))
	props := map[string]any{"order_id": "J-" + d.Key, "revenue": float64(minor) / 100, "total": float64(minor) / 100, "currency": "EUR", "location": "web"}
	if s.journey == "abandoned-cart" && s.entryKey != "" {
		props["cart_id"] = s.entryKey
	}
	call := map[string]any{"type": "track", "event": "Order Completed", "properties": props,
		"messageId": "demo-journey-order-" + d.Key, "timestamp": event.FormatTime(at),
		"context": map[string]any{"campaign": map[string]any{"source": "omniroi", "medium": map[string]string{"email": "email", "sms": "sms", "push": "push"}[d.Channel], "name": s.journey}}}
	if s.userID != "" {
		call["userId"] = s.userID
	} else if s.anonID != "" {
		call["anonymousId"] = s.anonID
	} else {
		return nil // an erased customer
	}
	body, err := json.Marshal(call)
	if err != nil {
		return err
	}
	ev, err := event.Normalize(body, "", at, at)
	if err != nil {
		return fmt.Errorf("demo order: %w", err)
	}
	ev.SourceID = c.webSource
	if err := c.replay.Insert(ctx, []event.Event{ev}); err != nil {
		return err
	}
	c.tally(s.journey, func(t *Truth) { t.Orders++; t.RevenueMinor += minor })
	return nil
}

var linkRe = regexp.MustCompile(`/j/([ocu]|confirm)/[A-Za-z0-9_\-.~%]+`)

// messageLinks finds the engine's tracking (o), click (c), unsubscribe (u) and
// confirmation links in a delivered message, decoding the email's MIME parts first.
func messageLinks(d Delivery, base string) (map[string][]string, error) {
	var text string
	switch d.Channel {
	case "email":
		t, err := mailText(d.Raw)
		if err != nil {
			return nil, err
		}
		text = t
	default:
		var b map[string]any
		if err := json.Unmarshal(d.Raw, &b); err != nil {
			return nil, err
		}
		for _, k := range []string{"text", "url", "html"} {
			if s, ok := b[k].(string); ok {
				text += s + "\n"
			}
		}
	}
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, m := range linkRe.FindAllStringSubmatchIndex(text, -1) {
		path := text[m[0]:m[1]]
		kind := text[m[2]:m[3]]
		link := base + path
		if !seen[link] {
			seen[link] = true
			out[kind] = append(out[kind], link)
		}
	}
	return out, nil
}

// mailText is the decoded text of every part of a message, headers included (the
// List-Unsubscribe header carries the one-click link).
func mailText(raw []byte) (string, error) {
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(m.Header.Get("List-Unsubscribe"))
	b.WriteByte('\n')
	var walk func(ct, cte string, body []byte) error
	walk = func(ct, cte string, body []byte) error {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			mt = "text/plain"
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					break
				}
				pb := new(strings.Builder)
				if _, err := io.Copy(pb, p); err != nil {
					return err
				}
				if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), []byte(pb.String())); err != nil {
					return err
				}
			}
			return nil
		}
		if strings.EqualFold(cte, "quoted-printable") {
			dec := new(strings.Builder)
			if _, err := io.Copy(dec, quotedprintable.NewReader(strings.NewReader(string(body)))); err != nil {
				return err
			}
			body = []byte(dec.String())
		}
		b.Write(body)
		b.WriteByte('\n')
		return nil
	}
	body := new(strings.Builder)
	if _, err := io.Copy(body, m.Body); err != nil {
		return "", err
	}
	err = walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), []byte(body.String()))
	return b.String(), err
}

// WriteTruth adds the journeys' truth to the ground truth file at path.
func WriteTruth(path string, rep *Report) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var gt map[string]json.RawMessage
	if err := json.Unmarshal(b, &gt); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	type jt struct {
		Truth     Truth               `json:"truth"`
		Reactions map[string]Reaction `json:"reactions"`
	}
	js := map[string]jt{}
	for _, j := range rep.Journeys {
		js[j.Name] = jt{j.Truth, rep.Reactions[j.Name]}
	}
	raw, err := json.Marshal(struct {
		From        string           `json:"from"`
		To          string           `json:"to"`
		Note        string           `json:"note"`
		Journeys    map[string]jt    `json:"journeys"`
		SubjectTest SubjectTestTruth `json:"subject_test"`
	}{rep.FromDay, rep.ToDay, "Orders caused by journey messages during the replay (`omniroi demo` runs the built-in journeys over the last weeks). They come on top of the channel figures above, which describe the generated history without them.", js, rep.SubjectTest})
	if err != nil {
		return err
	}
	gt["journeys"] = raw
	out, err := json.MarshalIndent(gt, "", "  ")
	if err != nil {
		return err
	}
	return store.WritePrivateFile(path, append(out, '\n'))
}

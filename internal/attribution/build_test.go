package attribution

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// fixture writes rows straight into the derived tables (what internal/identity's processor
// produces), so these tests pin the journey rules independently of the processor.
type fixture struct {
	t   *testing.T
	db  *store.DB
	seq int64
}

func newFixture(t *testing.T, db *store.DB) *fixture { return &fixture{t: t, db: db, seq: 100} }

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(context.Background(), q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// act adds one activity row (a page view when name is a page, else a track event).
func (f *fixture) act(cid int64, ts time.Time, name, channel, campaign string) int64 {
	f.t.Helper()
	f.seq++
	f.exec(`INSERT INTO activity (seq, customer_id, ts, type, name, channel, campaign, source, medium, source_id)
		VALUES (?, ?, ?, 'track', ?, ?, ?, '', '', 1)`, f.seq, cid, ts.UnixMilli(), name, channel, campaign)
	return f.seq
}

// event adds an events row (for conversion events whose value is read from the body).
func (f *fixture) event(seq int64, ts time.Time, name, body string) {
	f.t.Helper()
	f.exec(`INSERT INTO events (seq, source_id, message_id, type, name, ts, received_at, body)
		VALUES (?, 1, ?, 'track', ?, ?, ?, ?)`, seq, fmt.Sprintf("m%d", seq), name, ts.UnixMilli(), ts.UnixMilli(), body)
}

func (f *fixture) order(id string, cid int64, ts time.Time, revenue int64, location, channel string) {
	f.t.Helper()
	f.seq++
	f.exec(`INSERT INTO orders (order_id, customer_id, ts, revenue_minor, currency, location, channel, source_id, seq)
		VALUES (?, ?, ?, ?, 'EUR', ?, ?, 1, ?)`, id, cid, ts.UnixMilli(), revenue, location, channel, f.seq)
}

func (f *fixture) refund(orderID string, cid int64, ts time.Time, amount int64, full bool) {
	f.t.Helper()
	f.seq++
	fr := 0
	if full {
		fr = 1
	}
	f.exec(`INSERT INTO refunds (seq, order_id, customer_id, ts, amount_minor, currency, full_refund)
		VALUES (?, ?, ?, ?, ?, 'EUR', ?)`, f.seq, orderID, cid, ts.UnixMilli(), amount, fr)
}

func (f *fixture) spend(day, channel, campaign string, amount int64) {
	f.t.Helper()
	f.exec(`INSERT INTO spend (day, channel, campaign, platform, amount_minor, currency, impressions, clicks)
		VALUES (?, ?, ?, 'test', ?, 'EUR', 100, 10)`, day, channel, campaign, amount)
}

var jt0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func at(days int, hhmm string) time.Time {
	var h, m int
	fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return jt0.AddDate(0, 0, days).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// journeyFixture is a small business: web sessions with a mid-visit ad click, email, an
// offline customer (direct mail, store visit, phone call), till orders without journeys,
// refunds, a refund event that is not a touch, and non-converting tails.
func journeyFixture(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	// Customer 1: search ad, then a Facebook ad click in the same visit, checkout, order.
	f.act(1, at(0, "10:00"), "Home", "Paid Search", "brand")
	f.act(1, at(0, "10:05"), "Menu", "Direct", "(none)")
	f.act(1, at(0, "10:10"), "Home", "Paid Social", "fb-retargeting")
	f.act(1, at(0, "10:12"), "Checkout Started", "Direct", "(none)")
	f.act(1, at(0, "10:15"), "Order Completed", "Direct", "(none)")
	f.order("o1", 1, at(0, "10:15"), 5000, "web", "Paid Social")
	f.refund("o1", 1, at(1, "09:00"), 1000, false)
	f.act(1, at(1, "09:00"), "Order Refunded", "Direct", "(none)")
	// Then an email and a later direct visit, no order: a non-converting tail.
	f.act(1, at(2, "11:00"), "Email Delivered", "Email", "newsletter")
	f.act(1, at(2, "11:20"), "Home", "Email", "newsletter")
	f.act(1, at(2, "12:30"), "Home", "Direct", "(none)")

	// Customer 2: offline. Direct mail 40 days before (outside the lookback), a store visit
	// and a phone call, then a till order; a second till order with no touch since.
	f.act(2, at(-40, "09:00"), "Direct Mail Received", "Direct Mail", "spring-flyer")
	f.act(2, at(-10, "16:00"), "Store Visit", "In-store", "(none)")
	f.act(2, at(-5, "11:00"), "Call", "Phone", "(none)")
	f.act(2, at(1, "15:00"), "Order Completed", "In-store", "(none)")
	f.order("o2", 2, at(1, "15:00"), 2500, "store", "In-store")
	f.order("o3", 2, at(3, "08:00"), 1200, "store", "In-store")

	// Customer 3: a walk-in buys and returns everything.
	f.order("o4", 3, at(2, "12:00"), 800, "store", "In-store")
	f.refund("o4", 3, at(2, "13:00"), 0, true)

	// Customer 4: one organic visit, no order. Customer 5: only a refund event.
	f.act(4, at(4, "10:00"), "Home", "Organic Search", "(none)")
	f.act(5, at(4, "10:00"), "Order Refunded", "Direct", "(none)")
}

// describe renders journeys as comparable strings.
func collect(opt *PathOptions) *[]string {
	var out []string
	opt.OnPath = func(info PathInfo) {
		j := info.Path
		var ts []string
		for _, t := range j.Touches {
			ts = append(ts, fmt.Sprintf("%s/%s@%s", t.Channel, t.Campaign, t.Time.Sub(jt0).Round(time.Minute)))
		}
		kind := "null"
		if j.Conversions > 0 {
			kind = fmt.Sprintf("conv %d@%s", info.ValueMinor, j.ConvertedAt.Sub(jt0))
			if info.FirstConversion {
				kind += " first"
			}
			if info.Synthesized {
				kind += " synth"
			}
		}
		s := fmt.Sprintf("c%d %s [%s]", info.CustomerID, kind, strings.Join(ts, " "))
		if j.Milestones != nil {
			s += fmt.Sprint(" ms", j.Milestones)
		}
		out = append(out, s)
	}
	return &out
}

func TestBuildPaths(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		journeyFixture(t, db)
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			opt  PathOptions
			want []string
			sum  func(t *testing.T, s Summary)
		}{
			{
				name: "defaults",
				want: []string{
					"c1 conv 4000@10h15m0s first [Paid Search/brand@10h0m0s Paid Social/fb-retargeting@10h10m0s] ms[-1 1]",
					"c1 null [Email/newsletter@59h0m0s Direct/(none)@60h30m0s]",
					"c2 null [Direct Mail/spring-flyer@-951h0m0s]",
					"c2 conv 2500@39h0m0s first [In-store/(none)@-224h0m0s Phone/(none)@-109h0m0s]",
					"c2 conv 1200@80h0m0s synth [In-store/(none)@80h0m0s]",
					"c3 conv 0@60h0m0s first synth [In-store/(none)@60h0m0s]",
					"c4 null [Organic Search/(none)@106h0m0s]",
				},
				sum: func(t *testing.T, s Summary) {
					if s.Conversions != 4 || s.NullPaths != 3 || s.SynthesizedTouches != 2 || s.Unattributed != 0 ||
						s.RevenueMinor != 4000+2500+1200 || s.RefundedMinor != 1800 || s.Customers != 4 || s.Touches != 10 {
						t.Errorf("summary %+v", s)
					}
				},
			},
			{
				name: "short sessions and lookback",
				opt:  PathOptions{SessionTimeout: 10 * time.Minute, Lookback: 7 * 24 * time.Hour},
				want: []string{
					"c1 conv 4000@10h15m0s first [Paid Search/brand@10h0m0s Paid Social/fb-retargeting@10h10m0s] ms[-1 1]",
					"c1 null [Email/newsletter@59h0m0s Email/newsletter@59h20m0s Direct/(none)@60h30m0s]",
					"c2 null [Direct Mail/spring-flyer@-951h0m0s]",
					"c2 null [In-store/(none)@-224h0m0s]",
					"c2 conv 2500@39h0m0s first [Phone/(none)@-109h0m0s]",
					"c2 conv 1200@80h0m0s synth [In-store/(none)@80h0m0s]",
					"c3 conv 0@60h0m0s first synth [In-store/(none)@60h0m0s]",
					"c4 null [Organic Search/(none)@106h0m0s]",
				},
			},
			{
				name: "date range",
				opt:  PathOptions{From: jt0.AddDate(0, 0, 1), To: jt0.AddDate(0, 0, 3)},
				want: []string{
					"c1 null [Email/newsletter@59h0m0s Direct/(none)@60h30m0s]",
					"c2 conv 2500@39h0m0s first [In-store/(none)@-224h0m0s Phone/(none)@-109h0m0s]",
					"c3 conv 0@60h0m0s first synth [In-store/(none)@60h0m0s]",
				},
			},
			{
				name: "milestones",
				opt:  PathOptions{LeadEvents: []string{"Menu"}, OpportunityEvents: []string{"Call"}},
				want: []string{
					"c1 conv 4000@10h15m0s first [Paid Search/brand@10h0m0s Paid Social/fb-retargeting@10h10m0s] ms[0 -1]",
					"c1 null [Email/newsletter@59h0m0s Direct/(none)@60h30m0s]",
					"c2 null [Direct Mail/spring-flyer@-951h0m0s]",
					"c2 conv 2500@39h0m0s first [In-store/(none)@-224h0m0s Phone/(none)@-109h0m0s] ms[-1 1]",
					"c2 conv 1200@80h0m0s synth [In-store/(none)@80h0m0s]",
					"c3 conv 0@60h0m0s first synth [In-store/(none)@60h0m0s]",
					"c4 null [Organic Search/(none)@106h0m0s]",
				},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				opt := tc.opt
				got := collect(&opt)
				set, sum, err := BuildPaths(ctx, db, opt)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(*got, tc.want) {
					t.Errorf("journeys:\n%s\nwant:\n%s", strings.Join(*got, "\n"), strings.Join(tc.want, "\n"))
				}
				if set.Len() != len(tc.want) {
					t.Errorf("set has %d journeys, want %d", set.Len(), len(tc.want))
				}
				if tc.sum != nil {
					tc.sum(t, sum)
				}
			})
		}
	})
}

func TestBuildPathsConversionEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.act(7, at(0, "09:00"), "Home", "Paid Search", "brand")
		seq := f.act(7, at(0, "09:05"), "Signed Up", "Direct", "(none)")
		f.event(seq, at(0, "09:05"), "Signed Up", `{"type":"track","event":"Signed Up","properties":{"revenue":12.5}}`)
		f.act(8, at(0, "09:00"), "Home", "Email", "newsletter")
		seq = f.act(8, at(0, "09:30"), "Signed Up", "Direct", "(none)")
		f.event(seq, at(0, "09:30"), "Signed Up", `{"type":"track","event":"Signed Up","properties":{}}`)
		f.order("o9", 8, at(0, "10:00"), 9900, "web", "Email")
		opt := PathOptions{ConversionEvents: []string{"Signed Up"}}
		got := collect(&opt)
		_, sum, err := BuildPaths(context.Background(), db, opt)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"c7 conv 1250@9h5m0s first [Paid Search/brand@9h0m0s]",
			"c8 conv 0@9h30m0s first [Email/newsletter@9h0m0s]",
		}
		if !slices.Equal(*got, want) || sum.Conversions != 2 || sum.RevenueMinor != 1250 {
			t.Errorf("got %q (%+v), want %q", *got, sum, want)
		}
		// Both definitions at once: the order is a conversion of its own; the sign-up took the
		// email touch, so the order gets its own channel as its only touch.
		opt = PathOptions{ConversionEvents: []string{"Signed Up", OrderCompleted}}
		got = collect(&opt)
		if _, _, err := BuildPaths(context.Background(), db, opt); err != nil {
			t.Fatal(err)
		}
		if len(*got) != 3 || (*got)[2] != "c8 conv 9900@10h0m0s synth [Email/(none)@10h0m0s]" {
			t.Errorf("got %q", *got)
		}
	})
}

func TestBuildPathsErrors(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	if _, _, err := BuildPaths(context.Background(), db, PathOptions{From: jt0, To: jt0}); err == nil {
		t.Error("empty range accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := BuildPaths(ctx, db, PathOptions{}); err == nil {
		t.Error("cancelled context accepted")
	}
}

// The set is assembled in customer order whatever the number of id ranges and workers.
func TestBuildPathsChunking(t *testing.T) {
	db := storetest.SQLite(t)
	journeyFixture(t, db)
	f := newFixture(t, db)
	f.seq = 10_000
	// Customers spread over many blocks of ids.
	for c := int64(10); c < 60; c++ {
		id := c * 40_000
		f.act(id, at(int(c%5), "09:00"), "Home", []string{"Email", "Paid Search", "Direct"}[c%3], "x")
		if c%2 == 0 {
			f.order(fmt.Sprintf("k%d", c), id, at(int(c%5), "09:30"), 100*c, "web", "Direct")
		}
	}
	defer func(n int) { pathWorkers = n }(pathWorkers)
	var ref []string
	var refSet *Set
	for _, n := range []int{1, 2, 3, 8} {
		pathWorkers = n
		opt := PathOptions{}
		got := collect(&opt)
		set, _, err := BuildPaths(context.Background(), db, opt)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref, refSet = *got, set
			continue
		}
		if !slices.Equal(*got, ref) || !slices.Equal(set.Ch, refSet.Ch) || !slices.Equal(set.Value, refSet.Value) {
			t.Errorf("%d workers: paths differ from 1 worker", n)
		}
	}
	if len(ref) < 30 {
		t.Errorf("only %d journeys", len(ref))
	}
}

// TestBuildPathsSetMatchesCompile checks that the set built from the workers' string ids
// (SetBuilder.addRaw) is the set Compile builds from the same paths as Touch values.
func TestBuildPathsSetMatchesCompile(t *testing.T) {
	db := storetest.SQLite(t)
	journeyFixture(t, db)
	f := newFixture(t, db)
	f.seq = 10_000
	for c := int64(10); c < 60; c++ {
		id := c * 40_000
		f.act(id, at(int(c%5), "09:00"), "Home", []string{"Email", "Paid Search", "Direct"}[c%3], []string{"x", "", "Spring"}[c%3])
		if c%2 == 0 {
			f.order(fmt.Sprintf("k%d", c), id, at(int(c%5), "09:30"), 100*c, "web", "Direct")
		}
	}
	var paths []Path
	opt := PathOptions{OnPath: func(info PathInfo) {
		j := info.Path
		j.Touches = slices.Clone(j.Touches)
		j.Milestones = slices.Clone(j.Milestones)
		paths = append(paths, j)
	}}
	set, _, err := BuildPaths(context.Background(), db, opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Compile(paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 30 || set.Touches() == 0 || set.Lead == nil {
		t.Fatalf("fixture too small: %d paths, %d touches, milestones %v", len(paths), set.Touches(), set.Lead != nil)
	}
	eqNaN := func(a, b []float32) bool {
		return slices.EqualFunc(a, b, func(x, y float32) bool { return x == y || x != x && y != y })
	}
	if !slices.Equal(set.Channels, want.Channels) || !slices.Equal(set.Pairs, want.Pairs) ||
		!slices.Equal(set.Off, want.Off) || !slices.Equal(set.Ch, want.Ch) || !slices.Equal(set.Camp, want.Camp) ||
		!eqNaN(set.Age, want.Age) || !slices.Equal(set.Conv, want.Conv) || !slices.Equal(set.Value, want.Value) ||
		!slices.Equal(set.Nulls, want.Nulls) || !slices.Equal(set.Lead, want.Lead) || !slices.Equal(set.Opp, want.Opp) ||
		set.Unattributed != want.Unattributed {
		t.Errorf("set differs from Compile of its paths:\n got %+v\nwant %+v", set, want)
	}
}

// A build cancelled while workers wait for buffers (more blocks than buffers) returns the
// cancellation instead of waiting for blocks nobody will read.
func TestBuildPathsCancelledMidway(t *testing.T) {
	db := storetest.SQLite(t)
	journeyFixture(t, db)
	f := newFixture(t, db)
	f.seq = 10_000
	for c := int64(10); c < 60; c++ {
		f.act(c*70_000, at(int(c%5), "09:00"), "Home", "Email", "x")
	}
	defer func(n int) { pathWorkers = n }(pathWorkers)
	pathWorkers = 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, _, err := BuildPaths(ctx, db, PathOptions{OnPath: func(PathInfo) {
		calls++
		cancel()
	}})
	// Usually the cancellation itself; a read interrupted mid-row may report it as the
	// driver's own error. Either way the build fails rather than finishing or hanging.
	if err == nil {
		t.Fatalf("a build cancelled after %d paths succeeded", calls)
	}
}

package journey

import (
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestBestHour(t *testing.T) {
	t.Parallel()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // 13:00 in Amsterdam
	day := func(d, h, m int) time.Time { return time.Date(2026, 2, d, h, m, 0, 0, ams) }
	var hist []time.Time
	for d := range 7 {
		hist = append(hist, day(10+d, 19, 5*d))
	}
	for _, h := range []int{8, 9, 12, 21, 22} {
		hist = append(hist, day(20, h, 30))
	}
	at, why := BestHour(now, ams, hist, 3, 24*time.Hour)
	if want := time.Date(2026, 3, 2, 19, 0, 0, 0, ams); !at.Equal(want) {
		t.Errorf("at = %v, want %v", at, want)
	}
	if want := "sent at 19:00 Europe/Amsterdam: 7 of 12 past opens/visits were 19:00–20:00"; why != want {
		t.Errorf("why = %q, want %q", why, want)
	}
	// Past 19:00 today: tomorrow's 19:00.
	late := time.Date(2026, 3, 2, 19, 30, 0, 0, time.UTC) // 20:30 there
	if at, _ := BestHour(late, ams, hist, 3, 24*time.Hour); !at.Equal(time.Date(2026, 3, 3, 19, 0, 0, 0, ams)) {
		t.Errorf("after the hour: at = %v", at)
	}
	// Within the hour: now.
	in := time.Date(2026, 3, 2, 18, 20, 0, 0, time.UTC) // 19:20 there
	if at, why := BestHour(in, ams, hist, 3, 24*time.Hour); !at.Equal(in) || !strings.HasPrefix(why, "sent at once at 19:20") {
		t.Errorf("in the hour: at = %v, why %q", at, why)
	}
	// Beyond max delay: now, and says so.
	if at, why := BestHour(now, ams, hist, 3, 2*time.Hour); !at.Equal(now) || !strings.Contains(why, "beyond max_delay 2h") {
		t.Errorf("max delay: at = %v, why %q", at, why)
	}
	// Not enough evidence: now.
	if at, why := BestHour(now, ams, hist[:2], 3, 24*time.Hour); !at.Equal(now) || why != "sent now: 2 past opens/visits, fewer than the 3 needed to pick an hour" {
		t.Errorf("little evidence: at = %v, why %q", at, why)
	}
	// A tie goes to the hour that comes first from now.
	tie := []time.Time{day(1, 9, 0), day(2, 9, 0), day(3, 15, 0), day(4, 15, 0)}
	if at, _ := BestHour(now, ams, tie, 3, 24*time.Hour); !at.Equal(time.Date(2026, 3, 2, 15, 0, 0, 0, ams)) {
		t.Errorf("tie: at = %v, want 15:00 today", at)
	}
	// DST: the clocks go forward on 29 March; 19:00 is still 19:00 local.
	spring := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	if at, _ := BestHour(spring, ams, hist, 3, 24*time.Hour); !at.Equal(time.Date(2026, 3, 29, 17, 0, 0, 0, time.UTC)) {
		t.Errorf("DST: at = %v, want 17:00 UTC (19:00 CEST)", at.UTC())
	}
}

func TestChooseChannel(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in       []ChannelChoice
		ch, want string
	}{
		{[]ChannelChoice{{"email", 2, ""}, {"sms", 4, ""}, {"push", 9, "no consent"}}, "sms", "chose sms: 4 opens/clicks/visits on sms; 2 on email, push excluded (no consent)"},
		{[]ChannelChoice{{"sms", 3, ""}, {"email", 3, ""}}, "sms", "chose sms: 3 opens/clicks/visits on sms (tie broken by the listed order); 3 on email"},
		{[]ChannelChoice{{"email", 0, "no consent"}, {"sms", 0, ""}, {"push", 0, ""}}, "sms", "chose sms: no opens/clicks/visits on any usable channel, first in the listed order; email excluded (no consent), 0 on push"},
		{[]ChannelChoice{{"email", 5, "no consent"}, {"sms", 1, "no address"}}, "email", "no usable channel, queued email to be suppressed; email excluded (no consent), sms excluded (no address)"},
	} {
		ch, why := ChooseChannel(c.in)
		if ch != c.ch || why != c.want {
			t.Errorf("ChooseChannel(%v) = %q, %q; want %q, %q", c.in, ch, why, c.ch, c.want)
		}
	}
}

// addActivity writes past activity rows for a customer: (channel, name, time).
func (f *fixture) addActivity(cid int64, rows [][3]any) {
	f.t.Helper()
	err := f.db.Write(f.ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			f.n++
			if _, err := tx.Exec(f.ctx, `INSERT INTO activity (seq, customer_id, ts, type, name, channel, source_id) VALUES (?, ?, ?, 'track', ?, ?, ?)`,
				int64(1_000_000+f.n), cid, r[2].(time.Time).UnixMilli(), r[1], r[0], f.src); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestSmartSend(t *testing.T) {
	t.Parallel()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Options{Policy: &WorkspacePolicy{Timezone: "America/New_York"}})
		f.apply(`name: smart
entry: {event: Product Added, key: cart_id}
holdout: 0
steps:
  - id: nudge
    message:
      channels: [sms, email, push]
      send_time: best
      email: {subject: "cart", text: "hi"}
      sms: {text: "cart"}
      push: {text: "cart"}
`)
		// 1: engaged at 19:00 Amsterdam; more on SMS than email; push engaged most but not consented.
		c1 := f.customer(1, map[string]any{"timezone": "Europe/Amsterdam", "consent.email.marketing": true, "consent.sms.marketing": true})
		var h1 [][3]any
		for d := range 7 {
			ch := "Direct"
			if d < 4 {
				ch = "SMS"
			}
			h1 = append(h1, [3]any{ch, "Page Viewed", time.Date(2026, 2, 10+d, 19, 10, 0, 0, ams)})
		}
		h1 = append(h1, [3]any{"Email", "Email Opened", time.Date(2026, 2, 20, 9, 0, 0, 0, ams)}, [3]any{"Email", "Email Link Clicked", time.Date(2026, 2, 20, 9, 1, 0, 0, ams)})
		for i := range 3 {
			h1 = append(h1, [3]any{"Mobile Push Notifications", "Push Notification Opened", time.Date(2026, 2, 21+i, 12, 0, 0, 0, ams)})
		}
		// Our own receipts are no engagement: they must not move the hour.
		for i := range 10 {
			h1 = append(h1, [3]any{"Email", "Email Sent", time.Date(2026, 2, 1+i, 7, 0, 0, 0, ams)})
		}
		f.addActivity(1, h1)
		// 2: one past event (two with the entry), and no consent anywhere.
		c2 := f.customer(2, nil)
		f.addActivity(2, [][3]any{{"Email", "Email Opened", time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)}})
		// 3: no timezone trait (workspace zone applies), email consent only, 3 visits at 09:xx New York.
		c3 := f.customer(3, map[string]any{"consent.email.marketing": true})
		nyc, _ := time.LoadLocation("America/New_York")
		f.addActivity(3, [][3]any{{"SMS", "Page Viewed", time.Date(2026, 2, 3, 9, 0, 0, 0, nyc)}, {"SMS", "Page Viewed", time.Date(2026, 2, 4, 9, 30, 0, 0, nyc)}, {"Direct", "Page Viewed", time.Date(2026, 2, 5, 9, 45, 0, 0, nyc)}})

		for _, c := range []string{c1, c2, c3} {
			f.track(c, "Product Added", map[string]any{"cart_id": "k-" + c})
		}
		ds, err := Decisions(f.ctx, db, "smart", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]map[string]string{}
		for _, d := range ds {
			if got[d.CustomerID] == nil {
				got[d.CustomerID] = map[string]string{}
			}
			got[d.CustomerID][d.Kind] = d.Text
		}
		// Customer 1's own Product Added (13:00 Amsterdam) counts as a visit too: 13 events.
		want := map[int64]map[string]string{
			1: {"channel": "chose sms: 4 opens/clicks/visits on sms; 2 on email, push excluded (no consent)",
				"send_time": "sent at 19:00 Europe/Amsterdam: 7 of 13 past opens/visits were 19:00–20:00"},
			2: {"channel": "no usable channel, queued sms to be suppressed; sms excluded (no consent), email excluded (no consent), push excluded (no consent)",
				"send_time": "sent now: 2 past opens/visits, fewer than the 3 needed to pick an hour"},
			3: {"channel": "chose email: no opens/clicks/visits on any usable channel, first in the listed order; sms excluded (no consent), push excluded (no consent)",
				"send_time": "sent at 09:00 America/New_York: 3 of 4 past opens/visits were 09:00–10:00"},
		}
		for id, w := range want {
			for k, v := range w {
				if got[id][k] != v {
					t.Errorf("customer %d %s:\n got %q\nwant %q", id, k, got[id][k], v)
				}
			}
		}
		if s := f.sends(`customer_id = 2`); s["suppressed:no consent"] != 1 {
			t.Errorf("customer 2: %v", s)
		}
		if n := len(f.sink.byChannel("sms")) + len(f.sink.byChannel("email")); n != 0 {
			t.Errorf("%d messages went out before the best hour", n)
		}
		// 12:00 UTC now; 19:00 Amsterdam is 18:00 UTC, 09:00 New York is 14:00 UTC.
		f.advance(2*time.Hour + time.Minute)
		if e := f.sink.byChannel("email"); len(e) != 1 || e[0].CustomerID != 3 {
			t.Errorf("at 14:01 UTC want customer 3's email, got %d emails", len(e))
		}
		if s := f.sink.byChannel("sms"); len(s) != 0 {
			t.Errorf("sms before 18:00 UTC: %d", len(s))
		}
		f.advance(4 * time.Hour)
		if s := f.sink.byChannel("sms"); len(s) != 1 || s[0].CustomerID != 1 || s[0].To != "+447000000001" {
			t.Errorf("at 18:01 UTC want customer 1's sms, got %+v", s)
		}
		d, err := Show(f.ctx, db, "smart")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Decisions) != 6 {
			t.Errorf("show lists %d decisions, want 6", len(d.Decisions))
		}
	})
}

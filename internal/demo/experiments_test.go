package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/mix"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestExperimentsInGenerator checks the tests the generator runs: every checkout in the
// web test's weeks sends an exposure whose variant is internal/experiment's assignment of
// the shopper's userId, the switchback channel spends only in its on weeks, and the
// ground truth carries both tests' effects.
func TestExperimentsInGenerator(t *testing.T) {
	t.Parallel()
	_, sum, evs, gt := sharedWorld(t)
	wt := WebTest()
	from := sum.End.AddDate(0, 0, -WebTestDays).UnixMilli()
	exposures := map[string]int{}
	var orders, exposed int
	for _, e := range evs {
		if !bytes.Contains(e.Data, []byte(`"event":"Experiment Viewed"`)) && !bytes.Contains(e.Data, []byte(`"event":"Order Completed"`)) {
			continue
		}
		var m struct {
			Event      string
			UserID     string `json:"userId"`
			Properties map[string]any
		}
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Event == "Order Completed" {
			if e.TS >= from && m.Properties["location"] == "web" {
				orders++
			}
			continue
		}
		if e.TS < from {
			t.Fatalf("exposure before the test: %s", e.Data)
		}
		exposed++
		if m.UserID == "" || m.Properties["experiment_id"] != WebTestName {
			t.Fatalf("exposure without userId or experiment: %s", e.Data)
		}
		want := wt.Variants[wt.Assign(m.UserID)].Key
		if got := m.Properties["variation_id"]; got != want {
			t.Fatalf("%s got %v, internal/experiment assigns %s", m.UserID, got, want)
		}
		exposures[want]++
	}
	if exposed == 0 || exposed != orders {
		t.Fatalf("%d exposures for %d web orders in the test", exposed, orders)
	}
	if exposures["control"] == 0 || exposures["upsell"] == 0 {
		t.Fatalf("exposures by variant: %v", exposures)
	}

	// The switchback channel spends in its on weeks only.
	on := experiment.SwitchbackSchedule(SwitchbackName, SwitchbackDays, SwitchbackPeriod)
	start := sum.End.AddDate(0, 0, -SwitchbackDays)
	spend := map[string]int64{}
	for _, r := range sum.Spend() {
		if r.Channel == SwitchbackChannel {
			spend[r.Date] += r.AmountMinor
		}
	}
	var onDays int
	for d := range SwitchbackDays {
		day := start.AddDate(0, 0, d).Format("2006-01-02")
		if on[d] {
			onDays++
			if spend[day] == 0 {
				t.Errorf("%s: on, but no %s spend", day, SwitchbackChannel)
			}
		} else if spend[day] != 0 {
			t.Errorf("%s: off, but %s spent %d", day, SwitchbackChannel, spend[day])
		}
	}

	x := gt.Experiments
	if x == nil {
		t.Fatal("no experiments in the ground truth")
	}
	t.Logf("web test: %+v", x.Web)
	t.Logf("switchback: %+v", x.Switchback)
	if x.Web.Units[0]+x.Web.Units[1] == 0 || !(x.Web.DiffMinor > 0) || !(x.Web.Lift > 0) {
		t.Errorf("web test truth: %+v", x.Web)
	}
	// The difference is the offer's revenue over the exposed: at most its price per web order.
	maxDiff := float64(upsellBeans.price) * float64(orders) / float64(x.Web.Units[0]+x.Web.Units[1])
	if x.Web.DiffMinor > maxDiff {
		t.Errorf("web test diff %.0f above the offer on every order (%.0f)", x.Web.DiffMinor, maxDiff)
	}
	sb := x.Switchback
	if sb.OnDays != onDays || len(sb.Schedule) != SwitchbackDays/SwitchbackPeriod || sb.PeopleResimulated == 0 {
		t.Errorf("switchback truth: %+v (on days %d)", sb, onDays)
	}
	if !(sb.DeltaPerDayMinor > 0) || !(sb.SpendPerDayMinor > 0) || !(sb.ROAS > 0) {
		t.Errorf("switchback truth has no effect: %+v", sb)
	}
}

// TestExperimentsRecovered loads a small demo into the store (SQLite, and PostgreSQL when
// configured) and reads the stored web test and switchback as `omniroi experiment
// report` does: each interval holds the generator's true effect.
func TestExperimentsRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a demo: skipped in -short mode")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		rep, err := Load(ctx, db, LoadOptions{Config: Config{Seed: 1, Customers: 3000, End: testEnd}, Dir: dir, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		list, err := experiment.List(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, e := range list {
			names[e.Name] = e.Status
		}
		if names[WebTestName] != experiment.StatusStopped || names[SwitchbackName] != experiment.StatusStopped {
			t.Fatalf("stored experiments: %v", names)
		}
		now := time.Now()
		got, err := MeasureExperiments(ctx, db, rep.GroundTruth.Experiments, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			t.Logf("%s %s: truth %.2f, estimate %.2f (%.2f to %.2f); %s", r.Experiment, r.What, r.Truth, float64(r.Estimate), float64(r.Low), float64(r.High), r.Verdict)
			if !r.Inside {
				t.Errorf("%s %s: the interval %.2f to %.2f misses the truth %.2f", r.Experiment, r.What, float64(r.Low), float64(r.High), r.Truth)
			}
		}
		cals, err := experiment.Calibrations(ctx, db, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(cals) != 1 || cals[0].Channel != SwitchbackChannel || cals[0].Experiment != SwitchbackName {
			t.Errorf("calibrations: %+v", cals)
		}
		// The budget model (the dashboard's and the API's service) is calibrated with the
		// switchback and says so for that channel only.
		_, m, err := mix.NewService(db).Model(ctx, mix.StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		backed := 0
		for _, c := range m.Channels {
			if c.Calibration == nil {
				continue
			}
			backed++
			if c.Channel != SwitchbackChannel || c.Calibration.Experiment != SwitchbackName || c.Calibration.Low > c.Calibration.ROAS || c.Calibration.High < c.Calibration.ROAS || c.Calibration.High <= 0 {
				t.Errorf("channel %s calibrated with %+v", c.Channel, *c.Calibration)
			}
		}
		if backed != 1 {
			t.Errorf("%d channels backed by an experiment, want 1 (%s)", backed, SwitchbackChannel)
		}
	})
}

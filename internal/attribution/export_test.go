package attribution

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Fixtures for the tests of package attribution_test (the service as the API serves it).

// ROIFixture writes roiFixture's rows.
func ROIFixture(t *testing.T, db *store.DB) { roiFixture(t, db) }

// Day0 is the fixtures' first day.
var Day0 = jt0

// AdvanceCursor moves the processor's cursor as processing a new event would.
func AdvanceCursor(t *testing.T, db *store.DB, to int64) {
	t.Helper()
	newFixture(t, db).exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		identity.CursorSetting, strconv.FormatInt(to, 10))
}

// AddSpend adds a spend row.
func AddSpend(t *testing.T, db *store.DB, day, channel, campaign string, amount int64) {
	newFixture(t, db).spend(day, channel, campaign, amount)
}

// AddImpossibleRows adds rows an older version derived from impossible events: a touch
// and an order dated 0001-01-01, an order in 9999, an order of math.MaxInt64 cents.
func AddImpossibleRows(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	f.seq = 10_000
	year1 := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	f.act(9, year1, "Home", "Paid Search", "old")
	f.order("evil-1", 9, year1.Add(time.Hour), 1000, "web", "Paid Search")
	f.order("evil-9999", 8, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 1000, "web", "Email")
	f.act(7, at(1, "08:00"), "Home", "Paid Social", "fb")
	f.order("evil-max", 7, at(1, "08:30"), math.MaxInt64, "web", "Paid Social")
}

// Conventions of the models (the unexported map).
var ModelConventions = conventions

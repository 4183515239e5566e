package workspace

import (
	"context"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// Limits on what the collection API and the importer accept (docs/api.md, "Limits").
var (
	MaxFutureKey = Register(Key{Name: "limits.max_future", Group: "limits", Default: "24h",
		Summary: "how far ahead of the server's clock an event's timestamp may be (clocks drift; more is refused as impossible). Running collectors see a change within a minute",
		Check:   CheckDuration(time.Minute, 366*24*time.Hour)})
	MaxRequestsPerIPKey = Register(Key{Name: "limits.max_requests_per_ip", Group: "limits", Default: "64",
		Summary: "collection API requests one client address may have in progress at once; more get 429. Read when serve starts",
		Check:   CheckInt(1, 100_000)})
)

// MaxFuture reads limits.max_future.
func MaxFuture(ctx context.Context, db *store.DB) (time.Duration, error) {
	return Duration(ctx, db, MaxFutureKey.Name)
}

// Span is the period events can really have happened in, now: from 1990 (event.MinTime)
// to limits.max_future ahead. Reading code bounds "all time" and "the latest" to it, so
// that rows stored before the API refused impossible dates cannot stretch a report.
func Span(ctx context.Context, db *store.DB) (from, to time.Time, err error) {
	d, err := MaxFuture(ctx, db)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return event.MinTime, time.Now().Add(d), nil
}

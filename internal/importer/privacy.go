package importer

import (
	"context"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
)

// gateEvents runs the privacy gate (internal/privacy) on events about to be written
// inside tx. Imports are a trusted origin: an identify row with explicit analytics
// consent brings an erased person back; any other row naming them is dropped and
// counted in Report.Suppressed.
func gateEvents(ctx context.Context, tx *store.Tx, evs []event.Event, c *gateCounts) ([]event.Event, error) {
	evs, res, err := privacy.Gate(ctx, tx, evs, privacy.Everyone)
	if err != nil {
		return nil, err
	}
	c.suppressed += res.Dropped
	c.anonymised += res.Anonymised
	return evs, nil
}

// gateRejections leaves out rejected rows that name an erased person.
func gateRejections(ctx context.Context, tx *store.Tx, rs []store.Rejection, c *gateCounts) ([]store.Rejection, error) {
	rs, n, err := privacy.GateRejections(ctx, tx, rs)
	if err != nil {
		return nil, err
	}
	c.suppressed += n
	return rs, nil
}

// gateCounts is what the gate did over a whole import (Report.Suppressed, Anonymised).
type gateCounts struct{ suppressed, anonymised int }

package importer

import (
	"context"

	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
)

// privacyGate runs the privacy gate (internal/privacy) on one batch inside the import's
// transaction. Imports are a trusted origin: an identify row with explicit analytics
// consent brings an erased person back; any other row naming them is dropped and
// counted in Report.Suppressed.
func privacyGate(ctx context.Context, tx *store.Tx, b *batch, c *gateCounts) error {
	evs, res, err := privacy.Gate(ctx, tx, b.events, privacy.Everyone)
	if err != nil {
		return err
	}
	b.events = evs
	rej, n, err := privacy.GateRejections(ctx, tx, b.rejections)
	if err != nil {
		return err
	}
	b.rejections = rej
	c.suppressed += res.Dropped + n
	c.anonymised += res.Anonymised
	return nil
}

// gateCounts is what the gate did over a whole import (Report.Suppressed, Anonymised).
type gateCounts struct{ suppressed, anonymised int }

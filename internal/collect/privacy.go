package collect

import (
	"context"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
)

// privacyGate runs the privacy gate (internal/privacy) inside the commit's transaction:
// events of erased people are dropped and counted, events without analytics consent lose
// their identifiers, and rejected payloads naming an erased person are not kept. The
// reply to the client does not change: a public key must not reveal who was erased.
//
// Every source is treated as public (client) here: only trusted origins (imports,
// server sources) can bring an erased person back.
func (h *Handler) privacyGate(ctx context.Context, tx *store.Tx, evs []event.Event, rejs []store.Rejection) ([]event.Event, []store.Rejection, error) {
	evs, res, err := privacy.Gate(ctx, tx, evs, false)
	if err != nil {
		return evs, rejs, err
	}
	h.nDropped.Add(int64(res.Dropped))
	h.nAnonymised.Add(int64(res.Anonymised))
	rejs, _, err = privacy.GateRejections(ctx, tx, rejs)
	return evs, rejs, err
}

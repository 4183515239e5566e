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
// Only events of trusted sources (server kinds, whose key is a secret) can bring an
// erased person back; client sources' keys are public. A group commit mixes sources, so
// trust is looked up per event, from the sources the key cache has resolved.
func (h *Handler) privacyGate(ctx context.Context, tx *store.Tx, evs []event.Event, rejs []store.Rejection) ([]event.Event, []store.Rejection, error) {
	evs, res, err := privacy.Gate(ctx, tx, evs, h.trustedEvent)
	if err != nil {
		return evs, rejs, err
	}
	h.nDropped.Add(int64(res.Dropped))
	h.nAnonymised.Add(int64(res.Anonymised))
	rejs, _, err = privacy.GateRejections(ctx, tx, rejs)
	return evs, rejs, err
}

// trustedEvent reports whether ev's source is of a trusted kind. Every event reaching the
// gate came through h.source, which recorded its source's trust.
func (h *Handler) trustedEvent(ev *event.Event) bool {
	v, _ := h.trusted.Load(ev.SourceID)
	t, _ := v.(bool)
	return t
}

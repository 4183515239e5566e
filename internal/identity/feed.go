package identity

// The collector hands the processor the events it just committed (Feed), so that a
// running server does not read back what it wrote a moment ago: reading the new events
// from the log was a tenth of serve's CPU under load. The log stays the source of truth:
// the processor takes fed events only when they continue its cursor without a gap, and
// reads the log otherwise (at start, after a restart or a crash, for events other
// writers add, and when the processor fell too far behind to keep them in memory).

import (
	"context"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

// maxFed bounds the events kept in memory for the processor; past it they are dropped
// and read from the log when their turn comes.
const maxFed = 50_000

// Feed gives the processor events just committed to the log, with their seqs, in seq
// order. It copies what it keeps and never blocks for long; call Notify after.
func (p *Processor) Feed(evs []event.Event) {
	p.fedMu.Lock()
	defer p.fedMu.Unlock()
	if len(p.fed)+len(evs) > maxFed {
		clear(p.fed)
		p.fed = p.fed[:0]
		return
	}
	if n := len(p.fed); n > 0 && evs[0].Seq <= p.fed[n-1].Seq {
		clear(p.fed) // out of order: a defect upstream; the log is read instead
		p.fed = p.fed[:0]
		return
	}
	for i := range evs {
		e := &evs[i]
		// What readEvents reads back: the time to the millisecond, no receivedAt or address.
		p.fed = append(p.fed, event.Event{Seq: e.Seq, SourceID: e.SourceID, MessageID: e.MessageID, Type: e.Type, Name: e.Name,
			UserID: e.UserID, AnonymousID: e.AnonymousID, Timestamp: time.UnixMilli(e.Timestamp.UnixMilli()).UTC(), Body: e.Body})
	}
}

// takeFed returns up to limit fed events that follow seq after without a gap, and drops
// the fed events up to after; nil when the next event is not in memory.
func (p *Processor) takeFed(after int64, limit int) []event.Event {
	p.fedMu.Lock()
	defer p.fedMu.Unlock()
	i := 0
	for i < len(p.fed) && p.fed[i].Seq <= after {
		i++
	}
	j := i
	if i < len(p.fed) && p.fed[i].Seq == after+1 {
		j++
		for j < len(p.fed) && j-i < limit && p.fed[j].Seq == p.fed[j-1].Seq+1 {
			j++
		}
	}
	var out []event.Event
	if j > i {
		out = append(out, p.fed[i:j]...)
	}
	n := copy(p.fed, p.fed[j:])
	clear(p.fed[n:])
	p.fed = p.fed[:n]
	return out
}

// nextEvents is the next events after seq after, up to limit: fed ones when they follow
// on, else read from the log.
func (p *Processor) nextEvents(ctx context.Context, after int64, limit int) ([]event.Event, error) {
	if evs := p.takeFed(after, limit); len(evs) > 0 {
		p.fedTaken.Add(int64(len(evs)))
		return evs, nil
	}
	return readEvents(ctx, p.db, after, limit)
}

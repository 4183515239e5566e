package rollup

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
)

// SessionCache keeps, between batches of one processor, the session events (activity
// rows that can start or continue a session) of the customers and business days the
// last batches touched. A batch's Commit counts those customers' sessions before and
// after from memory instead of reading each touched customer's day so far back from the
// activity table, which grew with the day and was the largest part of the rollup's cost.
//
// It is only as good as its owner's knowledge of the activity table: the processor
// resets it whenever it stops trusting its in-memory graph (another process processed,
// an erasure changed the derived tables, a rebuild, a failed batch), and applies a batch's
// changes to it only once the batch's transaction committed (Pending.Committed). Merged
// customers are dropped from it and read again.
type SessionCache struct {
	mu    sync.Mutex
	loc   string
	days  map[int64]map[int64][]touch // customer → business day → session events in time, seq order
	count int                         // events held
}

// maxCachedSessionEvents bounds the memory: past it the cache is emptied and fills again
// from the customers and days the next batches touch.
const maxCachedSessionEvents = 400_000

// Reset empties the cache.
func (c *SessionCache) Reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.days, c.count, c.loc = nil, 0, ""
	c.mu.Unlock()
}

// lookup returns the cached events of customer cust on day, and whether they are cached.
func (c *SessionCache) lookup(cust, day int64) ([]touch, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ts, ok := c.days[cust][day]
	return ts, ok
}

// begin checks the cache counts days in loc (emptying it otherwise) and drops the
// customers of merges.
func (c *SessionCache) begin(loc *time.Location, moves [][2]int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loc != loc.String() {
		c.days, c.count, c.loc = nil, 0, loc.String()
	}
	for _, m := range moves {
		for _, cust := range m {
			for _, ts := range c.days[cust] {
				c.count -= len(ts)
			}
			delete(c.days, cust)
		}
	}
}

// put stores the events of customers and days after a committed batch.
func (c *SessionCache) put(loc *time.Location, upd map[[2]int64][]touch) {
	if c == nil || len(upd) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loc != loc.String() {
		return // a batch in another time zone began since: its days are not these
	}
	if c.days == nil {
		c.days = map[int64]map[int64][]touch{}
	}
	for k, ts := range upd {
		d := c.days[k[0]]
		if d == nil {
			d = map[int64][]touch{}
			c.days[k[0]] = d
		}
		c.count += len(ts) - len(d[k[1]])
		d[k[1]] = ts
	}
	if c.count > maxCachedSessionEvents {
		c.days, c.count = nil, 0
	}
}

func cmpTouch(a, b touch) int {
	if x := cmp.Compare(a.cust, b.cust); x != 0 {
		return x
	}
	if x := cmp.Compare(a.ts, b.ts); x != 0 {
		return x
	}
	return cmp.Compare(a.seq, b.seq)
}

// fromCache splits p.sess into the customers and days the cache holds (served from it
// with the batch's own session events added) and those read from the table. It returns
// the events of each cached customer and day after the batch, in time and seq order (a
// session counter starts afresh at each), and records them as the cache's update.
func (p *Pending) fromCache(c *SessionCache, batch []Event) (read scope, cached scope, groups [][]touch) {
	if c == nil {
		return p.sess, scope{}, nil
	}
	read, cached = scope{}, scope{}
	added := map[[2]int64][]touch{}
	for _, e := range batch {
		if !isSession(e.Name) {
			continue
		}
		k := [2]int64{e.Customer, commerce.LocalDay(time.UnixMilli(e.TS), p.loc)}
		added[k] = append(added[k], touch{cust: e.Customer, ts: e.TS, seq: e.Seq, name: e.Name, channel: e.Channel, campaign: e.Campaign})
	}
	p.update = map[[2]int64][]touch{}
	for cust, days := range p.sess {
		for day := range days {
			if p.merging[cust] != nil {
				read.add(cust, day)
				continue
			}
			old, ok := c.lookup(cust, day)
			if !ok {
				read.add(cust, day)
				continue
			}
			cached.add(cust, day)
			k := [2]int64{cust, day}
			all := appendTouches(old, added[k])
			p.update[k] = all
			groups = append(groups, all)
		}
	}
	return read, cached, groups
}

// Committed applies the batch's change to the cache it was prepared with; the processor
// calls it once the batch's transaction committed.
func (p *Pending) Committed() {
	if p == nil || p.cache == nil {
		return
	}
	p.cache.put(p.loc, p.update)
}

// appendTouches returns old (a customer's day, in order) with add appended, in order.
// The cached slice is extended in place when it has room and grows by doubling, so a
// busy day is not copied whole in every batch: old[:len(old)] is never written, so the
// cache entry stays valid if the batch's transaction rolls back (the next batch then
// overwrites the room past it). add usually follows old in time, and then nothing is
// sorted but add.
func appendTouches(old, add []touch) []touch {
	if len(add) == 0 {
		return old
	}
	slices.SortFunc(add, cmpTouch)
	inOrder := len(old) == 0 || cmpTouch(old[len(old)-1], add[0]) < 0
	all := old
	if !inOrder || cap(old)-len(old) < len(add) {
		all = make([]touch, len(old), 2*(len(old)+len(add)))
		copy(all, old)
	}
	all = append(all, add...)
	if !inOrder {
		slices.SortFunc(all, cmpTouch)
	}
	return all
}

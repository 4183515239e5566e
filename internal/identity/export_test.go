package identity

// FedTaken is how many fed events p processed without reading them from the log.
func FedTaken(p *Processor) int64 { return p.fedTaken.Load() }

// OnRollupsComputed makes p call f between computing the daily rollups on start and
// writing them (ensureRollups), where an erasure may land.
func OnRollupsComputed(p *Processor, f func()) { p.rollupsComputed = f }

// SharedInserts is how many of p's insert statements are prepared once and reused
// across batches (SQLite).
func SharedInserts(p *Processor) int {
	p.inserts.mu.Lock()
	defer p.inserts.mu.Unlock()
	return len(p.inserts.stmts)
}

package identity

// FedTaken is how many fed events p processed without reading them from the log.
func FedTaken(p *Processor) int64 { return p.fedTaken.Load() }

// OnRollupsComputed makes p call f between computing the daily rollups on start and
// writing them (ensureRollups), where an erasure may land.
func OnRollupsComputed(p *Processor, f func()) { p.rollupsComputed = f }

package identity

// FedTaken is how many fed events p processed without reading them from the log.
func FedTaken(p *Processor) int64 { return p.fedTaken.Load() }

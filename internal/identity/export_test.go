package identity

// SetReadChunk sets how many events are read at a time and returns a func restoring it.
func SetReadChunk(n int) (restore func()) {
	old := readChunk
	readChunk = n
	return func() { readChunk = old }
}

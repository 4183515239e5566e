package pathstore

// SetBlockBits makes blocks of 2^n customer ids until the returned function restores them.
func SetBlockBits(n int) (restore func()) {
	old := blockBits
	blockBits = n
	return func() { blockBits = old }
}

package web

import (
	"os"
	"testing"

	"github.com/omniroi/omniroi/internal/auth"
)

// TestMain makes password hashing cheap: the handler tests log in dozens of times, and
// argon2id at its real cost (46 MiB per hash) is tested in internal/auth.
func TestMain(m *testing.M) {
	auth.DefaultParams = auth.Params{Time: 1, MemoryKiB: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}
	os.Exit(m.Run())
}

package auth

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// MaxConcurrentHashes bounds the argon2id hashes computed at once: each takes
// DefaultParams.MemoryKiB (46 MiB) and a core for ~50 ms, so a burst of logins (or an
// attacker's flood of them) must queue instead of taking the server's memory. Two on a
// small machine, one per core up to four on bigger ones.
var MaxConcurrentHashes = min(max(runtime.GOMAXPROCS(0), 2), 4)

// HashWait is how long a login waits for a hashing slot before it is told to retry.
const HashWait = 10 * time.Second

// ErrBusy is returned when no hashing slot came free within HashWait.
var ErrBusy = errors.New("too many logins at once; try again in a moment")

var (
	hashSlots = make(chan struct{}, MaxConcurrentHashes)
	hashing   atomic.Int64 // hashes running now
	hashPeak  atomic.Int64 // most hashes seen running at once (tests)
)

func acquireHash(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(HashWait)
	defer t.Stop()
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrBusy
	}
	n := hashing.Add(1)
	for p := hashPeak.Load(); n > p && !hashPeak.CompareAndSwap(p, n); p = hashPeak.Load() {
	}
	return func() {
		hashing.Add(-1)
		<-hashSlots
	}, nil
}

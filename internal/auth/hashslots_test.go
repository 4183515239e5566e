package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/omniroi/omniroi/internal/testenv"
)

// TestHashConcurrencyBounded: however many logins arrive at once, at most
// MaxConcurrentHashes argon2id hashes (46 MiB each) run at the same time.
func TestHashConcurrencyBounded(t *testing.T) {
	t.Parallel()
	if MaxConcurrentHashes < 2 || MaxConcurrentHashes > 4 {
		t.Fatalf("MaxConcurrentHashes = %d, want 2 to 4", MaxConcurrentHashes)
	}
	h, err := HashPassword("pw-for-the-test")
	if err != nil {
		t.Fatal(err)
	}
	hashPeak.Store(0)
	var wg sync.WaitGroup
	var done, busy atomic.Int64
	start := make(chan struct{})
	logins := testenv.Size(16, 8) // at once, over MaxConcurrentHashes either way
	for range logins {
		wg.Go(func() {
			<-start
			ok, err := VerifyPassword(h, "wrong")
			switch {
			case errors.Is(err, ErrBusy):
				// On a crowded machine 16 hashes through 2 slots can outlast HashWait:
				// the late logins are told to retry, which is the design.
				busy.Add(1)
			case ok || err != nil:
				t.Errorf("verify: %v %v", ok, err)
			default:
				done.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if done.Load() < int64(MaxConcurrentHashes) {
		t.Fatalf("only %d of %d logins were checked (%d told to retry)", done.Load(), logins, busy.Load())
	}
	if p := hashPeak.Load(); p > int64(MaxConcurrentHashes) || p < 1 {
		t.Fatalf("%d hashes ran at once, want at most %d", p, MaxConcurrentHashes)
	}
	t.Logf("peak %d concurrent hashes of %d allowed", hashPeak.Load(), MaxConcurrentHashes)
}

// TestHashWaitGivesUp: a login whose browser left stops waiting for a slot.
func TestHashWaitGivesUp(t *testing.T) {
	t.Parallel()
	var releases []func()
	for range MaxConcurrentHashes {
		r, err := acquireHash(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyPasswordContext(ctx, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("all slots taken, context cancelled: %v", err)
	}
}

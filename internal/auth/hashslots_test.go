package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestHashConcurrencyBounded: however many logins arrive at once, at most
// MaxConcurrentHashes argon2id hashes (46 MiB each) run at the same time.
func TestHashConcurrencyBounded(t *testing.T) {
	if MaxConcurrentHashes < 2 || MaxConcurrentHashes > 4 {
		t.Fatalf("MaxConcurrentHashes = %d, want 2 to 4", MaxConcurrentHashes)
	}
	h, err := HashPassword("pw-for-the-test")
	if err != nil {
		t.Fatal(err)
	}
	hashPeak.Store(0)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			<-start
			if ok, err := VerifyPassword(h, "wrong"); ok || err != nil {
				t.Errorf("verify: %v %v", ok, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if p := hashPeak.Load(); p > int64(MaxConcurrentHashes) || p < 1 {
		t.Fatalf("%d hashes ran at once, want at most %d", p, MaxConcurrentHashes)
	}
	t.Logf("peak %d concurrent hashes of %d allowed", hashPeak.Load(), MaxConcurrentHashes)
}

// TestHashWaitGivesUp: a login whose browser left stops waiting for a slot.
func TestHashWaitGivesUp(t *testing.T) {
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

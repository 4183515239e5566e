package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// ErrUnknownKey is KeyCache.Source's answer for a key that is unknown, replaced or revoked.
var ErrUnknownKey = errors.New("unknown write key")

// KeyCache resolves write keys to their sources through a short-lived cache, for every
// route that takes a write key (collection, recommendations). A rotation or revocation
// made by any process bumps store.KeyGenerationSetting; the cache reads it at most once
// per check interval and empties itself when it changed, so a revoked key is refused
// within that interval everywhere.
type KeyCache struct {
	db    *store.DB
	ttl   time.Duration
	check time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu  sync.RWMutex
	m   map[string]keyEntry // by key hash: the secret itself is not kept
	gen int64               // store.KeyGenerationSetting the entries were read under

	checkedAt atomic.Int64 // unix ns of the last generation read
}

type keyEntry struct {
	src store.Source
	ok  bool
	exp time.Time
}

const maxCachedKeys = 10_000

// NewKeyCache makes a cache: found keys are trusted for ttl (unknown ones for a fifth of
// it), and the key generation is read at most every check. now and log may be nil.
func NewKeyCache(db *store.DB, ttl, check time.Duration, now func() time.Time, log *slog.Logger) *KeyCache {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &KeyCache{db: db, ttl: ttl, check: check, now: now, log: log, m: map[string]keyEntry{}}
}

// checkGeneration empties the cache when a key was rotated or revoked since the last
// look, by this process or another (the CLI). One request per check interval pays a
// primary-key read of the settings table; the others go on with the cache.
func (c *KeyCache) checkGeneration(ctx context.Context) {
	now := time.Now().UnixNano()
	last := c.checkedAt.Load()
	if last != 0 && now-last < int64(c.check) || !c.checkedAt.CompareAndSwap(last, now) {
		return
	}
	gen, err := c.db.KeyGeneration(ctx)
	if err != nil {
		c.log.Warn("read write-key generation", "err", err)
		return
	}
	c.mu.Lock()
	if gen != c.gen {
		clear(c.m)
		c.gen = gen
	}
	c.mu.Unlock()
}

// Source returns the source of a live write key, or ErrUnknownKey.
func (c *KeyCache) Source(ctx context.Context, key string) (store.Source, error) {
	c.checkGeneration(ctx)
	hash := store.HashKey(key)
	now := c.now()
	c.mu.RLock()
	e, hit := c.m[hash]
	gen := c.gen
	c.mu.RUnlock()
	if !hit || now.After(e.exp) {
		src, err := c.db.SourceByKey(ctx, key)
		switch {
		case err == nil:
			e = keyEntry{src: src, ok: true, exp: now.Add(c.ttl)}
		case errors.Is(err, store.ErrNotFound):
			e = keyEntry{exp: now.Add(c.ttl / 5)}
		default:
			return store.Source{}, fmt.Errorf("look up write key: %w", err)
		}
		c.mu.Lock()
		if len(c.m) >= maxCachedKeys {
			clear(c.m)
		}
		// A change seen while we read may have been made before our read: do not cache.
		if c.gen == gen {
			c.m[hash] = e
		}
		c.mu.Unlock()
	}
	if !e.ok {
		return store.Source{}, ErrUnknownKey
	}
	return e.src, nil
}

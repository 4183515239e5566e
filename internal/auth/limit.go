package auth

import (
	"sync"
	"time"
)

// Limiter counts failed logins per key (an IP, an email) in a sliding window. It lives in
// memory: one omniroi process serves the dashboard, and a restart forgetting the counts
// is an acceptable loss for a login throttle.
type Limiter struct {
	Max    int           // failures allowed per window
	Window time.Duration // how long a failure counts

	mu   sync.Mutex
	fail map[string][]time.Time
}

// NewLimiter allows max failures per key within window.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{Max: max, Window: window, fail: map[string][]time.Time{}}
}

// Allowed reports whether key may try again at now, and if not, how long until it may.
func (l *Limiter) Allowed(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	if len(f) < l.Max {
		return true, 0
	}
	return false, f[0].Add(l.Window).Sub(now)
}

// Fail records a failed attempt for key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	l.fail[key] = append(f, now)
	// Keep memory bounded under a spray of keys: drop idle entries now and then.
	if len(l.fail) > 10000 {
		for k := range l.fail {
			l.prune(k, now)
		}
	}
}

// Reset forgets key's failures (after a successful login).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fail, key)
}

func (l *Limiter) prune(key string, now time.Time) []time.Time {
	f := l.fail[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.Window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fail, key)
		return nil
	}
	l.fail[key] = f
	return f
}

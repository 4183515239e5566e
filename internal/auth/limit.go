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

// Take counts an attempt for key at now when fewer than Max are in the window, checking
// and counting under one lock: attempts sent in parallel meet the limit exactly as
// sequential ones do, since each is counted before its password is checked. A login that
// then succeeds gives its attempt back with Refund.
func (l *Limiter) Take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	if len(f) >= l.Max {
		return false, f[0].Add(l.Window).Sub(now)
	}
	l.fail[key] = append(f, now)
	l.sweep(now)
	return true, 0
}

// Refund removes one attempt counted for key at at (by Take).
func (l *Limiter) Refund(key string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fail[key]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(at) {
			f = append(f[:i:i], f[i+1:]...)
			break
		}
	}
	if len(f) == 0 {
		delete(l.fail, key)
		return
	}
	l.fail[key] = f
}

// sweep keeps memory bounded under a spray of keys: idle entries are dropped now and then.
func (l *Limiter) sweep(now time.Time) {
	if len(l.fail) > 10000 {
		for k := range l.fail {
			l.prune(k, now)
		}
	}
}

// Fail records a failed attempt for key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	l.fail[key] = append(f, now)
	l.sweep(now)
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

package collect

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// DefaultBodyTimeout is how long a client has to send a request's body.
const DefaultBodyTimeout = 10 * time.Second

// How the collection API keeps slow or unauthenticated clients from starving the others:
//
//   - each client address has at most MaxRequestsPerIP requests in progress;
//   - a body must arrive within BodyTimeout of the request's headers;
//   - a body being read holds only the memory it has sent, charged to a byte budget
//     (MaxReadingBytes), of which requests whose key is not checked yet (analytics.js sends
//     it inside the body) may use a quarter;
//   - the slots that bound parsing and waiting for a commit (MaxConcurrentRequests) are
//     taken only once the body is in and the write key checked.
//
// So a slow client holds a connection and a few bytes, not a slot, and a flood without a
// valid key never reaches the slots.

var errBodyBudget = &overloadError{"too many request bodies being received; retry later"}

// ipLimiter counts requests in progress per client address.
type ipLimiter struct {
	mu  sync.Mutex
	max int
	n   map[string]int
	sum int64
}

func (l *ipLimiter) total() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sum
}

func (l *ipLimiter) acquire(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] >= l.max {
		return false
	}
	l.n[ip]++
	l.sum++
	return true
}

func (l *ipLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum--
	if l.n[ip] <= 1 {
		delete(l.n, ip)
		return
	}
	l.n[ip]--
}

// byteBudget bounds the memory of bodies being received.
type byteBudget struct {
	max, anonMax int64
	used, anon   atomic.Int64
}

// take charges n bytes; keyed says whether the request's write key was already checked.
func (b *byteBudget) take(n int64, keyed bool) bool {
	if !keyed {
		if b.anon.Add(n) > b.anonMax {
			b.anon.Add(-n)
			return false
		}
	}
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		if !keyed {
			b.anon.Add(-n)
		}
		return false
	}
	return true
}

func (b *byteBudget) give(n int64, keyed bool) {
	b.used.Add(-n)
	if !keyed {
		b.anon.Add(-n)
	}
}

// admit applies the per-address cap (ip: the client's address, from h.clientIP, which
// believes X-Forwarded-For only from collect.trusted_proxies) and starts the body's deadline. The returned
// function must be called when the request ends.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request, ip string) (func(), error) {
	if !h.perIP.acquire(ip) {
		return nil, &overloadError{"too many requests in progress from your address; retry later"}
	}
	// The server's own ReadTimeout (shared with the dashboard) is longer; an error here
	// means the connection does not support deadlines (tests' recorders), not a failure.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.opt.BodyTimeout))
	return func() { h.perIP.release(ip) }, nil
}

// bodyRead ends the body's deadline: the request may then wait for its commit longer
// than BodyTimeout without the server treating the idle connection as timed out.
func bodyRead(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// takeSlot takes one of the MaxConcurrentRequests slots, or fails at once.
func (h *Handler) takeSlot() (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
		return nil, errOverloaded
	}
}

// overloadError is a 429 with its own message.
type overloadError struct{ msg string }

func (e *overloadError) Error() string { return e.msg }
func (e *overloadError) Is(target error) bool {
	return target == errOverloaded
}

// readBody reads the (possibly gzip-compressed) body into buf, bounding the
// decompressed size by limit and charging the memory it takes to the handler's budget;
// release gives the charge back.
func (h *Handler) readBody(r *http.Request, buf *bytes.Buffer, limit int64, what string, keyed bool) (release func(), err error) {
	var charged int64
	release = func() { h.budget.give(charged, keyed) }
	// What arrived is charged (a reused buffer's spare room is not new memory; growth
	// by doubling at most doubles it).
	charge := func() error {
		if c := int64(buf.Len()); c > charged {
			if !h.budget.take(c-charged, keyed) {
				return errBodyBudget
			}
			charged = c
		}
		return nil
	}
	var src io.Reader = r.Body
	compressed := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		// The compressed stream is bounded too (gzip of incompressible data is a few
		// bytes larger than the data).
		raw := io.LimitReader(r.Body, limit+limit/8+1024)
		zr, _ := gzPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(raw)
		} else {
			err = zr.Reset(raw)
		}
		if err != nil {
			return release, h.bodyError(err, "invalid gzip body: ")
		}
		defer gzPool.Put(zr)
		src, compressed = zr, true
	default:
		return release, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q (send gzip or nothing)", enc)}
	}
	// A declared length sizes the buffer up front, but only a little of it: a client that
	// declares 500 KB and sends a byte a second must not hold 500 KB.
	if !compressed && r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(min(r.ContentLength, 32<<10)))
	}
	var chunk [16 << 10]byte
	var n int64
	for {
		k, err := src.Read(chunk[:])
		if k > 0 {
			n += int64(k)
			if n > limit {
				return release, &httpError{http.StatusBadRequest, fmt.Sprintf("request body over the %s limit (counted after decompression)", what)}
			}
			buf.Write(chunk[:k])
			if err := charge(); err != nil {
				return release, err
			}
		}
		if err == io.EOF {
			return release, nil
		}
		if err != nil {
			return release, h.bodyError(err, "cannot read the request body: ")
		}
	}
}

// bodyError tells a body that did not arrive in time (408) from a broken one (400).
func (h *Handler) bodyError(err error, prefix string) error {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &httpError{http.StatusRequestTimeout, "the request body did not arrive in time; send it within " + h.opt.BodyTimeout.String() + " of the headers"}
	}
	return &httpError{http.StatusBadRequest, prefix + err.Error()}
}

// initLimits sets up the per-address cap and the body budget from the options (the cap's
// default is a workspace setting, read once here).
func (h *Handler) initLimits() {
	if h.opt.MaxRequestsPerIP <= 0 {
		n, err := workspace.Int(context.Background(), h.db, workspace.MaxRequestsPerIPKey.Name)
		if err != nil || n <= 0 {
			n = 64
		}
		h.opt.MaxRequestsPerIP = int(n)
	}
	h.perIP = ipLimiter{max: h.opt.MaxRequestsPerIP, n: map[string]int{}}
	h.refreshMaxFuture() // at start, so the first events are checked against the setting
	h.budget.max = h.opt.MaxReadingBytes
	h.budget.anonMax = h.opt.MaxReadingBytes / 4
}

// notice is an accepted event that lost part of its payload, as the reply names it.
type notice struct {
	Index  int    `json:"index"`
	Notice string `json:"notice"`
}

// noteEvent records what was left out of accepted event i, in the reply and, so that the
// shop sees it where rejections are listed, in rejected_events.
func noteEvent(notes []notice, rejs []store.Rejection, i int, msg string, r store.Rejection) ([]notice, []store.Rejection) {
	r.Position, r.Reason = i, "accepted in part: "+msg
	return append(notes, notice{Index: i, Notice: msg}), append(rejs, r)
}

// maxFutureCache holds the limits.max_future setting: events are checked against it
// without a database read each; it is re-read in the background at most once a minute.
type maxFutureCache struct {
	v       atomic.Int64 // nanoseconds
	readAt  atomic.Int64 // unix nanoseconds of the last read
	reading atomic.Bool
}

const maxFutureTTL = time.Minute

// maxFuture is the cached limits.max_future; a stale value is used while a fresh one is read.
func (h *Handler) maxFuture() time.Duration {
	c := &h.maxFut
	if time.Since(time.Unix(0, c.readAt.Load())) > maxFutureTTL && c.reading.CompareAndSwap(false, true) {
		go func() {
			defer c.reading.Store(false)
			h.refreshMaxFuture()
		}()
	}
	return time.Duration(c.v.Load())
}

func (h *Handler) refreshMaxFuture() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := workspace.MaxFuture(ctx, h.db)
	if err != nil {
		if h.maxFut.v.Load() == 0 {
			h.maxFut.v.Store(int64(event.DefaultMaxFuture))
		}
		h.log.Warn("read limits.max_future; keeping the last value", "err", err)
	}
	if err == nil {
		h.maxFut.v.Store(int64(d))
	}
	h.maxFut.readAt.Store(time.Now().UnixNano())
}

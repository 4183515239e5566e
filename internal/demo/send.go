package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sender posts generated events to a Segment-compatible /v1/batch endpoint, one write
// key per source, from several goroutines: the same path a real client takes.
type Sender struct {
	BaseURL     string            // e.g. http://127.0.0.1:41234
	Keys        map[string]string // source name → write key
	Client      *http.Client
	Concurrency int // default 4
	MaxEvents   int // per batch; default 500
	MaxBytes    int // per batch body; default 450 KB (the API takes 500 KB)

	Accepted atomic.Int64
	Batches  atomic.Int64
	Retries  atomic.Int64
}

type batchReply struct {
	Success  bool   `json:"success"`
	Accepted int    `json:"accepted"`
	Error    string `json:"error"`
	Rejected []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// Send consumes events from gen (which calls its argument with successive slices, as
// Generate does) and posts them. It returns when everything was accepted, or on the first
// error: a rejected event is an error, because the demo's events must all be valid.
func (s *Sender) Send(ctx context.Context, gen func(func([]Event) error) error) error {
	if s.Concurrency <= 0 {
		s.Concurrency = 4
	}
	if s.MaxEvents <= 0 {
		s.MaxEvents = 500
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = 450 << 10
	}
	if s.Client == nil {
		s.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type job struct {
		key  string
		body []byte
	}
	work := make(chan job, s.Concurrency*2)
	var wg sync.WaitGroup
	for i := 0; i < s.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := s.post(ctx, j.key, j.body); err != nil {
					cancel(err)
					for range work { // drain so the producer never blocks
					}
					return
				}
			}
		}()
	}
	type builder struct {
		buf *bytes.Buffer
		n   int
	}
	open := map[string]*builder{}
	flush := func(src string, b *builder) error {
		if b.n == 0 {
			return nil
		}
		b.buf.WriteString("]}")
		key, ok := s.Keys[src]
		if !ok {
			return fmt.Errorf("demo: no write key for source %q", src)
		}
		select {
		case work <- job{key, b.buf.Bytes()}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		open[src] = &builder{buf: new(bytes.Buffer)}
		return nil
	}
	genErr := gen(func(evs []Event) error {
		for _, e := range evs {
			b := open[e.Source]
			if b == nil {
				b = &builder{buf: new(bytes.Buffer)}
				open[e.Source] = b
			}
			if b.n > 0 && (b.n >= s.MaxEvents || b.buf.Len()+len(e.Data)+3 > s.MaxBytes) {
				if err := flush(e.Source, b); err != nil {
					return err
				}
				b = open[e.Source]
			}
			if b.n == 0 {
				b.buf.WriteString(`{"batch":[`)
			} else {
				b.buf.WriteByte(',')
			}
			b.buf.Write(e.Data)
			b.n++
		}
		return nil
	})
	if genErr == nil {
		for _, src := range Sources {
			if b := open[src]; b != nil {
				if genErr = flush(src, b); genErr != nil {
					break
				}
			}
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if genErr != nil {
		return genErr
	}
	return ctx.Err()
}

func (s *Sender) post(ctx context.Context, key string, body []byte) error {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL+"/v1/batch", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("demo: build request: %w", err)
		}
		req.SetBasicAuth(key, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt >= 8 {
				return fmt.Errorf("demo: post batch: %w", err)
			}
		} else {
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				var r batchReply
				if err := json.Unmarshal(raw, &r); err != nil {
					return fmt.Errorf("demo: unreadable reply from /v1/batch: %w", err)
				}
				if len(r.Rejected) > 0 {
					return fmt.Errorf("demo: the API rejected %d of a batch's events, first: %s", len(r.Rejected), r.Rejected[0].Error)
				}
				s.Accepted.Add(int64(r.Accepted))
				s.Batches.Add(1)
				return nil
			case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 30:
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra > 0 {
					backoff = time.Duration(ra) * time.Second
				}
			default:
				return fmt.Errorf("demo: /v1/batch answered %s: %s", resp.Status, bytes.TrimSpace(raw))
			}
		}
		s.Retries.Add(1)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

package goqitebench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"maragu.dev/goqite"

	"github.com/omniroi/omniroi/internal/store"
)

// RawOptions size Raw.
type RawOptions struct {
	Messages int  // default 20,000
	Batch    int  // messages per transaction in Batched mode; default 2000
	Workers  int  // goroutines sending and receiving in PerMessage mode; default 16
	Mode     Mode // default Batched
}

// RawResult is goqite's own ceiling: send, receive and delete with no work between.
type RawResult struct {
	Messages      int
	Send          time.Duration // all messages sent
	ReceiveDelete time.Duration // all messages received and deleted
	MsgsPerSecond float64       // Messages / (Send + ReceiveDelete): one message's whole life
	Retries       int64         // failed calls retried (PerMessage; e.g. serialization failures)
}

// Raw measures goqite alone on db (fresh migrations, no goqite table yet).
func Raw(ctx context.Context, db *store.DB, opt RawOptions) (RawResult, error) {
	if opt.Messages <= 0 {
		opt.Messages = 20000
	}
	if opt.Batch <= 0 {
		opt.Batch = 2000
	}
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.Mode == "" {
		opt.Mode = Batched
	}
	res := RawResult{Messages: opt.Messages}
	if err := CreateSchema(ctx, db); err != nil {
		return res, err
	}
	q := goqite.New(goqite.NewOpts{DB: db.W, Name: "raw", SQLFlavor: flavor(db), Timeout: time.Minute})
	body := func(i int) []byte {
		return []byte(`{"run":` + strconv.Itoa(i) + `,"customer":` + strconv.Itoa(i) + `}`)
	}
	var received atomic.Int64
	switch opt.Mode {
	case Batched:
		t := time.Now()
		for start := 0; start < opt.Messages; start += opt.Batch {
			err := db.Write(ctx, func(tx *store.Tx) error {
				for i := start; i < min(start+opt.Batch, opt.Messages); i++ {
					if err := q.SendTx(ctx, tx.Tx, goqite.Message{Body: body(i)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("raw send: %w", err)
			}
		}
		res.Send = time.Since(t)
		t = time.Now()
		for {
			n := 0
			err := db.Write(ctx, func(tx *store.Tx) error {
				for n < opt.Batch {
					m, err := q.ReceiveTx(ctx, tx.Tx)
					if err != nil || m == nil {
						return err
					}
					if err := q.DeleteTx(ctx, tx.Tx, m.ID); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("raw receive: %w", err)
			}
			received.Add(int64(n))
			if n == 0 {
				break
			}
		}
		res.ReceiveDelete = time.Since(t)
	case PerMessage:
		var retries atomic.Int64
		// retry bounds a call's failures (PostgreSQL serialization failures under
		// goqite's SERIALIZABLE transactions, which concurrent receivers hit); each one is
		// counted, and a short random pause keeps the retries from colliding again.
		retry := func(f func() error) error {
			var err error
			for range 1000 {
				if err = f(); err == nil {
					return nil
				}
				retries.Add(1)
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			}
			return err
		}
		parallel := func(f func(w int) error) error {
			var wg sync.WaitGroup
			errs := make([]error, opt.Workers)
			for w := range opt.Workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[w] = f(w)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			return nil
		}
		t := time.Now()
		err := parallel(func(w int) error {
			for i := w; i < opt.Messages; i += opt.Workers {
				if err := retry(func() error { return q.Send(ctx, goqite.Message{Body: body(i)}) }); err != nil {
					return fmt.Errorf("raw send: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Send = time.Since(t)
		t = time.Now()
		err = parallel(func(int) error {
			for {
				var m *goqite.Message
				if err := retry(func() (err error) { m, err = q.Receive(ctx); return err }); err != nil {
					return fmt.Errorf("raw receive: %w", err)
				}
				if m == nil {
					return nil
				}
				if err := retry(func() error { return q.Delete(ctx, m.ID) }); err != nil {
					return fmt.Errorf("raw delete: %w", err)
				}
				received.Add(1)
			}
		})
		if err != nil {
			return res, err
		}
		res.ReceiveDelete = time.Since(t)
		res.Retries = retries.Load()
	default:
		return res, fmt.Errorf("goqitebench: unknown mode %q", opt.Mode)
	}
	res.MsgsPerSecond = float64(opt.Messages) / (res.Send + res.ReceiveDelete).Seconds()
	var left int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM goqite`).Scan(&left); err != nil {
		return res, fmt.Errorf("raw verify: %w", err)
	}
	if n := received.Load(); n != int64(opt.Messages) || left != 0 {
		return res, fmt.Errorf("goqitebench raw: %d messages sent, %d received and deleted, %d left", opt.Messages, n, left)
	}
	return res, nil
}

package importer

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// An import writes its events in chunks of its own transactions, so that it never holds
// the database's writer (SQLite's lock, PostgreSQL's event-log lock) for longer than one
// chunk: the collection API keeps committing between chunks instead of answering 503.
// All-or-nothing stays the default: the whole file is read and checked first, its events
// kept in a spool file, and only a file without bad rows is written (see docs/import.md,
// "Bad rows", and docs/decisions.md).

const (
	// defaultChunkEvents is the most events one transaction writes; chunkTime the most
	// time it spends inserting them (a slow or busy machine writes fewer per chunk).
	defaultChunkEvents = 5000
	chunkTime          = 250 * time.Millisecond
	// insertStep is how many events one INSERT round writes between two looks at the clock.
	insertStep = 500
	// sqliteDuty and sqlitePause: on SQLite, after holding the writer for sqliteDuty in
	// total, the import lets go of it for sqlitePause. Another process waiting for the
	// lock (omniroi serve) retries every 100 ms at most (SQLite's busy handler), so a
	// pause longer than that lets it in; chunks back to back would leave it waiting until
	// its busy timeout (15 s) and failing.
	sqliteDuty  = 400 * time.Millisecond
	sqlitePause = 120 * time.Millisecond
)

// chunkWriter commits events and rejected rows in chunks.
type chunkWriter struct {
	db        *store.DB
	max       int
	pause     time.Duration // 0: the dialect's default
	evs       []event.Event
	rejs      []store.Rejection
	stored    int // events newly stored
	total     int // events written (stored + duplicates)
	held      time.Duration
	committed int        // transactions
	gated     gateCounts // what the privacy gate dropped or anonymised (privacy.go)
}

func newChunkWriter(db *store.DB, opt Options) *chunkWriter {
	w := &chunkWriter{db: db, max: opt.chunkEvents, pause: opt.chunkPause}
	if w.max <= 0 {
		w.max = defaultChunkEvents
	}
	if w.pause == 0 && db.Dialect == store.SQLite {
		w.pause = sqlitePause
	}
	return w
}

func (w *chunkWriter) add(ctx context.Context, evs []event.Event, rejs []store.Rejection) error {
	w.evs = append(w.evs, evs...)
	w.rejs = append(w.rejs, rejs...)
	for len(w.evs) >= w.max || len(w.rejs) >= w.max {
		if err := w.commit(ctx, min(len(w.evs), w.max), min(len(w.rejs), w.max)); err != nil {
			return err
		}
	}
	return nil
}

func (w *chunkWriter) flush(ctx context.Context) error {
	for len(w.evs) > 0 || len(w.rejs) > 0 {
		if err := w.commit(ctx, min(len(w.evs), w.max), min(len(w.rejs), w.max)); err != nil {
			return err
		}
	}
	return nil
}

// commit writes up to ne events and the first nr rejections in one transaction: the
// events in steps of insertStep, stopping early once chunkTime has passed.
func (w *chunkWriter) commit(ctx context.Context, ne, nr int) error {
	t0 := time.Now()
	var stored, written int
	var gc gateCounts
	err := w.db.Write(ctx, func(tx *store.Tx) error {
		stored, written, gc = 0, 0, gateCounts{}
		if ne > 0 {
			if err := store.LockEventLog(ctx, tx); err != nil {
				return fmt.Errorf("lock event log: %w", err)
			}
			done := 0
			for done < ne {
				step := min(insertStep, ne-done)
				// The gate filters in place: give it a copy, so a failed transaction
				// leaves the chunk as it was.
				evs, err := gateEvents(ctx, tx, slices.Clone(w.evs[done:done+step]), &gc)
				if err != nil {
					return err
				}
				if len(evs) > 0 {
					n, err := store.InsertEvents(ctx, tx, evs)
					if err != nil {
						return err
					}
					stored += n
					written += len(evs)
				}
				done += step
				if time.Since(t0) >= chunkTime {
					break
				}
			}
			ne = done
		}
		rejs, err := gateRejections(ctx, tx, slices.Clone(w.rejs[:nr]), &gc)
		if err != nil {
			return err
		}
		return store.InsertRejections(ctx, tx, rejs)
	})
	if err != nil {
		return err
	}
	w.committed++
	w.stored += stored
	w.total += written
	w.gated.suppressed += gc.suppressed
	w.gated.anonymised += gc.anonymised
	w.evs = append(w.evs[:0], w.evs[ne:]...)
	w.rejs = append(w.rejs[:0], w.rejs[nr:]...)
	if w.held += time.Since(t0); w.pause > 0 && w.held >= sqliteDuty {
		w.held = 0
		t := time.NewTimer(w.pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// spool keeps a file's converted events on disk between reading the file and writing
// them, so that memory stays flat however large the file.
type spool struct {
	f   *os.File
	bw  *bufio.Writer
	enc *gob.Encoder
	n   int
}

// newSpool creates the spool in dir (the data directory, which only omniroi's account
// can read: the events hold personal data), or the system's temporary directory.
func newSpool(dir string) (*spool, error) {
	if dir != "" {
		if err := store.EnsurePrivateDir(dir); err != nil {
			dir = ""
		}
	}
	f, err := os.CreateTemp(dir, ".import-*.spool") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("import spool: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	return &spool{f: f, bw: bw, enc: gob.NewEncoder(bw)}, nil
}

func (s *spool) write(evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	s.n += len(evs)
	if err := s.enc.Encode(evs); err != nil {
		return fmt.Errorf("import spool: %w", err)
	}
	return nil
}

// replay hands the spooled events back in the order they were written.
func (s *spool) replay(fn func([]event.Event) error) error {
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("import spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("import spool: %w", err)
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 1<<20))
	for {
		var evs []event.Event
		if err := dec.Decode(&evs); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("import spool: %w", err)
		}
		if err := fn(evs); err != nil {
			return err
		}
	}
}

func (s *spool) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// writeEvents writes what the reader sends: with --skip-bad as it comes, in chunks; by
// default (all-or-nothing) only once the whole file was read without a bad row, from the
// spool. It returns the first error; the caller drains batches after one.
func writeEvents(ctx context.Context, db *store.DB, cw *chunkWriter, batches <-chan batch, readErr <-chan error, rep *Report, opt Options, prog *progress) error {
	if opt.SkipBad {
		for b := range batches {
			if err := cw.add(ctx, b.events, b.rejections); err != nil {
				return err
			}
		}
		if err := <-readErr; err != nil {
			return err
		}
		return cw.flush(ctx)
	}
	sp, err := newSpool(db.DataDir)
	if err != nil {
		return err
	}
	defer sp.close()
	for b := range batches {
		if err := sp.write(b.events); err != nil {
			return err
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if rep.Rejected > 0 {
		return ErrBadRows
	}
	prog.writing(sp.n)
	if err := sp.replay(func(evs []event.Event) error { return cw.add(ctx, evs, nil) }); err != nil {
		return err
	}
	return cw.flush(ctx)
}

// writeSpend upserts a spend file's rows, all in one transaction: spend files are small
// (a row per day and campaign) and spend is not the event log. Rejected rows go in the
// same transaction.
func writeSpend(ctx context.Context, db *store.DB, sc *spendConverter, batches <-chan batch, readErr <-chan error, rep *Report, opt Options, name string, gc *gateCounts) error {
	var rejs []store.Rejection
	for b := range batches {
		rejs = append(rejs, b.rejections...)
	}
	if err := <-readErr; err != nil {
		return err
	}
	if rep.Rejected > 0 && !opt.SkipBad {
		return ErrBadRows
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		*gc = gateCounts{}
		rejs, err := gateRejections(ctx, tx, slices.Clone(rejs), gc)
		if err != nil {
			return err
		}
		if err := store.InsertRejections(ctx, tx, rejs); err != nil {
			return err
		}
		res, err := upsertSpend(ctx, tx, sc.rows(), name)
		if err != nil {
			return err
		}
		rep.Imported, rep.Duplicates = res.changed, res.same
		return nil
	})
}

package store

// Additions for the collection API's hot path (owned by internal/collect).

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/omniroi/omniroi/internal/event"
)

// fastChunks are the row counts of the prepared multi-row INSERTs; a group is cut
// greedily into them, so no statement is parsed inside a commit.
var fastChunks = [...]int{250, 50, 10, 1}

type preparedSet [len(fastChunks)]*sql.Stmt

var preparedInserts sync.Map // *DB → *preparedSet

// PrepareFastInsert prepares InsertEventsFast's statements on the write pool. Call it
// outside any transaction: on SQLite the pool's one connection would be taken.
func (db *DB) PrepareFastInsert(ctx context.Context) error {
	if db.Dialect != SQLite {
		return nil
	}
	if _, ok := preparedInserts.Load(db); ok {
		return nil
	}
	var set preparedSet
	for i, n := range fastChunks {
		stmt, err := db.W.PrepareContext(ctx, insertEventsSQL(SQLite, n))
		if err != nil {
			for _, s := range set[:i] {
				s.Close()
			}
			return fmt.Errorf("prepare event insert: %w", err)
		}
		set[i] = stmt
	}
	if _, loaded := preparedInserts.LoadOrStore(db, &set); loaded {
		for _, s := range set {
			s.Close()
		}
	}
	return nil
}

// ReleaseFastInsert closes the statements PrepareFastInsert made; InsertEventsFast
// then falls back to InsertEvents.
func (db *DB) ReleaseFastInsert() {
	if v, ok := preparedInserts.LoadAndDelete(db); ok {
		for _, s := range v.(*preparedSet) {
			s.Close()
		}
	}
}

// InsertEventsFast is InsertEvents for the collector's group commits. On SQLite, after
// PrepareFastInsert, it runs the rows through statements prepared once per DB (the
// profile showed SQLite parsing the 1,800-placeholder statement on every call) and
// binds bodies without copying them. Elsewhere it is InsertEvents (pgx caches
// statements itself).
func (db *DB) InsertEventsFast(ctx context.Context, tx *Tx, evs []event.Event) (int, error) {
	v, ok := preparedInserts.Load(db)
	if db.Dialect != SQLite || !ok {
		return InsertEvents(ctx, tx, evs)
	}
	set := v.(*preparedSet)
	inserted := 0
	args := make([]any, 0, fastChunks[0]*eventCols)
	for ci, size := range fastChunks {
		if len(evs) < size {
			continue
		}
		stmt := tx.StmtContext(ctx, set[ci])
		for ; len(evs) >= size; evs = evs[size:] {
			args = args[:0]
			for i := range evs[:size] {
				e := &evs[i]
				args = append(args, e.SourceID, e.MessageID, e.Type, e.Name, e.UserID, e.AnonymousID,
					e.Timestamp.UnixMilli(), e.ReceivedAt.UnixMilli(), bytesString(e.Body), e.ClientIP)
			}
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				stmt.Close()
				return inserted, fmt.Errorf("insert events: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				stmt.Close()
				return inserted, err
			}
			inserted += int(n)
		}
		stmt.Close()
	}
	return inserted, nil
}

// bytesString views an event body as a string for binding: the driver copies it and
// bodies are not modified after Normalize.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Checkpointer moves SQLite's WAL checkpoints off the commit path (see StartCheckpointer).
type Checkpointer struct {
	db       *DB
	cp       *sql.DB
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	wantTail atomic.Bool
	tails    atomic.Int64
}

// tailFrames is the WAL length (in frames) past which the writer is asked to finish a
// checkpoint, so that the WAL restarts from its beginning; SQLite's own default
// auto-checkpoint threshold.
const tailFrames = 1000

// StartCheckpointer turns automatic checkpoints off on the write connection and
// checkpoints (PASSIVE: it never blocks writers) on a connection of its own every
// interval, copying the bulk of the WAL into the database in parallel with commits.
// Commits stay durable (the WAL is still synced at each commit); they just no longer
// copy pages into the database file and sync it as well.
//
// A checkpoint that runs beside a busy writer never catches up with it, and SQLite only
// restarts the WAL after a complete one, so the WAL would grow without bound. When it is
// long, the writer is asked to call Tail between two transactions: that checkpoint only
// copies what was appended since the background one, and completes.
//
// Stop restores automatic checkpoints. On PostgreSQL it returns nil.
func (db *DB) StartCheckpointer(interval time.Duration) (*Checkpointer, error) {
	if db.Dialect != SQLite {
		return nil, nil
	}
	dir := db.DataDir
	if dir == "" {
		dir = "omniroi-data"
	}
	path := filepath.Join(dir, "omniroi.db")
	// mode=rw: never create a stray database if the path were wrong.
	cp, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection: %w", err)
	}
	cp.SetMaxOpenConns(1)
	if err := cp.Ping(); err != nil {
		cp.Close()
		return nil, fmt.Errorf("open checkpoint connection: %w", err)
	}
	if _, err := db.W.Exec(`PRAGMA wal_autocheckpoint=0`); err != nil {
		cp.Close()
		return nil, fmt.Errorf("turn off auto-checkpoint: %w", err)
	}
	c := &Checkpointer{db: db, cp: cp, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-c.quit:
				return
			case <-t.C:
				var busy, log, done int
				if err := cp.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err == nil && log >= tailFrames {
					c.wantTail.Store(true)
				}
			}
		}
	}()
	return c, nil
}

// Tail finishes the checkpoint when the background one asked for it. Call it from the
// writer, outside any transaction; it is cheap when nothing is asked.
func (c *Checkpointer) Tail(ctx context.Context) error {
	if c == nil || !c.wantTail.Swap(false) {
		return nil
	}
	c.tails.Add(1)
	if _, err := c.db.W.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Tails counts the checkpoints Tail ran.
func (c *Checkpointer) Tails() int64 {
	if c == nil {
		return 0
	}
	return c.tails.Load()
}

// Stop ends the background checkpoints and turns automatic ones back on.
func (c *Checkpointer) Stop() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() {
		close(c.quit)
		<-c.done
		_, _ = c.cp.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		c.cp.Close()
		_, _ = c.db.W.Exec(`PRAGMA wal_autocheckpoint=1000`)
	})
}

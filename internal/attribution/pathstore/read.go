package pathstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Source reads rows: from the table when it is ready, else computed from the processor's
// tables (an upgraded store before its processor has built the table).
type Source struct {
	db     *store.DB
	ready  bool
	lo, hi int64 // blocks
	any    bool
}

// Open looks at the table and the range of blocks.
func Open(ctx context.Context, db *store.DB) (*Source, error) {
	s := &Source{db: db}
	var err error
	if s.ready, err = Ready(ctx, db); err != nil {
		return nil, err
	}
	if !s.ready {
		lo, hi, ok, err := customerRange(ctx, db)
		if err != nil {
			return nil, err
		}
		s.lo, s.hi, s.any = BlockOf(lo), BlockOf(hi), ok
		return s, nil
	}
	// One MIN or MAX per query: each reads one end of the primary key.
	for _, x := range []struct {
		f   string
		dst *int64
	}{{"MIN", &s.lo}, {"MAX", &s.hi}} {
		var v sql.NullInt64
		if err := db.QueryRow(ctx, `SELECT `+x.f+`(block) FROM paths`).Scan(&v); err != nil {
			return nil, fmt.Errorf("paths: blocks: %w", err)
		}
		*x.dst, s.any = v.Int64, v.Valid
	}
	return s, nil
}

// Ready reports whether rows come from the table (false: computed from the tables).
func (s *Source) Ready() bool { return s.ready }

// Blocks is the range of blocks holding anything; ok is false when there is nothing.
func (s *Source) Blocks() (lo, hi int64, ok bool) { return s.lo, s.hi, s.any }

// Read calls fn with each row of block for days [dayFrom, dayTo], in day order. data is
// only valid during the call.
func (s *Source) Read(ctx context.Context, block, dayFrom, dayTo int64, fn func(day int64, data []byte) error) error {
	if !s.ready {
		rows, err := Compute(ctx, s.db, block, dayFrom, dayTo)
		if err != nil {
			return err
		}
		for i := range rows {
			if err := fn(rows[i].Day, rows[i].Encode()); err != nil {
				return err
			}
		}
		return nil
	}
	const q = `SELECT day, data FROM paths WHERE block = ? AND day >= ? AND day <= ? ORDER BY day`
	var rows *sql.Rows
	var err error
	if s.db.Dialect == store.SQLite {
		conn, cerr := s.smallCache(ctx)
		if cerr != nil {
			return fmt.Errorf("paths: read block %d: %w", block, cerr)
		}
		defer conn.Close()
		rows, err = conn.QueryContext(ctx, q, block, dayFrom, dayTo)
	} else {
		rows, err = s.db.Query(ctx, q, block, dayFrom, dayTo)
	}
	if err != nil {
		return fmt.Errorf("paths: read block %d: %w", block, err)
	}
	defer rows.Close()
	var day int64
	var data sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&day, &data); err != nil {
			return fmt.Errorf("paths: read block %d: %w", block, err)
		}
		if err := fn(day, data); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("paths: read block %d: %w", block, err)
	}
	return nil
}

// readCachePages is the page cache of a SQLite connection while it reads a block's rows.
// Each row is read once, so caching tens of megabytes of them (the store's setting, kept
// for other queries) only cost allocating those pages and freeing them when the
// connection closed: a third of the CPU of `attribute` at 100,000 people.
const readCachePages = 256

// smallCache takes a read connection and shrinks its page cache until it is returned
// (conn.Close puts the store's size back first).
func (s *Source) smallCache(ctx context.Context) (*readConn, error) {
	conn, err := s.db.R.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var was int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, readCachePages)); err != nil {
		conn.Close()
		return nil, err
	}
	return &readConn{Conn: conn, was: was}, nil
}

// readConn is a read connection with its page cache shrunk.
type readConn struct {
	*sql.Conn
	was int64
}

// Close restores the page cache size and returns the connection to the pool.
func (c *readConn) Close() error {
	_, err := c.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA cache_size = %d`, c.was))
	if err != nil {
		c.Raw(func(any) error { return driver.ErrBadConn }) // drop it rather than pool it shrunk
	}
	return errors.Join(err, c.Conn.Close())
}

// DayCell is one day × channel × campaign × currency of the rollup.
type DayCell struct {
	Day time.Time `json:"day"` // UTC midnight
	Cell
	Counts
}

// Daily returns the rollup of the UTC days [from, to): visits per channel and campaign,
// orders, revenue, refunds and new customers per channel, campaign and currency. It
// reads the rows' summaries of those days only.
func Daily(ctx context.Context, db *store.DB, from, to time.Time) ([]DayCell, error) {
	dayFrom, dayTo := DayOf(from.UnixMilli()), DayOf(to.UnixMilli()-1)
	type key struct {
		day int64
		Cell
	}
	acc := map[key]Counts{}
	add := func(day int64, m map[Cell]Counts) {
		for c, n := range m {
			k := key{day, c}
			x := acc[k]
			x.add(n)
			acc[k] = x
		}
	}
	ready, err := Ready(ctx, db)
	if err != nil {
		return nil, err
	}
	if ready {
		rows, err := db.Query(ctx, `SELECT day, summary FROM paths WHERE day >= ? AND day <= ?`, dayFrom, dayTo)
		if err != nil {
			return nil, fmt.Errorf("paths: rollup: %w", err)
		}
		defer rows.Close()
		var day int64
		var data sql.RawBytes
		for rows.Next() {
			if err := rows.Scan(&day, &data); err != nil {
				return nil, fmt.Errorf("paths: rollup: %w", err)
			}
			m := map[Cell]Counts{}
			if err := decodeSummary(data, m); err != nil {
				return nil, err
			}
			add(day, m)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("paths: rollup: %w", err)
		}
	} else {
		src, err := Open(ctx, db)
		if err != nil {
			return nil, err
		}
		if lo, hi, ok := src.Blocks(); ok {
			for b := lo; b <= hi; b++ {
				rows, err := Compute(ctx, db, b, dayFrom, dayTo)
				if err != nil {
					return nil, err
				}
				for i := range rows {
					add(rows[i].Day, summarize(&rows[i]))
				}
			}
		}
	}
	out := make([]DayCell, 0, len(acc))
	for k, n := range acc {
		if !n.zero() {
			out = append(out, DayCell{Day: time.UnixMilli(k.day * DayMS).UTC(), Cell: k.Cell, Counts: n})
		}
	}
	slices.SortFunc(out, func(a, b DayCell) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return cmpCell(a.Cell, b.Cell)
	})
	return out, nil
}

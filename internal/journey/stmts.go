package journey

import (
	"context"
	"database/sql"

	"github.com/omniroi/omniroi/internal/store"
)

// stmts prepares each query once per transaction. The engine runs the same dozen
// statements hundreds of times per transaction, and SQLite spent a third of the
// benchmark's CPU re-parsing them. Statements close with the transaction.
//
// before, when set, runs ahead of every statement: the engine's work uses it to write
// its buffered rows before a statement that may read them.
type stmts struct {
	tx     *store.Tx
	m      map[string]*sql.Stmt
	before func(ctx context.Context, q string) error
	err    error // a failed before on QueryRow, reported by the next flush
}

func newStmts(tx *store.Tx) *stmts { return &stmts{tx: tx, m: map[string]*sql.Stmt{}} }

// get returns the prepared statement for q; nil on PostgreSQL, where pgx already keeps
// a statement cache per connection and a Prepare per transaction would cost two round
// trips (prepare, deallocate).
func (s *stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if s.tx.Dialect == store.Postgres {
		return nil, nil
	}
	if st, ok := s.m[q]; ok {
		return st, nil
	}
	st, err := s.tx.Tx.PrepareContext(ctx, store.Rebind(s.tx.Dialect, q))
	if err != nil {
		return nil, err
	}
	s.m[q] = st
	return st, nil
}

func (s *stmts) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s.before != nil {
		if err := s.before(ctx, q); err != nil {
			return nil, err
		}
	}
	return s.exec(ctx, q, args...)
}

// exec runs q without the before hook.
func (s *stmts) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.tx.Exec(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (s *stmts) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.before != nil {
		if err := s.before(ctx, q); err != nil {
			return nil, err
		}
	}
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.tx.Query(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (s *stmts) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.before != nil {
		if err := s.before(ctx, q); err != nil && s.err == nil {
			s.err = err
		}
	}
	st, err := s.get(ctx, q)
	if err != nil || st == nil {
		return s.tx.QueryRow(ctx, q, args...) // PostgreSQL, or reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

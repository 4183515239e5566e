package journey

import (
	"context"
	"database/sql"

	"github.com/omniroi/omniroi/internal/store"
)

// stmts prepares each query once per transaction. The engine runs the same dozen
// statements hundreds of times per transaction, and SQLite spent a third of the
// benchmark's CPU re-parsing them. Statements close with the transaction.
type stmts struct {
	tx *store.Tx
	m  map[string]*sql.Stmt
}

func newStmts(tx *store.Tx) *stmts { return &stmts{tx: tx, m: map[string]*sql.Stmt{}} }

func (s *stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
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
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *stmts) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *stmts) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.get(ctx, q)
	if err != nil {
		return s.tx.QueryRow(ctx, q, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

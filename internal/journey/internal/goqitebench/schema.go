// Package goqitebench measures goqite (maragu.dev/goqite) as the journey engine's timer
// and send queue, so the choice between it and the engine's own queue rests on numbers.
// It models the work of journey.Bench per run (entry event → run, a 1 h wait, an email
// rendered and delivered to an in-process sink, an "Email Sent" event written) with
// goqite in place of journey_timers and journey_sends. Nothing in the product uses it.
package goqitebench

import (
	"context"
	"fmt"

	"maragu.dev/goqite"

	"github.com/omniroi/omniroi/internal/store"
)

// goqite v0.4.0 ships its schema as SQL files, not through its API; these are those
// files (schema_sqlite.sql, schema_postgres.sql; MIT licence), split into statements
// because the trigger and function bodies hold semicolons.
var sqliteSchema = []string{
	`create table goqite (
  id text primary key default ('m_' || lower(hex(randomblob(16)))),
  created text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  updated text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  queue text not null,
  body blob not null,
  timeout text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  received integer not null default 0,
  priority integer not null default 0
) strict`,
	`create trigger goqite_updated_timestamp after update on goqite begin
  update goqite set updated = strftime('%Y-%m-%dT%H:%M:%fZ') where id = old.id;
end`,
	`create index goqite_queue_priority_created_idx on goqite (queue, priority desc, created)`,
}

var postgresSchema = []string{
	`create extension if not exists pgcrypto`,
	`create function update_timestamp()
returns trigger as $$
begin
   new.updated = now();
   return new;
end;
$$ language plpgsql`,
	`create table goqite (
  id text primary key default ('m_' || encode(gen_random_bytes(16), 'hex')),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  queue text not null,
  body bytea not null,
  timeout timestamptz not null default now(),
  received integer not null default 0,
  priority integer not null default 0
)`,
	`create trigger goqite_updated_timestamp
before update on goqite
for each row execute procedure update_timestamp()`,
	`create index goqite_queue_priority_created_idx on goqite (queue, priority desc, created)`,
}

// CreateSchema creates goqite's table in db (which must not have it yet).
func CreateSchema(ctx context.Context, db *store.DB) error {
	stmts := sqliteSchema
	if db.Dialect == store.Postgres {
		stmts = postgresSchema
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("goqite schema: %w", err)
			}
		}
		return nil
	})
}

func flavor(db *store.DB) goqite.SQLFlavor {
	if db.Dialect == store.Postgres {
		return goqite.SQLFlavorPostgreSQL
	}
	return goqite.SQLFlavorSQLite
}

// makeDue moves every message of queue to "due now": the benchmark's stand-in for an
// hour passing, since goqite reads the wall clock. journey.Bench jumps its clock for free;
// this single statement is not timed either.
func makeDue(ctx context.Context, db *store.DB, queue string) error {
	var arg any = "1970-01-01T00:00:00.000Z" // goqite's SQLite timestamps are RFC 3339 text
	if db.Dialect == store.Postgres {
		arg = "1970-01-01T00:00:00Z"
	}
	_, err := db.Exec(ctx, `UPDATE goqite SET timeout = ? WHERE queue = ?`, arg, queue)
	if err != nil {
		return fmt.Errorf("make %s due: %w", queue, err)
	}
	return nil
}

// Package audit records who did what and when: journey changes, erasures, exports, key
// rotations, user and settings changes. Entries carry no personal data (an erasure names
// the customer id, never the address), so the log itself never needs erasing.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// Entry is one recorded action.
type Entry struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`  // "user:ana@shop.example", "cli", "token:NAME", "system"
	Action string         `json:"action"` // "source.rotate", "privacy.erase", "user.role", ...
	Target string         `json:"target"` // "source:3", "customer:118", "user:7"
	Detail map[string]any `json:"detail,omitempty"`
}

// Actors, for callers that are not a logged-in user.
const (
	ActorCLI    = "cli"
	ActorSystem = "system"
)

// UserActor names a dashboard user; TokenActor an API token.
func UserActor(email string) string { return "user:" + email }
func TokenActor(name string) string { return "token:" + name }

type actorKey struct{}

// WithActor says who acts in ctx. The dashboard and API guards set it for every request
// and the CLI for every command, so that functions whose signatures predate the audit
// log (journey.Apply, auth.SetPassword) can record who called them.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or ActorSystem.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return ActorSystem
}

// Execer is a store.Tx or a store.DB: record inside the transaction that made the change
// when there is one, so the change and its record commit together.
type Execer interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Record appends e (At defaults to now).
func Record(ctx context.Context, x Execer, e Entry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Actor == "" {
		e.Actor = ActorSystem
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	if _, err := x.Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		e.At.UnixMilli(), e.Actor, e.Action, e.Target, string(detail)); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// Filter narrows List; zero values match everything. Limit defaults to 100.
type Filter struct {
	// Action matches an action and the actions under it: "user" matches "user",
	// "user.role" and "user.invite"; "privacy." matches "privacy.erase"; "user.role" only itself.
	Action string
	Before int64 // id: entries older than this one (paging)
	Limit  int
}

// List returns entries newest first.
func List(ctx context.Context, db *store.DB, f Filter) ([]Entry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT id, at, actor, action, target, detail FROM audit_log WHERE 1=1`
	var args []any
	if a := strings.TrimSuffix(f.Action, "."); a != "" {
		q += ` AND (action = ? OR action LIKE ? ESCAPE '\')`
		args = append(args, a, likeEscape.Replace(a)+".%")
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, f.Limit)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		if detail != "" && detail != "{}" {
			if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
				return nil, fmt.Errorf("audit entry %d: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

var likeEscape = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

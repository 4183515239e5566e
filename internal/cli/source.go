package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

func init() {
	c := &Command{
		Name:    "source",
		Summary: "add and list event sources (write keys for the collection API)",
		Usage:   "omniroi source add NAME [--json]\n       omniroi source list [--json]",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		// Flags may come before or after NAME.
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "list": {0}})
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if sub == "list" {
			return listSources(ctx, env, db, sf.JSON)
		}
		src, key, err := db.CreateSource(ctx, pos[0])
		if err != nil {
			return err
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"id": src.ID, "name": src.Name, "write_key": key, "created_at": src.CreatedAt})
		}
		fmt.Fprintf(env.Stdout, "source %q created.\nwrite key (shown once, keep it): %s\n", src.Name, key)
		return nil
	}
	Register(c)
}

type sourceRow struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	KeyHint  string    `json:"key_hint"`
	Created  time.Time `json:"created_at"`
	Events   int64     `json:"events"`
	Rejected int64     `json:"rejected"`
}

func listSources(ctx context.Context, env *Env, db *store.DB, asJSON bool) error {
	srcs, err := db.Sources(ctx)
	if err != nil {
		return err
	}
	counts := map[int64][2]int64{}
	for i, q := range []string{`SELECT source_id, COUNT(*) FROM events GROUP BY source_id`, `SELECT source_id, COUNT(*) FROM rejected_events GROUP BY source_id`} {
		rows, err := db.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("count events: %w", err)
		}
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return fmt.Errorf("count events: %w", err)
			}
			c := counts[id]
			c[i] = n
			counts[id] = c
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	out := make([]sourceRow, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, sourceRow{ID: s.ID, Name: s.Name, KeyHint: s.KeyHint + "…", Created: s.CreatedAt, Events: counts[s.ID][0], Rejected: counts[s.ID][1]})
	}
	return printRows(env, asJSON, out, "NAME\tKEY\tCREATED\tEVENTS\tREJECTED", func(w io.Writer, r sourceRow) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\n", Clean(r.Name), Clean(r.KeyHint), r.Created.Format("2006-01-02 15:04"), r.Events, r.Rejected)
	})
}

package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/store"
)

func init() {
	c := &Command{
		Name:    "source",
		Summary: "add, list, rotate and revoke event sources (write keys for the collection API)",
		Usage: "omniroi source add NAME [--kind client|server|shopify|woocommerce] [--json]\n" +
			"       omniroi source list [--json]\n" +
			"       omniroi source rotate NAME [--json]     (a new key, shown once; the old one stops working)\n" +
			"       omniroi source revoke NAME [--json]     (the key stops working; events stay)\n" +
			"       omniroi source kind NAME client|server [--json]\n" +
			"       omniroi source webhook NAME [--public-url URL] [--json]  (a shop connector's URL and secret)\n" +
			"       omniroi source secret NAME [--webhook-secret KEY]  (replace it; read from stdin without the flag)\n\n" +
			"client (the default): browser and mobile SDKs, whose key is public: contact points and\n" +
			"consent they send are unverified. server: back ends, imports, webhooks (secret key).\n" +
			"shopify, woocommerce: a shop's own webhooks (docs/connectors.md); add prints the\n" +
			"webhook URL and secret to paste into the shop's admin (Shopify signs with its own\n" +
			"key: pass it with --webhook-secret, or later with source secret).",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		kind := fs.String("kind", store.KindClient, "source kind: client (browser/mobile SDK, public key), server (back end, secret key), shopify or woocommerce (shop connector)")
		cf := connectorFlags(fs)
		// Flags may come before or after NAME.
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "list": {0}, "rotate": {1}, "revoke": {1}, "kind": {2}, "webhook": {1}, "secret": {1}})
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		record := func(action string, detail map[string]any) store.KeyChange {
			return func(ctx context.Context, tx *store.Tx, src store.Source) error {
				return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorCLI, Action: action, Target: fmt.Sprintf("source:%d", src.ID),
					Detail: mergeDetail(map[string]any{"name": src.Name, "key_hint": src.KeyHint}, detail)})
			}
		}
		switch sub {
		case "list":
			return listSources(ctx, env, db, sf.JSON)
		case "webhook":
			return showWebhook(ctx, env, db, pos[0], cf, sf.JSON)
		case "secret":
			return setWebhookSecret(ctx, env, db, pos[0], cf, record("source.secret", nil))
		case "rotate":
			src, key, err := db.RotateSourceKey(ctx, pos[0], record("source.rotate", nil))
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": src.ID, "name": src.Name, "kind": src.Kind, "write_key": key, "rotated_at": src.RotatedAt})
			}
			fmt.Fprintf(env.Stdout, "source %q has a new write key; the old one no longer works.\nwrite key (shown once, keep it): %s\n", Clean(src.Name), key)
			return nil
		case "revoke":
			src, err := db.RevokeSourceKey(ctx, pos[0], record("source.revoke", nil))
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": src.ID, "name": src.Name, "kind": src.Kind, "revoked_at": src.RevokedAt})
			}
			fmt.Fprintf(env.Stdout, "the write key of source %q is revoked: senders using it get 401. Its events stay; `omniroi source rotate %s` issues a new key.\n",
				Clean(src.Name), shellQuote(src.Name))
			return nil
		case "kind":
			old, err := db.SourceByName(ctx, pos[0])
			if err != nil {
				return fmt.Errorf("source %q: %w", pos[0], err)
			}
			src, err := db.SetSourceKind(ctx, pos[0], pos[1], record("source.kind", map[string]any{"from": old.Kind}))
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": src.ID, "name": src.Name, "kind": src.Kind})
			}
			fmt.Fprintf(env.Stdout, "source %q is now a %s source. Events it sends from now on are read as such; `omniroi rebuild` applies it to its past events.\n", Clean(src.Name), src.Kind)
			return nil
		}
		if k, _ := store.ParseSourceKind(*kind); connect.IsConnector(k) {
			return addConnector(ctx, env, db, pos[0], k, cf, sf.JSON)
		}
		src, key, err := db.CreateSourceKind(ctx, pos[0], *kind)
		if err != nil {
			return err
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, map[string]any{"id": src.ID, "name": src.Name, "kind": src.Kind, "write_key": key, "created_at": src.CreatedAt})
		}
		fmt.Fprintf(env.Stdout, "%s source %q created.\nwrite key (shown once, keep it): %s\n", src.Kind, Clean(src.Name), key)
		if src.Kind == store.KindClient {
			fmt.Fprintln(env.Stdout, "A client key is public: contact details and consent it sends are unverified until the customer confirms them. Back ends and imports use --kind server.")
		}
		return nil
	}
	Register(c)
}

func mergeDetail(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// shellQuote quotes a source name for a command line the user can paste.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "'" + strings.ReplaceAll(Clean(s), "'", `'\''`) + "'"
		}
	}
	return s
}

type sourceRow struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	KeyHint  string     `json:"key_hint"`
	Created  time.Time  `json:"created_at"`
	Rotated  *time.Time `json:"rotated_at,omitempty"`
	Revoked  *time.Time `json:"revoked_at,omitempty"`
	Events   int64      `json:"events"`
	Rejected int64      `json:"rejected"`
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
		r := sourceRow{ID: s.ID, Name: s.Name, Kind: s.Kind, KeyHint: s.KeyHint + "…", Created: s.CreatedAt, Events: counts[s.ID][0], Rejected: counts[s.ID][1]}
		if !s.RotatedAt.IsZero() {
			r.Rotated = &s.RotatedAt
		}
		if s.Revoked() {
			r.Revoked = &s.RevokedAt
		}
		out = append(out, r)
	}
	return printRows(env, asJSON, out, "NAME\tKIND\tKEY\tCREATED\tEVENTS\tREJECTED", func(w io.Writer, r sourceRow) {
		key := Clean(r.KeyHint)
		if r.Revoked != nil {
			key = "revoked " + r.Revoked.Format("2006-01-02")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", Clean(r.Name), Clean(r.Kind), key, r.Created.Format("2006-01-02 15:04"), r.Events, r.Rejected)
	})
}

package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/omniroi/omniroi/internal/api"
)

func init() {
	c := &Command{
		Name:    "token",
		Summary: "add, list and revoke API tokens (/api/v1): read-only, or --write to also change things",
		Usage:   "omniroi token add NAME [--write] [--json]\n       omniroi token list [--json]\n       omniroi token revoke NAME",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		write := fs.Bool("write", false, "add: the token may also apply, enable and disable journeys (POST), not only read")
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "list": {0}, "revoke": {1}})
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "add":
			scope := api.ScopeRead
			if *write {
				scope = api.ScopeWrite
			}
			t, secret, err := api.CreateScopedToken(ctx, db, pos[0], scope)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": t.ID, "name": t.Name, "token": secret, "scope": t.Scope, "created_at": t.CreatedAt})
			}
			fmt.Fprintf(env.Stdout, "API token %q (%s) created.\ntoken (shown once, keep it): %s\nuse it as: Authorization: Bearer %s\n", t.Name, t.Scope, secret, secret)
			return nil
		case "list":
			ts, err := api.ListTokens(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, ts, "NAME\tTOKEN\tSCOPE\tCREATED", func(w io.Writer, t api.Token) {
				fmt.Fprintf(w, "%s\t%s…\t%s\t%s\n", Clean(t.Name), Clean(t.Hint), Clean(t.Scope), t.CreatedAt.Format(time.DateTime))
			})
		default:
			if err := api.RevokeToken(ctx, db, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "API token %q revoked\n", pos[0])
			return nil
		}
	}
	Register(c)
}

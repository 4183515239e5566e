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
		Summary: "add, list and revoke read API tokens (/api/v1)",
		Usage:   "omniroi token add NAME [--json]\n       omniroi token list [--json]\n       omniroi token revoke NAME",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
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
			t, secret, err := api.CreateToken(ctx, db, pos[0])
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": t.ID, "name": t.Name, "token": secret, "created_at": t.CreatedAt})
			}
			fmt.Fprintf(env.Stdout, "API token %q created.\ntoken (shown once, keep it): %s\nuse it as: Authorization: Bearer %s\n", t.Name, secret, secret)
			return nil
		case "list":
			ts, err := api.ListTokens(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, ts, "NAME\tTOKEN\tCREATED", func(w io.Writer, t api.Token) {
				fmt.Fprintf(w, "%s\t%s…\t%s\n", t.Name, t.Hint, t.CreatedAt.Format(time.DateTime))
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

package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
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
		if len(args) == 0 {
			return ErrUsage
		}
		sub, args := args[0], args[1:]
		fs := FlagSet(c, env)
		var sf StoreFlags
		sf.Register(fs)
		pos, err := idParseArgs(fs, args)
		if err != nil {
			return err
		}
		want := map[string]int{"add": 1, "list": 0, "revoke": 1}
		if n, ok := want[sub]; !ok || len(pos) != n {
			return ErrUsage
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
			if sf.JSON {
				if ts == nil {
					ts = []api.Token{}
				}
				return PrintJSON(env.Stdout, ts)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTOKEN\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s…\t%s\n", t.Name, t.Hint, t.CreatedAt.Format(time.DateTime))
			}
			return tw.Flush()
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

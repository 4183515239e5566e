package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/omniroi/omniroi/internal/api"
	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
)

func init() {
	c := &Command{
		Name:    "token",
		Summary: "add, list and revoke API tokens (/api/v1); a token acts with a role, as a dashboard user does",
		Usage: "omniroi token add NAME [--role ROLE | --write] [--json]\n       omniroi token list [--json]\n       omniroi token revoke NAME\n\n" +
			"ROLE is owner, admin, marketer, analyst (the default: reads everything), viewer\n(reads reports, no personal data) or staff (the clienteling routes only: one customer\nat a time). --write is --role marketer: it may also apply, enable and disable journeys. Only an owner token reads /api/v1/audit.",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		ctx = audit.WithActor(ctx, audit.ActorCLI)
		fs, sf := storeFlagSet(c, env)
		write := fs.Bool("write", false, "add: same as --role marketer (may also apply, enable and disable journeys)")
		roleName := fs.String("role", "", "add: the token's role: owner, admin, marketer, analyst (default), viewer or staff")
		sub, pos, err := parseSub(fs, args, map[string][]int{"add": {1}, "list": {0}, "revoke": {1}})
		if err != nil {
			return err
		}
		role := api.DefaultRole
		if sub == "add" {
			switch {
			case *write && *roleName != "":
				if r, err := auth.ParseRole(*roleName); err != nil || r != api.WriteRole {
					return fmt.Errorf("--write means --role %s; give one or the other", api.WriteRole)
				}
				role = api.WriteRole
			case *write:
				role = api.WriteRole
			case *roleName != "":
				if role, err = auth.ParseRole(*roleName); err != nil {
					return err
				}
			}
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "add":
			t, secret, err := api.CreateRoleToken(ctx, db, pos[0], role)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]any{"id": t.ID, "name": t.Name, "token": secret, "role": t.Role, "scope": t.Scope, "created_at": t.CreatedAt})
			}
			fmt.Fprintf(env.Stdout, "API token %q (role %s) created.\ntoken (shown once, keep it): %s\nuse it as: Authorization: Bearer %s\n", t.Name, t.Role, secret, secret)
			return nil
		case "list":
			ts, err := api.ListTokens(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, ts, "NAME\tTOKEN\tROLE\tCREATED", func(w io.Writer, t api.Token) {
				fmt.Fprintf(w, "%s\t%s…\t%s\t%s\n", Clean(t.Name), Clean(t.Hint), Clean(string(t.Role)), t.CreatedAt.Format(time.DateTime))
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

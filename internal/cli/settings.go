package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/workspace"
)

func init() {
	c := &Command{
		Name:    "settings",
		Summary: "show and change the business settings (currency, time zone, shop URL, limits)",
		Usage: "omniroi settings list [--json]\n       omniroi settings get KEY [--json]\n       omniroi settings set KEY VALUE\n       omniroi settings reset KEY\n\n" +
			"list shows every key with its meaning and default; set checks the value first.",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		sub, pos, err := parseSub(fs, args, map[string][]int{"list": {0}, "get": {1}, "set": {2}, "reset": {1}})
		if err != nil {
			return err
		}
		if sub != "list" {
			if _, ok := workspace.Lookup(pos[0]); !ok {
				return fmt.Errorf("unknown setting %q (omniroi settings list shows them)", pos[0])
			}
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "list":
			vs, err := workspace.All(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, vs, "KEY\tVALUE\tDEFAULT\tMEANING", func(w io.Writer, v workspace.Value) {
				val := v.Value
				if !v.IsSet {
					val = "(default)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.Name, Clean(val), Clean(v.Default), v.Summary)
			})
		case "get":
			v, err := workspace.Get(ctx, db, pos[0])
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, map[string]string{"name": pos[0], "value": v})
			}
			fmt.Fprintln(env.Stdout, Clean(v))
			return nil
		case "set":
			v, err := workspace.Set(ctx, db, audit.ActorCLI, pos[0], pos[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s = %s\n", pos[0], Clean(v))
			return nil
		default:
			if err := workspace.Reset(ctx, db, audit.ActorCLI, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s reset to its default\n", pos[0])
			return nil
		}
	}
	Register(c)
}

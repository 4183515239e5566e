package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/omniroi/omniroi/internal/audit"
)

func init() {
	c := &Command{
		Name:    "audit",
		Summary: "show the audit log: who changed journeys, users, keys and settings, who exported or erased data",
		Usage: "omniroi audit [--action PREFIX] [--limit N] [--before ID] [--json]\n\n" +
			"Newest first. --action user shows user.invite, user.role, ...; --action user.role only that.\n" +
			"--before ID pages back: the entries older than entry ID.",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		action := fs.String("action", "", "only actions named PREFIX or starting with PREFIX. (user, journey, privacy, ...)")
		limit := fs.Int("limit", 50, "how many entries, 1 to 1000")
		before := fs.Int64("before", 0, "only entries older than this entry id (paging)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if *limit < 1 || *limit > 1000 {
			return fmt.Errorf("--limit %d: want 1 to 1000", *limit)
		}
		if *before < 0 {
			return fmt.Errorf("--before %d: want an entry id", *before)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		es, err := audit.List(ctx, db, audit.Filter{Action: *action, Limit: *limit, Before: *before})
		if err != nil {
			return err
		}
		return printRows(env, sf.JSON, es, "ID\tWHEN\tWHO\tWHAT\tTARGET\tDETAILS", func(w io.Writer, e audit.Entry) {
			detail := ""
			if len(e.Detail) > 0 {
				b, _ := json.Marshal(e.Detail)
				detail = string(b)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Local().Format("2006-01-02 15:04:05"), Clean(e.Actor), Clean(e.Action), Clean(e.Target), Clean(detail))
		})
	}
	Register(c)
}

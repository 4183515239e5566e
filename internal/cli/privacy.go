package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/workspace"
)

func init() {
	c := &Command{
		Name:    "privacy",
		Summary: "a person's rights: export or erase their data; retention; erased people and their suppression",
		Usage: "omniroi privacy export ID|EMAIL|PHONE [--user-id] [--out FILE]\n" +
			"       omniroi privacy erase ID|EMAIL|PHONE [--user-id] [--reason TEXT] [--json]\n" +
			"       omniroi privacy retention [--run] [--json]\n" +
			"       omniroi privacy erasures [--json]\n" +
			"       omniroi privacy unsuppress ERASURE_ID [--reason TEXT]\n" +
			"       omniroi privacy compact\n\n" +
			"export prints everything held about the person as one JSON document (GDPR Art. 15 and 20).\n" +
			"erase deletes it, takes the bytes out of the database file and keeps the person's\n" +
			"later events out until they come back with consent (docs/privacy.md). Both are\n" +
			"recorded in the audit log without personal data. ID is a customer id; --user-id reads\n" +
			"the argument as a userId (for numeric userIds).",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		reason := fs.String("reason", "", "erase, unsuppress: why (recorded in the audit log, with the person's identifiers cut out)")
		out := fs.String("out", "", "export: write the document to FILE (created 0600) instead of standard output")
		run := fs.Bool("run", false, "retention: apply the retention settings now")
		asUser := fs.Bool("user-id", false, "export, erase: the argument is a userId")
		sub, pos, err := parseSub(fs, args, map[string][]int{"export": {1}, "erase": {1}, "retention": {0}, "erasures": {0}, "unsuppress": {1}, "compact": {0}})
		if err != nil {
			return err
		}
		q := privacy.Query{}
		if len(pos) == 1 && (sub == "export" || sub == "erase") {
			if *asUser {
				q.UserID = pos[0]
			} else if id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64); err == nil && id > 0 {
				q.ID = id
			} else {
				q.Text = pos[0]
			}
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "export":
			d, err := privacy.Export(ctx, db, q, audit.ActorCLI)
			if err != nil {
				return err
			}
			if *out == "" {
				return PrintJSON(env.Stdout, d)
			}
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			if err := PrintJSON(f, d); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "exported customer %d: %d events, %d orders, %d messages, %d journey runs into %s\n",
				d.CustomerID, len(d.Events), ordersOf(d), len(d.Messages), len(d.JourneyRuns), Clean(*out))
			return nil
		case "erase":
			rep, err := privacy.Erase(ctx, db, q, privacy.EraseOptions{Actor: audit.ActorCLI, Reason: *reason})
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, rep)
			}
			who := fmt.Sprintf("customer %d", rep.CustomerID)
			if rep.CustomerID == 0 {
				who = "the identifier (no customer matched)"
			}
			fmt.Fprintf(env.Stdout, "erased %s (erasure %d, digest %s) in %.1fs\n", who, rep.ErasureID, rep.Digest, rep.Seconds)
			printCounts(env.Stdout, "deleted", rep.Deleted)
			printCounts(env.Stdout, "redacted", rep.Redacted)
			fmt.Fprintf(env.Stdout, "  message copies deleted: %d\n  identifiers suppressed: %d (their later events are dropped)\n  %s\n",
				rep.Files, rep.Suppressed, rep.Compaction)
			if rep.SharedKept > 0 {
				fmt.Fprintf(env.Stdout, "  %d shared identifiers kept: several people use them (a till, a family email)\n", rep.SharedKept)
			}
			return nil
		case "retention":
			if !*run {
				vs, err := workspace.All(ctx, db)
				if err != nil {
					return err
				}
				for _, v := range vs {
					if strings.HasPrefix(v.Name, "privacy.retention.") {
						fmt.Fprintf(env.Stdout, "%-28s %-6s %s\n", v.Name, v.Value, v.Summary)
					}
				}
				fmt.Fprintln(env.Stdout, "omniroi serve applies these daily; --run applies them now.")
				return nil
			}
			rep, err := privacy.RunRetention(ctx, db, time.Now())
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, rep)
			}
			fmt.Fprintf(env.Stdout, "events minimised: %d\nrejected payloads deleted: %d\nmessage copies deleted: %d\nsend error texts cleared: %d\nfinished runs' properties cleared: %d\n",
				rep.EventsMinimised, rep.RejectedDeleted, rep.FilesDeleted, rep.ReasonsCleared, rep.PropsCleared)
			return nil
		case "erasures":
			es, err := privacy.Erasures(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, es, "ERASURE\tAT\tCUSTOMER\tSUPPRESSED IDS\tDROPPED EVENTS\tLIFTED", func(w io.Writer, e privacy.Erasure) {
				lifted := "-"
				if e.LiftedAt != nil {
					lifted = e.LiftedAt.Format(time.DateTime)
				}
				fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t%s\n", e.ID, e.At.Format(time.DateTime), e.CustomerID, e.Suppressed, e.DroppedEvents, lifted)
			})
		case "unsuppress":
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil {
				return fmt.Errorf("erasure id %q: %w", Clean(pos[0]), ErrUsage)
			}
			if err := privacy.Unsuppress(ctx, db, id, audit.ActorCLI, *reason); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "erasure %d: suppression lifted; new events for the person are stored again\n", id)
			return nil
		default:
			s, err := privacy.Compact(ctx, db)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, s)
			return nil
		}
	}
	Register(c)
}

func ordersOf(d *privacy.Document) int {
	if d.Profile == nil {
		return 0
	}
	return len(d.Profile.Orders)
}

func printCounts(w io.Writer, what string, m map[string]int64) {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	fmt.Fprintf(w, "  %s: %s\n", what, strings.Join(parts, ", "))
}

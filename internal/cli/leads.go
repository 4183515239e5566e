package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/recommend"
)

func init() {
	c := &Command{
		Name:    "leads",
		Summary: "people who have not bought yet, by the probability that they will (lead score), with the reasons",
		Usage: `omniroi leads [--limit 50] [--window 30] [--horizon 30] [--json]

The score is a regularised logistic regression of behaviour in the last --window days
(pages, product views, cart adds, email opens and clicks, active days, recency, sign-up)
on whether a first order followed within --horizon days, fitted on an earlier cut-off,
checked on a later one against a recency-frequency baseline (AUC, Brier score,
reliability table, printed below the list) and calibrated on it. docs/recommend.md.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		limit := fs.Int("limit", 50, "how many leads")
		window := fs.Int("window", 30, "days of behaviour before a cut-off")
		horizon := fs.Int("horizon", 30, "days after a cut-off in which a first order counts")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		rep, err := recommend.ScoreLeads(ctx, db, recommend.LeadOptions{Window: time.Duration(*window) * 24 * time.Hour,
			Horizon: time.Duration(*horizon) * 24 * time.Hour}, *limit)
		if err != nil {
			return err
		}
		if rep.Leads == nil {
			rep.Leads = []recommend.Lead{}
		}
		if sf.JSON {
			return PrintJSON(env.Stdout, rep)
		}
		if err := printRows(env, false, rep.Leads, "CUSTOMER\tNAME\tEMAIL\tSCORE\tLAST ACTIVE\tWHY", func(w io.Writer, l recommend.Lead) {
			fmt.Fprintf(w, "%d\t%s\t%s\t%.1f%%\t%s\t%s\n", l.CustomerID, Clean(l.Name), Clean(l.Email), 100*l.Score, l.LastActive, Clean(strings.Join(l.Reasons, "; ")))
		}); err != nil {
			return err
		}
		v := rep.Validation
		w := env.Stdout
		fmt.Fprintf(w, "\nValidation (time split): fitted on %d people active before %s (%d bought within %d days), tested on %d people before %s (%d bought).\n",
			v.TrainPeople, v.TrainCutoff, v.TrainConverted, *horizon, v.TestPeople, v.TestCutoff, v.TestConverted)
		fmt.Fprintf(w, "AUC %.3f (recency-frequency baseline %.3f); Brier score %.4f (baseline %.4f).\n", v.AUC, v.BaselineAUC, v.Brier, v.BaselineBrier)
		fmt.Fprintf(w, "Reliability on the test cut-off (before calibration):\n")
		for _, r := range v.Reliability {
			fmt.Fprintf(w, "  predicted %-8s %6d people: mean predicted %5.1f%%, bought %5.1f%%\n", r.Bin, r.People, 100*r.Predicted, 100*r.Observed)
		}
		return nil
	}
	Register(c)
}

package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/demo/demojourney"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// runDemoJourneys runs the built-in journeys over the demo's last days into an outbox in
// the data directory. The outbox stays up (the caller closes it) so that, when the demo
// goes on to serve, the live engine delivers into it too.
func runDemoJourneys(ctx context.Context, db *store.DB, rep *demo.LoadReport, dataDir, baseURL string, days int, seed int64) (*demojourney.Report, *demojourney.Outbox, error) {
	box := &demojourney.Outbox{Dir: filepath.Join(dataDir, demojourney.OutboxDir)}
	if err := box.Start(); err != nil {
		return nil, nil, err
	}
	jr, err := demojourney.Run(ctx, db, demojourney.Options{Dir: dataDir, End: rep.Summary.End, Days: days, BaseURL: baseURL, Seed: seed, Outbox: box})
	if err != nil {
		box.Close()
		return nil, nil, fmt.Errorf("demo journeys: %w", err)
	}
	if rep.GroundTruthPath != "" {
		if err := demojourney.WriteTruth(rep.GroundTruthPath, jr); err != nil {
			box.Close()
			return nil, nil, fmt.Errorf("demo journeys: %w", err)
		}
	}
	return jr, box, nil
}

// demoOutboxSenders points the email, SMS and push senders of cfg at the demo's outbox.
func demoOutboxSenders(cfg journey.SenderConfig, box *demojourney.Outbox) journey.SenderConfig {
	cfg.SMTPURL = "smtp://" + box.SMTPAddr + "?from=hello@crumbandco.example&tls=none"
	cfg.SMSURL = box.HTTPURL + "/sms"
	cfg.PushURL = box.HTTPURL + "/push"
	return cfg
}

func printDemoJourneys(w io.Writer, jr *demojourney.Report) {
	eur := func(minor float64) string { return "EUR " + money.Format(int64(minor), "EUR") }
	fmt.Fprintf(w, "  journeys      4 built-in journeys run over %s to %s on a simulated clock (%s, %d events, %.1fs)\n",
		jr.FromDay, jr.ToDay, "15-minute steps", jr.Replay.Events, jr.WallSecond)
	fmt.Fprintf(w, "                %d emails over SMTP, %d SMS and %d push via webhook, into %s\n",
		jr.Delivered["email"], jr.Delivered["sms"], jr.Delivered["push"], jr.Outbox)
	fmt.Fprintf(w, "                consent from the subscriber lists: email %d, SMS %d, push %d customers\n", jr.Consent["email"], jr.Consent["sms"], jr.Consent["push"])
	c := jr.Confirm
	fmt.Fprintf(w, "                web sign-ups are unverified (the web key is public): %d confirmation emails and %d SMS, %d confirmed, %d held by the new-recipient limits; %d journey messages waited\n",
		c.Delivered["email"], c.Delivered["sms"], c.Confirmed, c.Held, c.Waiting)
	fmt.Fprintf(w, "    %-15s %8s %8s %7s  %-14s %s\n", "journey", "treated", "holdout", "sends", "true gain", "measured gain (95% CI; runs that reached a message)")
	for _, j := range jr.Journeys {
		m := j.Measured
		measured := fmt.Sprintf("%s [%s, %s]", eur(m.Incremental), eur(m.IncrementalCI[0]), eur(m.IncrementalCI[1]))
		if m.TooFewRuns {
			measured = fmt.Sprintf("%s, no interval: holdout %d of the ~%d runs it needs", eur(m.Incremental), m.Holdout.Runs, max(m.Holdout.MinRuns, m.Holdout.Runs))
			if m.Holdout.Runs >= m.Holdout.MinRuns {
				measured = fmt.Sprintf("%s, no interval: treated %d of the ~%d runs it needs", eur(m.Incremental), m.Treated.Runs, m.Treated.MinRuns)
			}
		}
		fmt.Fprintf(w, "    %-15s %8d %8d %7d  %-14s %s\n", j.Name, m.Treated.Runs, m.Holdout.Runs, m.Sends, eur(float64(j.Truth.RevenueMinor)), measured)
	}
}

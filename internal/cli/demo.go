package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/demo/demojourney"
	"github.com/omniroi/omniroi/internal/money"
)

func init() {
	c := &Command{
		Name:    "demo",
		Summary: "load a realistic 12-month demo business (Crumb & Co., a bakery-café) with ground truth, then serve it",
		Usage: `omniroi demo [--seed 1] [--customers 20000] [--end YYYY-MM-DD] [--journey-days 28] [--data DIR | --db DSN]
       [--reset] [--no-serve] [--addr 127.0.0.1:8080] [--json]

Generates the history (deterministic by --seed), posts every event through the
collection API (/v1/batch), imports the ad spend through the spend importer, runs the
event processor and writes ground_truth.json into the data directory. Then it applies the
four built-in journeys and runs them over the last --journey-days on a simulated clock:
email through a real SMTP server and SMS and push through a webhook, all into DATA/outbox,
simulated customers who open, click, unsubscribe and buy, and the holdout measurement
beside the true effect (also in ground_truth.json). Three experiments with known effects
(a checkout web test, a Paid Social switchback and a subject-line test in a journey) are
stored and their reports printed beside the truth (docs/demo.md). The store must be
empty; --reset deletes the SQLite database in --data first. docs/demo.md explains the
business, its channels and how the ground truth is computed.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(c, env)
		var sf StoreFlags
		sf.Register(fs)
		var envErr error
		envInt := func(name string, def int64) int64 {
			v, err := envInt(name, def)
			envErr = errors.Join(envErr, err)
			return v
		}
		seed := fs.Int64("seed", envInt("seed", 1), "world seed: the same seed gives byte-identical events (env "+EnvName("seed")+")")
		people := fs.Int("customers", int(envInt("customers", demo.DefaultCustomers)), "people to simulate (buyers and visitors); about 50 events each (env "+EnvName("customers")+")")
		endFlag := StringFlag(fs, "end", "", "exclusive end date of the 12 months (default: the first day of the current month, UTC)")
		addr := StringFlag(fs, "addr", "127.0.0.1:8080", "address to serve on after loading")
		noServe := fs.Bool("no-serve", envOr(EnvName("no-serve"), "") == "true", "load and exit instead of serving (env "+EnvName("no-serve")+"=true)")
		reset := fs.Bool("reset", false, "delete the SQLite database (and demo files) in --data before loading")
		senders := fs.Int("senders", int(envInt("senders", 4)), "concurrent HTTP senders (env "+EnvName("senders")+")")
		jdays := fs.Int("journey-days", int(envInt("journey-days", 28)), "run the four built-in journeys over this many final days of the history, messages into DATA/outbox; 0: none (env "+EnvName("journey-days")+")")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if envErr != nil {
			return envErr
		}
		if fs.NArg() > 0 || *people <= 0 {
			return ErrUsage
		}
		end := demo.DefaultEnd(time.Now())
		if *endFlag != "" {
			t, err := time.Parse("2006-01-02", *endFlag)
			if err != nil {
				return fmt.Errorf("--end %q: want YYYY-MM-DD: %w", *endFlag, err)
			}
			end = t
		}
		if !*noServe {
			// Serving comes after minutes of loading: a busy address is said now, not then.
			ln, err := net.Listen("tcp", *addr)
			if err != nil {
				return fmt.Errorf("--addr %s cannot be served (%v): stop what listens there, pass another --addr (e.g. 127.0.0.1:8081), or --no-serve", *addr, err)
			}
			ln.Close()
		}
		if *reset {
			if err := resetDemo(sf); err != nil {
				return err
			}
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := demo.CheckEmpty(ctx, db); err != nil {
			if errors.Is(err, demo.ErrNotEmpty) {
				where := "--data " + sf.Data
				if sf.DB != "" {
					return fmt.Errorf("the PostgreSQL database is not empty (%v); the demo loads into an empty store only: point --db at a fresh database", err)
				}
				return fmt.Errorf("%s: %v; the demo loads into an empty store only: use another --data directory, or add --reset to delete %s first",
					where, err, filepath.Join(sf.Data, "omniroi.db"))
			}
			return err
		}
		if !sf.JSON {
			fmt.Fprintf(env.Stderr, "Building Crumb & Co. (seed %d, %d people, 12 months to %s)...\n", *seed, *people, end.Format("2006-01-02"))
		}
		rep, err := demo.Load(ctx, db, demo.LoadOptions{
			Config:  demo.Config{Seed: *seed, Customers: *people, End: end},
			Dir:     sf.Data,
			Senders: *senders,
		})
		if err != nil {
			return err
		}
		url := "http://" + *addr
		var jr *demojourney.Report
		var box *demojourney.Outbox
		if *jdays > 0 {
			if !sf.JSON {
				fmt.Fprintf(env.Stderr, "Running the built-in journeys over the last %d days...\n", *jdays)
			}
			jr, box, err = runDemoJourneys(ctx, db, rep, sf.Data, url, *jdays, *seed)
			if err != nil {
				return err
			}
			defer box.Close()
		}
		exps, err := demoExperiments(ctx, db, rep, jr)
		if err != nil {
			return err
		}
		notes, err := wireDemo(ctx, db)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if sf.JSON {
			out := struct {
				*demo.LoadReport
				Journeys    *demojourney.Report `json:"journeys,omitempty"`
				Experiments []demo.Recovered    `json:"experiments"`
				URL         string              `json:"url,omitempty"`
				DataDir     string              `json:"data_dir"`
				Notes       []string            `json:"notes,omitempty"`
			}{rep, jr, exps, url, sf.Data, notes}
			if *noServe {
				out.URL = ""
			}
			if err := PrintJSON(env.Stdout, out); err != nil {
				return err
			}
		} else {
			printDemo(env, rep, sf, notes)
			if jr != nil {
				printDemoJourneys(env.Stdout, jr)
			}
			printDemoExperiments(env.Stdout, exps)
		}
		if *noServe {
			return nil
		}
		db.Close()
		if !sf.JSON {
			fmt.Fprintf(env.Stdout, "\nServing on %s (Ctrl-C to stop)\n", url)
		}
		cfg := serveConfigFromEnv(url, env.Log)
		if box != nil {
			cfg.Senders = demoOutboxSenders(cfg.Senders, box) // the live engine delivers into the same outbox
		}
		return serveStore(ctx, env, &sf, *addr, "", cfg)
	}
	Register(c)
}

// resetDemo deletes the SQLite database and the demo's files in the data directory,
// and nothing else there.
func resetDemo(sf StoreFlags) error {
	if sf.DB != "" {
		return errors.New("--reset only deletes a --data directory's SQLite database; empty the PostgreSQL database yourself")
	}
	for _, name := range append([]string{"omniroi.db", "omniroi.db-wal", "omniroi.db-shm"}, demo.Files...) {
		if err := os.Remove(filepath.Join(sf.Data, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if err := os.RemoveAll(filepath.Join(sf.Data, demojourney.OutboxDir)); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}

func printDemo(env *Env, rep *demo.LoadReport, sf StoreFlags, notes []string) {
	w := env.Stdout
	s := rep.Summary
	eur := func(minor int64) string { return "EUR " + money.Format(minor, "EUR") }
	fmt.Fprintf(w, "Crumb & Co. demo loaded: seed %d, %s people, %s to %s\n", s.Seed, money.Count(int64(s.Customers)),
		s.Start.Format("2006-01-02"), s.End.AddDate(0, 0, -1).Format("2006-01-02"))
	var srcs []string
	for _, name := range demo.Sources {
		srcs = append(srcs, fmt.Sprintf("%s %s", name, money.Count(s.BySource[name])))
	}
	fmt.Fprintf(w, "  events        %s posted to /v1/batch in %s batches (%s)\n", money.Count(rep.EventsAccepted), money.Count(rep.Batches), strings.Join(srcs, ", "))
	fmt.Fprintf(w, "  orders        %s, %s net revenue\n", money.Count(s.Orders), eur(s.Revenue))
	fmt.Fprintf(w, "  spend         %s in %s rows (%s)\n", eur(rep.SpendMinor), money.Count(int64(rep.SpendRows)), strings.Join(rep.SpendPaths, ", "))
	fmt.Fprintf(w, "  processed     %s customers, %s orders, %s refunds\n", money.Count(rep.Stats.Customers), money.Count(rep.Stats.Orders), money.Count(rep.Stats.Refunds))
	fmt.Fprintf(w, "  ground truth  %s\n", rep.GroundTruthPath)
	gt := rep.GroundTruth
	var chans []string
	for k := range gt.Channels {
		chans = append(chans, k)
	}
	sort.Strings(chans)
	for _, k := range chans {
		e := gt.Channels[k]
		roas := "no spend"
		if e.TrueROAS != nil {
			roas = "true ROAS " + strconv.FormatFloat(*e.TrueROAS, 'f', 2, 64)
		}
		fmt.Fprintf(w, "    %-15s +%s orders, +%s (%s)\n", k, money.Count(e.IncrementalConversions), eur(e.IncrementalRevenueMinor), roas)
	}
	var ph []string
	for _, p := range rep.Phases {
		ph = append(ph, fmt.Sprintf("%s %.1fs", p.Name, p.Seconds))
	}
	fmt.Fprintf(w, "  phases        %s\n", strings.Join(ph, ", "))
	fmt.Fprintf(w, "  data          %s\n", sf.Data)
	fmt.Fprintln(w, "  write keys (shown once; send more events with them):")
	for _, name := range demo.Sources {
		fmt.Fprintf(w, "    %-11s %s\n", name, rep.WriteKeys[name])
	}
	for _, n := range notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// envInt is a numeric flag's default from its OMNIROI_* variable.
func envInt(flagName string, def int64) (int64, error) {
	v, ok := os.LookupEnv(EnvName(flagName))
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def, fmt.Errorf("%s=%q is not a whole number", EnvName(flagName), v)
	}
	return n, nil
}

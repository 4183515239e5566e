package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/workspace"
)

// valueFlags are the input and output flags shared by clv, segments, cohorts and economics.
type valueFlags struct {
	sf           StoreFlags
	transactions string
	cdnow        string
	format       string
	lookback     time.Duration
}

func (v *valueFlags) register(fs *flag.FlagSet, fileInput bool) {
	v.sf.Register(fs)
	if fileInput {
		fs.StringVar(&v.transactions, "transactions", "", "read transactions from this CSV (customer_id,date,amount; - is stdin) instead of the store")
		fs.StringVar(&v.cdnow, "cdnow", "", "the --transactions file is a raw CDNOW file: master or sample")
	}
	fs.StringVar(&v.format, "format", "table", "output: table, csv or json (--json is --format json)")
	fs.DurationVar(&v.lookback, "lookback", value.DefaultLookback, "store: a touchpoint this long before the first order is the acquisition channel")
}

func (v *valueFlags) outFormat() string {
	if v.sf.JSON {
		return value.FormatJSON
	}
	return v.format
}

// load returns the transactions of --transactions (nil when the store is used), or
// opens the store and returns the db too.
func (v *valueFlags) load(ctx context.Context, stdin io.Reader) (txs []Transaction, fromStore *storeInput, err error) {
	if v.cdnow != "" && v.transactions == "" {
		return nil, nil, fmt.Errorf("--cdnow needs --transactions: %w", ErrUsage)
	}
	if v.transactions != "" {
		if v.cdnow == "" {
			txs, err := value.LoadTransactionsFile(v.transactions)
			return txs, nil, err
		}
		var r io.Reader = stdin
		if v.transactions != "-" {
			f, err := os.Open(v.transactions)
			if err != nil {
				return nil, nil, fmt.Errorf("open transactions: %w", err)
			}
			defer f.Close()
			r = f
		}
		txs, err := value.ReadCDNOW(r, v.cdnow)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", v.transactions, err)
		}
		return txs, nil, nil
	}
	db, err := v.sf.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The store's snapshot, as the API and the dashboard build it (value.Service).
	svc := value.NewService(db)
	svc.Lookback = v.lookback
	sn, err := svc.Snapshot(ctx)
	if errors.Is(err, value.ErrNoOrders) {
		cur, _ := workspace.Currency(ctx, db)
		db.Close()
		return nil, nil, fmt.Errorf("no orders in %s in the store (send Order Completed events or import orders first)", cur)
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return sn.Data.Transactions, &storeInput{db: db, data: sn.Data, snap: sn}, nil
}

// Transaction is value.Transaction; the alias keeps signatures short.
type Transaction = value.Transaction

type storeInput struct {
	db   *store.DB
	data value.StoreData
	snap *value.Snapshot
}

// fitted is the store's snapshot, nil without the store.
func (s *storeInput) fitted() *value.Snapshot {
	if s == nil {
		return nil
	}
	return s.snap
}

// currency is the store's business currency, which money prints in; "" (two decimals,
// as a transactions file's amounts are read) without the store.
func (s *storeInput) currency() string {
	if s == nil {
		return ""
	}
	return s.data.Currency
}

func (s *storeInput) close() {
	if s != nil {
		s.db.Close()
	}
}

// dateFlag parses an optional YYYY-MM-DD flag value.
func dateFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want YYYY-MM-DD: %w", name, s, ErrUsage)
	}
	return t, nil
}

func init() {
	clv := &Command{
		Name:    "clv",
		Summary: "customer lifetime value, P(alive) and churn bands (--holdout: check the model; --by-channel: unit economics)",
		Usage: `omniroi clv [--transactions FILE [--cdnow master|sample]] [--calibration-end DATE] [--time-unit day|week]
       [--horizon 12] [--discount 0.01] [--limit N] [--skip-pareto] [--format table|csv|json] [--data DIR | --db DSN]
   omniroi clv --holdout [--calibration-end DATE] [--end DATE] [...]
   omniroi clv --by-channel [economics flags]

Without --transactions it reads the store's orders net of refunds (docs/value.md).
--holdout fits on the purchases up to --calibration-end (default: the middle of the
history) and compares predicted with actual repeat purchases in the rest.`,
	}
	clv.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(clv, env)
		var vf valueFlags
		vf.register(fs, true)
		calEnd := fs.String("calibration-end", "", "calibration end YYYY-MM-DD (default: the last transaction day; with --holdout the middle day)")
		unit := fs.String("time-unit", "week", "time unit of the models: day or week")
		horizon := fs.Int("horizon", 12, "CLV horizon in months")
		discount := fs.Float64("discount", 0.01, "monthly discount rate")
		limit := fs.Int("limit", 0, "list the top N customers by CLV (0: all)")
		skipPareto := fs.Bool("skip-pareto", false, "leave out Pareto/NBD (slow on very large data)")
		holdout := fs.Bool("holdout", false, "calibration/holdout check instead of predictions")
		end := fs.String("end", "", "--holdout: last holdout day (default: the last transaction day)")
		byChannel := fs.Bool("by-channel", false, "unit economics per acquisition channel (like omniroi economics)")
		from := fs.String("from", "", "--by-channel: first day of the acquisition period")
		to := fs.String("to", "", "--by-channel: last day of the acquisition period")
		margin := fs.Float64("margin", 1, "--by-channel: gross margin applied to revenue")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return ErrUsage
		}
		if *byChannel {
			return runEconomics(ctx, env, &vf, *calEnd, *from, *to, *unit, *margin)
		}
		cal, err := dateFlag("calibration-end", *calEnd)
		if err != nil {
			return err
		}
		endT, err := dateFlag("end", *end)
		if err != nil {
			return err
		}
		txs, st, err := vf.load(ctx, env.Stdin)
		if err != nil {
			return err
		}
		defer st.close()
		if *holdout {
			return value.RunHoldout(ctx, value.HoldoutOptions{Transactions: txs, Format: vf.outFormat(), CalibrationEnd: cal, End: endT,
				TimeUnit: *unit, SkipPareto: *skipPareto}, env.Stdout)
		}
		return value.RunCLV(ctx, value.CLVOptions{Transactions: txs, Format: vf.outFormat(), CalibrationEnd: cal, TimeUnit: *unit,
			Horizon: *horizon, Discount: *discount, NoDiscount: *discount == 0, Limit: *limit, SkipPareto: *skipPareto, Currency: st.currency(), Fitted: st.fitted()}, env.Stdout)
	}
	Register(clv)

	seg := &Command{
		Name:    "segments",
		Summary: "RFM segments: sizes, revenue share, movement since a previous date, small-segment warnings, churn bands",
		Usage: `omniroi segments [--transactions FILE [--cdnow master|sample]] [--as-of DATE] [--previous DATE]
       [--rules FILE.json] [--limit N] [--churn=false] [--time-unit day|week] [--format table|csv|json] [--data DIR | --db DSN]
       omniroi segments --record [--as-of DATE] [--data DIR | --db DSN]

--record writes the segment feed that segment-entry journeys (win-back) read: every
customer whose RFM segment changed, or whose P(alive) crossed a journey's threshold,
since the last record. A customer's first record is a baseline that starts no journey.
omniroi serve records it by itself every hour when the day or the orders changed.`,
	}
	seg.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(seg, env)
		var vf valueFlags
		vf.register(fs, true)
		asOf := fs.String("as-of", "", "score at this day YYYY-MM-DD (default: the last transaction day)")
		prev := fs.String("previous", "", "compare with this day (default: 90 days before --as-of)")
		rulesFile := fs.String("rules", "", "segment rules as JSON (docs/value.md)")
		limit := fs.Int("limit", 0, "customers listed in csv/json (0: all)")
		churn := fs.Bool("churn", true, "add churn bands (fits BG/NBD, Pareto/NBD and Gamma-Gamma)")
		unit := fs.String("time-unit", "week", "time unit of the churn models: day or week")
		skipPareto := fs.Bool("skip-pareto", false, "churn bands from BG/NBD only (it says P(alive) = 1 for every one-time buyer)")
		record := fs.Bool("record", false, "write the segment feed journeys read, at --as-of (default: now), and print what moved")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return ErrUsage
		}
		a, err := dateFlag("as-of", *asOf)
		if err != nil {
			return err
		}
		if *record {
			return recordSegments(ctx, env, &vf, a)
		}
		p, err := dateFlag("previous", *prev)
		if err != nil {
			return err
		}
		var rules []value.SegmentRule
		if *rulesFile != "" {
			f, err := os.Open(*rulesFile)
			if err != nil {
				return fmt.Errorf("segment rules: %w", err)
			}
			rules, err = value.ReadSegmentRules(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", *rulesFile, err)
			}
		}
		txs, st, err := vf.load(ctx, env.Stdin)
		if err != nil {
			return err
		}
		defer st.close()
		return value.RunSegments(ctx, value.SegmentsOptions{Transactions: txs, Format: vf.outFormat(), AsOf: a, Previous: p, Rules: rules,
			Limit: *limit, Churn: *churn, TimeUnit: *unit, SkipPareto: *skipPareto, Currency: st.currency(), Fitted: st.fitted()}, env.Stdout)
	}
	Register(seg)

	coh := &Command{
		Name:    "cohorts",
		Summary: "monthly acquisition cohorts: retention and revenue by month since first purchase, repeat rate, split by acquisition channel",
		Usage: `omniroi cohorts [--transactions FILE [--cdnow master|sample] [--channels FILE]] [--as-of DATE]
       [--lookback 720h] [--format table|csv|json] [--data DIR | --db DSN]

On the store the split by acquisition channel is always given (first touch within
--lookback before the first order, else the order's own channel).`,
	}
	coh.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(coh, env)
		var vf valueFlags
		vf.register(fs, true)
		asOf := fs.String("as-of", "", "as-of day YYYY-MM-DD (default: the last transaction day)")
		chFile := fs.String("channels", "", "with --transactions: CSV customer_id,channel")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return ErrUsage
		}
		a, err := dateFlag("as-of", *asOf)
		if err != nil {
			return err
		}
		txs, st, err := vf.load(ctx, env.Stdin)
		if err != nil {
			return err
		}
		defer st.close()
		o := value.CohortsOptions{Transactions: txs, ChannelsFile: *chFile, Format: vf.outFormat(), AsOf: a, Currency: st.currency()}
		if st != nil {
			o.Channels = st.snap.Channels // the snapshot's, acquired within --lookback
		}
		return value.RunCohorts(ctx, o, env.Stdout)
	}
	Register(coh)

	eco := &Command{
		Name:    "economics",
		Summary: "unit economics per acquisition channel: CAC, realised and predicted 12-month value, LTV:CAC, payback",
		Usage: `omniroi economics [--from DATE] [--to DATE] [--as-of DATE] [--lookback 720h] [--margin 1]
       [--time-unit day|week] [--format table|csv|json] [--data DIR | --db DSN]

CAC = the channel's spend from --from to --to / the customers whose first order in
that period it acquired (default period: the whole history).`,
	}
	eco.Run = func(ctx context.Context, env *Env, args []string) error {
		fs := FlagSet(eco, env)
		var vf valueFlags
		vf.register(fs, false)
		asOf := fs.String("as-of", "", "as-of day YYYY-MM-DD (default: the last transaction day)")
		from := fs.String("from", "", "first day of the acquisition period (default: the first transaction day)")
		to := fs.String("to", "", "last day of the acquisition period (default: --as-of)")
		unit := fs.String("time-unit", "week", "time unit of the models: day or week")
		margin := fs.Float64("margin", 1, "gross margin applied to revenue")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return ErrUsage
		}
		return runEconomics(ctx, env, &vf, *asOf, *from, *to, *unit, *margin)
	}
	Register(eco)

}

func runEconomics(ctx context.Context, env *Env, vf *valueFlags, asOf, from, to, unitS string, margin float64) error {
	if vf.transactions != "" {
		return fmt.Errorf("unit economics need the store (spend and acquisition channels), not --transactions: %w", ErrUsage)
	}
	a, err := dateFlag("as-of", asOf)
	if err != nil {
		return err
	}
	f, err := dateFlag("from", from)
	if err != nil {
		return err
	}
	t, err := dateFlag("to", to)
	if err != nil {
		return err
	}
	unit, err := value.ParseUnit(unitS)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrUsage)
	}
	if margin <= 0 || margin > 1 {
		return fmt.Errorf("--margin %g: want 0 < margin <= 1: %w", margin, ErrUsage)
	}
	db, err := vf.sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	e, err := value.EconomicsFromStore(ctx, db, value.StoreEconomicsOptions{AsOf: a, From: f, To: t, Lookback: vf.lookback, Unit: unit, Margin: margin})
	if err != nil {
		return err
	}
	return value.WriteEconomics(env.Stdout, e, vf.outFormat())
}

// recordSegments is `omniroi segments --record`.
func recordSegments(ctx context.Context, env *Env, vf *valueFlags, asOf time.Time) error {
	if vf.transactions != "" {
		return fmt.Errorf("--record writes the store's segment feed; it cannot read --transactions: %w", ErrUsage)
	}
	db, err := vf.sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if asOf.IsZero() {
		asOf = time.Now()
	} else {
		y, m, d := asOf.Date() // the end of that day in the shop's time zone
		asOf = time.Date(y, m, d+1, 0, 0, 0, 0, value.StoreLocation(ctx, db)).Add(-time.Millisecond)
	}
	th, err := journey.SegmentThresholds(ctx, db)
	if err != nil {
		return err
	}
	res, err := value.RefreshSegments(ctx, db, asOf, value.FeedOptions{Thresholds: th})
	if err != nil {
		return err
	}
	if vf.outFormat() == value.FormatJSON {
		return PrintJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "segment feed at %s: %d customers scored, %d records written (%d first records, a baseline)\n",
		res.AsOf.Format("2006-01-02 15:04 MST"), res.Customers, res.Changes, res.Baseline)
	if !res.PAlive {
		fmt.Fprintln(env.Stdout, "P(alive) unknown: BG/NBD needs repeat purchases to fit")
	}
	names := make([]string, 0, len(res.Entered))
	for k := range res.Entered {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(env.Stdout, "  %-20s %d customers moved in\n", k, res.Entered[k])
	}
	return nil
}

package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/demo"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

func init() {
	c := &Command{
		Name:    "recommend",
		Summary: "product recommendations with their reasons; offline evaluation; pins and blocks; what each model uses",
		Usage: `omniroi recommend show CUSTOMER [--placement home|product|cart|email|clienteling] [--product ID]... [--location web] [--limit 4] [--json]
       omniroi recommend product ID [--limit 4] [--json]           (similar and bought together, for a product page)
       omniroi recommend evaluate [--transactions FILE] --split-date DAY [--k 10] [--format text|json]
                                  [--method ease|knn] [--exclude CODE,CODE]
       omniroi recommend pin|block PRODUCT [--placement P]    omniroi recommend unpin PRODUCT [--placement P]
       omniroi recommend rules [--json]                        (pins and blocks)
       omniroi recommend products [--json]                     (the catalogue, imported and seen in events)
       omniroi recommend attribution [--days 7] [--json]       (orders after a click on a recommendation)
       omniroi recommend models [--json]                       (what each model uses, and what it never uses)
       omniroi recommend next [CUSTOMER] [--limit 20] [--json]  (next best action, with its reason)

evaluate: FILE is a CSV of customer_id,product_id,timestamp[,quantity] (the UCI Online Retail
columns CustomerID, StockCode, InvoiceDate, Quantity are read too); without --transactions the
store's orders are used. Purchases before DAY train, those on or after it test. Methods and
figures: docs/recommend.md.`,
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		placement := fs.String("placement", "", "where the list appears")
		var products stringList
		fs.Var(&products, "product", "a product in context (repeatable)")
		location := fs.String("location", "", "location for stock and popularity (web, store, ...)")
		limit := fs.Int("limit", 4, "how many recommendations")
		txFile := fs.String("transactions", "", "CSV of customer_id,product_id,timestamp[,quantity]")
		split := fs.String("split-date", "", "first day of the test period, YYYY-MM-DD")
		k := fs.Int("k", 10, "cut-off of the ranking metrics")
		format := fs.String("format", "text", "text or json")
		method := fs.String("method", recommend.MethodEASE, "ease or knn")
		exclude := fs.String("exclude", "", "product ids to leave out (postage, fees), comma-separated")
		days := fs.Int("days", 7, "attribution window after a click")
		sub, pos, err := parseSub(fs, args, map[string][]int{"show": {1}, "product": {1}, "evaluate": {0}, "pin": {1}, "block": {1},
			"unpin": {1}, "rules": {0}, "products": {0}, "attribution": {0}, "models": {0}, "next": {0, 1}})
		if err != nil {
			return err
		}
		if sub == "models" {
			return printModels(env, sf.JSON)
		}
		if sub == "evaluate" {
			return runEvaluate(ctx, env, sf, *txFile, *split, *k, *format, *method, *exclude)
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		ctx = audit.WithActor(ctx, audit.ActorCLI)
		switch sub {
		case "show", "product":
			m, err := recommend.BuildFromStore(ctx, db)
			if err != nil {
				return err
			}
			req := recommend.Request{Placement: *placement, Products: products, Location: *location, N: *limit}
			if sub == "product" {
				req.Placement, req.Products = "product", []string{pos[0]}
			} else {
				cu, err := identity.FindCustomer(ctx, db, pos[0])
				if err != nil {
					return err
				}
				req.CustomerID = cu.ID
			}
			svc := recommend.NewService(db, env.Log)
			recs, err := svc.ForCustomerWith(ctx, m, req)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, recs, "PRODUCT\tTITLE\tPRICE\tLIST\tREASON", func(w io.Writer, r recommend.Recommendation) {
				fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\n", Clean(r.ProductID), Clean(r.Title), r.Price, r.Currency, r.List, Clean(r.Reason))
			})
		case "pin", "block":
			r := recommend.ProductRule{ProductID: pos[0], Placement: *placement, Rule: sub}
			err := recommend.SetProductRule(ctx, db, r, func(ctx context.Context, tx *store.Tx) error {
				return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorCLI, Action: "recommend." + sub, Target: pos[0], Detail: map[string]any{"placement": *placement}})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s: %s %s\n", sub, Clean(pos[0]), placementWords(*placement))
			return nil
		case "unpin":
			found, err := recommend.DeleteProductRule(ctx, db, pos[0], *placement, func(ctx context.Context, tx *store.Tx) error {
				return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorCLI, Action: "recommend.unpin", Target: pos[0], Detail: map[string]any{"placement": *placement}})
			})
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%s has no pin or block %s", pos[0], placementWords(*placement))
			}
			fmt.Fprintf(env.Stdout, "rule removed: %s %s\n", Clean(pos[0]), placementWords(*placement))
			return nil
		case "rules":
			rs, err := recommend.ListProductRules(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, rs, "PRODUCT\tRULE\tPLACEMENT", func(w io.Writer, r recommend.ProductRule) {
				fmt.Fprintf(w, "%s\t%s\t%s\n", Clean(r.ProductID), r.Rule, placementWords(r.Placement))
			})
		case "products":
			if err := catalog.CatchUp(ctx, db); err != nil {
				return err
			}
			cat, err := catalog.Load(ctx, db)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, cat.Products(), "PRODUCT\tTITLE\tCATEGORY\tPRICE\tAVAILABILITY\tSTOCK\tORIGIN", func(w io.Writer, p *catalog.Product) {
				stock := "-"
				if p.Stock != nil {
					var parts []string
					for _, l := range sortedKeys(p.Stock) {
						parts = append(parts, fmt.Sprintf("%s:%d", l, p.Stock[l]))
					}
					stock = strings.Join(parts, " ")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", Clean(p.ID), Clean(p.Title), Clean(p.Category), p.PriceMinor, p.Availability, Clean(stock), p.Origin)
			})
		case "next":
			m, err := recommend.BuildFromStore(ctx, db)
			if err != nil {
				return err
			}
			var ids []int64
			if len(pos) == 1 {
				cu, err := identity.FindCustomer(ctx, db, pos[0])
				if err != nil {
					return err
				}
				ids = []int64{cu.ID}
			}
			acts, err := recommend.NextActions(ctx, db, m, ids, recommend.NBAOptions{})
			if err != nil {
				return err
			}
			if len(pos) == 0 {
				acts = recommend.RankActions(acts, *limit)
			}
			return printRows(env, sf.JSON, acts, "CUSTOMER\tACTION\tCHANNEL\tWHY", func(w io.Writer, a recommend.NextAction) {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", a.CustomerID, a.Action, a.Channel, Clean(a.Reason))
			})
		case "attribution":
			if err := catalog.CatchUp(ctx, db); err != nil {
				return err
			}
			rep, err := recommend.Attribution(ctx, db, time.Duration(*days)*24*time.Hour)
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, rep, "LIST\tPLACEMENT\tCLICKS\tORDERS\tREVENUE", func(w io.Writer, r recommend.AttributionRow) {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s %s\n", r.List, r.Placement, r.Clicks, r.Orders, r.Revenue, r.Currency)
			})
		}
		return ErrUsage
	}
	Register(c)
	demoHooks = append(demoHooks, loadDemoCatalogue)
}

// loadDemoCatalogue gives the demo bakery its catalogue and stock; bread, coffee and
// pastries are bought again and again, so they may be recommended again.
func loadDemoCatalogue(ctx context.Context, db *store.DB) ([]string, error) {
	n, err := demo.LoadCatalogue(ctx, db)
	if err != nil {
		return nil, err
	}
	if _, err := workspace.Set(ctx, db, audit.ActorCLI, "recommend.replenishable_categories", "bread,coffee,pastry"); err != nil {
		return nil, err
	}
	// Delivery is an order line, not a product to recommend or to name in a reason.
	if err := recommend.SetProductRule(ctx, db, recommend.ProductRule{ProductID: "w-delivery", Rule: recommend.RuleBlock}, nil); err != nil {
		return nil, err
	}
	if err := catalog.CatchUp(ctx, db); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("Catalogue: %d products with stock; try `omniroi recommend show cus_100007` or GET /v1/recommendations?writeKey=KEY&placement=home", n)}, nil
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func placementWords(p string) string {
	if p == "" {
		return "(every placement)"
	}
	return "(placement " + p + ")"
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func runEvaluate(ctx context.Context, env *Env, sf *StoreFlags, file, split string, k int, format, method, exclude string) error {
	if split == "" {
		return fmt.Errorf("--split-date is required (YYYY-MM-DD, the first day of the test period): %w", ErrUsage)
	}
	day, err := time.Parse(time.DateOnly, split)
	if err != nil {
		return fmt.Errorf("--split-date %q: want YYYY-MM-DD", split)
	}
	if format != "text" && format != "json" {
		return fmt.Errorf("--format %q: text or json", format)
	}
	ex := map[string]bool{}
	for _, e := range strings.Split(exclude, ",") {
		if e = strings.TrimSpace(e); e != "" {
			ex[e] = true
		}
	}
	var txs []recommend.Interaction
	var st recommend.TransactionStats
	source := file
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := maybeGzip(f)
		if err != nil {
			return err
		}
		if txs, st, err = recommend.ReadTransactions(r, ex); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	} else {
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		d, err := recommend.LoadData(ctx, db)
		if err != nil {
			return err
		}
		for _, it := range d.Interactions {
			if it.Kind == recommend.Purchase && !ex[it.Product] {
				txs = append(txs, it)
			}
		}
		st.Rows = len(txs)
		source = "the store's orders"
	}
	ev, err := recommend.Evaluate(txs, recommend.EvalOptions{Split: day, K: k, Method: method})
	if err != nil {
		return err
	}
	if format == "json" {
		return PrintJSON(env.Stdout, ev)
	}
	w := env.Stdout
	fmt.Fprintf(w, "Offline evaluation of %q on %s: trained on purchases before %s, tested on the products each customer bought on or after it that were new to them.\n",
		method, Clean(source), ev.SplitDate)
	if file != "" {
		fmt.Fprintf(w, "%d rows read; skipped %d without a customer, %d with quantity <= 0, %d excluded products.\n", st.Rows, st.NoCustomer, st.NotPositive, st.ExcludedProduct)
	}
	fmt.Fprintf(w, "%d test customers, %d products in the training period (%d training rows, %d test rows).\n\n", ev.Customers, ev.TrainProducts, ev.TrainRows, ev.TestRows)
	fmt.Fprintf(w, "%-12s %10s %10s %9s %9s\n", "", fmt.Sprintf("recall@%d", k), fmt.Sprintf("NDCG@%d", k), "hit rate", "coverage")
	for _, r := range []struct {
		name string
		m    recommend.Metrics
	}{{method, ev.Model}, {"popularity", ev.Popularity}} {
		fmt.Fprintf(w, "%-12s %10.4f %10.4f %9.4f %9.4f\n", r.name, r.m.Recall, r.m.NDCG, r.m.HitRate, r.m.Coverage)
	}
	if ev.Popularity.Recall > 0 && ev.Popularity.NDCG > 0 {
		fmt.Fprintf(w, "\n%s vs popularity: recall %+.0f%%, NDCG %+.0f%%.\n", method, 100*(ev.Model.Recall/ev.Popularity.Recall-1), 100*(ev.Model.NDCG/ev.Popularity.NDCG-1))
	}
	return nil
}

// ---- serve wiring ----

var (
	recMu      sync.Mutex
	recService *recommend.Service
)

// startRecommendations keeps the recommendation model current in the background and
// mounts GET /v1/recommendations and the widget on the server's mux.
func startRecommendations(s *server.Server) {
	svc := recommend.NewService(s.DB, slog.Default())
	recMu.Lock()
	recService = svc
	recMu.Unlock()
	recommend.NewHandler(svc, recommend.HandlerOptions{}).Register(s.Mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx, 5*time.Second)
	}()
	s.OnShutdown(func(context.Context) {
		cancel()
		<-done
	})
}

// messageRecommender is what journey messages use to render recommendations: the
// serving model when `omniroi serve` runs, nil otherwise.
func messageRecommender() journey.Recommender {
	recMu.Lock()
	defer recMu.Unlock()
	if recService == nil {
		return nil
	}
	return recommend.Messages{Svc: recService}
}

// maybeGzip reads through gzip when the file starts with its magic bytes.
func maybeGzip(f *os.File) (io.Reader, error) {
	br := bufio.NewReaderSize(f, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

func printModels(env *Env, asJSON bool) error {
	ms := recommend.ModelCards()
	if asJSON {
		return PrintJSON(env.Stdout, ms)
	}
	for i, m := range ms {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		fmt.Fprintf(env.Stdout, "%s (%s)\n  %s\n  uses: %s\n  never uses: %s\n  opt-out: %s\n", m.Name, m.Where, m.Method,
			strings.Join(m.Uses, "; "), strings.Join(m.NeverUses, "; "), m.OptOut)
	}
	return nil
}

// journeyRunRecommender builds a model for `omniroi journey run` (which has no server to
// keep one current); nil, with a warning, when it cannot.
func journeyRunRecommender(ctx context.Context, db *store.DB, log *slog.Logger) journey.Recommender {
	svc := recommend.NewService(db, log)
	if err := svc.Refresh(ctx, true); err != nil {
		log.Warn("journeys: messages go without product recommendations", "err", err)
		return nil
	}
	return recommend.Messages{Svc: svc}
}

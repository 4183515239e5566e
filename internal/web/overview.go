package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/rollup"
)

// card is one headline number against the previous period.
type card struct {
	Label, Value, Prev, Change, Note string
	Up, Good                         bool // Up: the number rose; Good: rising is good
	HasPrev                          bool
}

type overviewData struct {
	Ready bool // the orders table exists
	// Computing says the period's sales figures are being computed in the background
	// (overviewComputing): the cards and charts from them are missing and the page
	// reloads itself.
	Computing string
	Cards     []card
	ROI       *roiSection
	// View is the return-per-channel section's view: viewEffect (default) or viewCredit.
	View       string
	Effect     *effectSection
	EffectHref string
	CreditHref string
	OtherCur   int64 // orders in other currencies, left out
	PrevLabel  string
	Bucket     string
	Setup      []setupStep // the first-run checklist, while no order is stored
}

// overviewComputing is the Overview's word while its figures are computed.
const overviewComputing = "This period's revenue, orders and customers are being computed; this page reloads itself."

type periodTotals struct {
	orders, revenue, refunds, buyers, newBuyers, spend int64
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/", "Overview")
	d := &overviewData{}
	p.Data = d
	ok, err := s.hasTable(ctx, "orders")
	if err != nil {
		return err
	}
	if !ok {
		return s.respond(w, r, "overview", p)
	}
	d.Ready = true
	if d.Setup, err = s.firstRun(ctx, p); err != nil {
		return err
	}
	cur := p.Currency
	rg := p.Range
	// The period's own figures first: they are built in the quick lane, beside the
	// models the rest of the page reads.
	res, st, err := s.overviewFor(ctx, rg, cur)
	if errors.Is(err, errComputing) {
		d.Computing, p.Refresh = overviewComputing, true
		p.setJSON("computing", true)
	} else if err != nil {
		return err
	} else if err := p.computed(st, nil); err != nil {
		return err
	}
	if err := s.withCoverage(r, p); err != nil {
		return err
	}
	if res != nil {
		s.overviewFigures(p, d, res)
	}
	d.View = viewEffect
	q := r.URL.Query()
	if v := q.Get("view"); v == viewCredit || v == "" && q.Get("model") != "" {
		d.View = viewCredit // a model asked for is a request for credit
	}
	d.EffectHref = p.Link("/", "view", viewEffect) + "#roi"
	d.CreditHref = p.Link("/", "view", viewCredit) + "#roi"
	if err := s.overviewEffect(r, p, d, d.View == viewEffect); err != nil {
		return err
	}
	if err := s.overviewROI(r, p, d); err != nil {
		return err
	}
	return s.respond(w, r, "overview", p)
}

// overviewFigures adds the cards and charts of the period's sales and spend.
func (s *server) overviewFigures(p *page, d *overviewData, res *overviewResult) {
	cur, rg := p.Currency, p.Range
	d.OtherCur = res.sales.OtherCurrency
	cur0, prev := res.totals(res.sales.Total, res.spend), res.totals(res.prevSales.Total, res.prevSpend)
	hasPrev := res.hasPrev
	if hasPrev {
		pr, _ := rg.Previous()
		d.PrevLabel = pr.From.Format("2 Jan 2006") + " – " + pr.To.AddDate(0, 0, -1).Format("2 Jan 2006")
	}
	mk := func(label string, c, pv int64, f func(int64) string, good bool, note string) card {
		k := card{Label: label, Value: f(c), Good: good, HasPrev: hasPrev, Note: note}
		if hasPrev {
			k.Prev = f(pv)
			k.Change, k.Up = change(c, pv)
		}
		return k
	}
	m := func(v int64) string { return formatMoneyShort(v, cur) }
	d.Cards = []card{
		mk("Revenue", cur0.revenue, prev.revenue, m, true, "orders completed, before refunds"),
		mk("Orders", cur0.orders, prev.orders, formatInt, true, ""),
		mk("Customers who bought", cur0.buyers, prev.buyers, formatInt, true, ""),
		mk("New customers", cur0.newBuyers, prev.newBuyers, formatInt, true, "first order ever in this period"),
		mk("Refunds", cur0.refunds, prev.refunds, m, false, ""),
	}
	if cur0.orders > 0 {
		d.Cards = append(d.Cards, mk("Average order", cur0.revenue/cur0.orders, safeDiv(prev.revenue, prev.orders), m, true, ""))
	}
	if cur0.spend > 0 {
		// All revenue, not what ads could have influenced: the label says so (the ROI
		// table below is the attributed figure).
		k := card{Label: "All revenue per " + formatMoneyShort(int64(pow10(cur)), cur) + " of ad spend", Value: fmt.Sprintf("%.2f", float64(cur0.revenue)/float64(cur0.spend)),
			Good: true, HasPrev: hasPrev && prev.spend > 0, Note: "all revenue, with or without ads, ÷ all spend (" + m(cur0.spend) + "); what ads earned per channel below"}
		for _, n := range res.spendNotes {
			k.Note += "; " + n
		}
		if k.HasPrev {
			k.Prev = fmt.Sprintf("%.2f", float64(prev.revenue)/float64(prev.spend))
			k.Change, k.Up = change(cur0.revenue*prev.spend, prev.revenue*cur0.spend)
		}
		d.Cards = append(d.Cards, k)
	}

	// Revenue over time.
	if first := res.sales.First; !first.IsZero() {
		b := bucketFor(rg, first)
		d.Bucket = b.noun()
		periods := res.sales.Periods(commerce.Bucket(b))
		labels := make([]string, len(periods))
		vals := make([]float64, len(periods))
		t := &Table{ID: "revenue-over-time", Caption: "Revenue and orders per " + b.noun(), Hidden: true,
			Cols: []Col{{Label: "Period"}, {Label: "Revenue", Num: true}, {Label: "Orders", Num: true}}}
		for i, x := range periods {
			labels[i] = b.label(x.Start)
			vals[i] = money.Major(x.RevenueMinor, cur)
			t.Rows = append(t.Rows, []Cell{txt(labels[i]), amount(x.RevenueMinor, cur), num(x.Orders)})
		}
		p.addChart(&Chart{ID: "revenue-over-time", Kind: "line", Title: "Revenue per " + b.noun(), Money: true, Currency: cur, X: labels,
			Series: []Series{{Name: "Revenue", Data: vals}}, Table: t})
	}

	// Revenue by channel and by location.
	for _, g := range []struct {
		id, title, label string
		rows             []groupRow
	}{{"revenue-by-channel", "Revenue by channel of the order", "Channel", res.byChannel}, {"revenue-by-location", "Revenue by where the order happened", "Where", res.byLocation}} {
		t := &Table{ID: g.id, Caption: g.title, Hidden: true, Cols: []Col{{Label: g.label}, {Label: "Revenue", Num: true}, {Label: "Orders", Num: true}, {Label: "Share of revenue", Num: true}}}
		c := &Chart{ID: g.id, Kind: "bar", Title: g.title, Money: true, Currency: cur}
		vals := []float64{}
		for _, x := range g.rows {
			share := "–"
			if cur0.revenue > 0 {
				share = fmt.Sprintf("%.1f%%", float64(x.revenue)*100/float64(cur0.revenue))
			}
			t.Rows = append(t.Rows, []Cell{txt(x.key), amount(x.revenue, cur), num(x.orders), txt(share)})
			c.X = append(c.X, x.key)
			vals = append(vals, money.Major(x.revenue, cur))
		}
		if len(g.rows) > 0 {
			c.Series = []Series{{Name: "Revenue", Data: vals}}
			c.Table = t
			p.addChart(c)
		}
	}
}

// overviewFor returns the Overview's figures of a period, built in the quick lane of the
// background builds (compute.go) once per data version: reading a period's sales and
// orders takes a second or more on a large store, more on a busy machine.
func (s *server) overviewFor(ctx context.Context, rg Range, cur string) (*overviewResult, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	key := fmt.Sprintf("overview|%d|%d|%s|%s", rg.FromMS(), rg.ToMS(), rg.Loc, cur)
	res, at, stale, err := computedIn(ctx, s.compute, s.compute.quick, key, ver, func(ctx context.Context) (*overviewResult, error) {
		return s.overviewQuery(ctx, rg, cur)
	})
	return res, stamp{at, stale}, err
}

func safeDiv(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func pow10(cur string) int64 {
	n := int64(1)
	for range money.Exponent(cur) {
		n *= 10
	}
	return n
}

type groupRow struct {
	key             string
	revenue, orders int64
}

// overviewResult is the Overview's figures: the sales of the period and of the one
// before (commerce.SalesByPeriod), spend, and the period's revenue by channel and
// location.
type overviewResult struct {
	sales, prevSales commerce.Sales
	spend, prevSpend int64
	spendNotes       []string // spend converted or left out (attribution.SpendInPeriod)
	hasPrev          bool
	byChannel        []groupRow
	byLocation       []groupRow
}

func (res *overviewResult) totals(t commerce.SalesTotals, spend int64) periodTotals {
	return periodTotals{orders: t.Orders, revenue: t.RevenueMinor, refunds: t.RefundsMinor, buyers: t.Buyers, newBuyers: t.NewBuyers, spend: spend}
}

// overviewQuery reads the sales of the period and the one before (commerce), their
// spend, and the period's orders by channel and location.
func (s *server) overviewQuery(ctx context.Context, rg Range, cur string) (*overviewResult, error) {
	res := &overviewResult{}
	var err error
	if res.sales, err = commerce.SalesByPeriod(ctx, s.db, commerce.SalesQuery{From: rg.From, To: rg.To, Loc: rg.Loc, Currency: cur}); err != nil {
		return nil, err
	}
	pr, hasPrev := rg.Previous()
	res.hasPrev = hasPrev
	if hasPrev {
		if res.prevSales, err = commerce.SalesByPeriod(ctx, s.db, commerce.SalesQuery{From: pr.From, To: pr.To, Loc: rg.Loc, Currency: cur}); err != nil {
			return nil, err
		}
	}
	// Spend as attribution's ROI joins it (one definition: attribution.SpendInPeriod).
	sp, err := attribution.SpendInPeriod(ctx, s.db, rg.From, rg.To, cur)
	if err != nil {
		return nil, err
	}
	res.spend, res.spendNotes = sp.Minor, sp.Notes
	if hasPrev {
		if sp, err = attribution.SpendInPeriod(ctx, s.db, pr.From, pr.To, cur); err != nil {
			return nil, err
		}
		res.prevSpend = sp.Minor
	}
	if err := s.revenueBy(ctx, rg, cur, res); err != nil {
		return nil, err
	}
	return res, nil
}

// revenueBy sums the period's purchases in the business currency by the order's channel
// and by its location, from the daily rollups of the period's days (rollup.ForPeriod;
// the purchases SalesByPeriod counts: revenue >= 0).
func (s *server) revenueBy(ctx context.Context, rg Range, cur string, res *overviewResult) error {
	per, err := rollup.ForPeriod(ctx, s.db, rollup.Query{From: rg.From, To: rg.To, Loc: rg.Loc})
	if err != nil {
		return err
	}
	byChannel, byLocation := map[string]*groupRow{}, map[string]*groupRow{}
	add := func(m map[string]*groupRow, k string, x rollup.Row) {
		if k == "" {
			k = "(none)"
		}
		g := m[k]
		if g == nil {
			g = &groupRow{key: k}
			m[k] = g
		}
		g.revenue = money.SatAdd(g.revenue, x.RevenueMinor)
		g.orders += x.Orders
	}
	for _, x := range per.Rows {
		if x.Currency != cur || x.Orders == 0 {
			continue
		}
		add(byChannel, x.Channel, x)
		add(byLocation, x.Location, x)
	}
	for _, g := range []struct {
		m   map[string]*groupRow
		out *[]groupRow
	}{{byChannel, &res.byChannel}, {byLocation, &res.byLocation}} {
		for _, x := range g.m {
			*g.out = append(*g.out, *x)
		}
		sort.Slice(*g.out, func(i, j int) bool {
			a, b := (*g.out)[i], (*g.out)[j]
			return a.revenue > b.revenue || a.revenue == b.revenue && a.key < b.key
		})
	}
	return nil
}

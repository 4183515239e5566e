package web

import (
	"context"
	"fmt"
	"github.com/omniroi/omniroi/internal/commerce"
	"net/http"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// card is one headline number against the previous period.
type card struct {
	Label, Value, Prev, Change, Note string
	Up, Good                         bool // Up: the number rose; Good: rising is good
	HasPrev                          bool
}

type overviewData struct {
	Ready bool // the orders table exists
	Cards []card
	ROI   *roiSection
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

type periodTotals struct {
	orders, revenue, refunds, buyers, newBuyers, spend int64
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) error {
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
	if _, err := s.withCoverage(r, p); err != nil {
		return err
	}
	cur := p.Currency
	rg := p.Range
	key := fmt.Sprintf("overview|%d|%d|%s", rg.FromMS(), rg.ToMS(), cur)
	res, err := cached(s.cache, key, s.opt.Now(), func() (*overviewResult, error) { return s.overviewQuery(ctx, rg, cur) })
	if err != nil {
		return err
	}
	d.OtherCur = res.otherCur
	cur0, prev := res.cur, res.prev
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
		if k.HasPrev {
			k.Prev = fmt.Sprintf("%.2f", float64(prev.revenue)/float64(prev.spend))
			k.Change, k.Up = change(cur0.revenue*prev.spend, prev.revenue*cur0.spend)
		}
		d.Cards = append(d.Cards, k)
	}

	// Revenue over time.
	if len(res.days) > 0 {
		b := bucketFor(rg, res.days[0].day)
		d.Bucket = b.noun()
		from := rg.From
		if from.IsZero() {
			from = res.days[0].day
		}
		starts := b.buckets(from, rg.To)
		// Keyed by the instant, not the time.Time: the cached days carry the *time.Location
		// of the request that computed them, and a Location loaded by a later request is
		// another pointer, so time.Time keys would match nothing (every day €0).
		idx := make(map[int64]int, len(starts))
		labels := make([]string, len(starts))
		for i, t := range starts {
			idx[t.Unix()] = i
			labels[i] = b.label(t)
		}
		rev := make([]int64, len(starts))
		ord := make([]int64, len(starts))
		for _, x := range res.days {
			if i, ok := idx[b.start(x.day.In(rg.Loc)).Unix()]; ok {
				rev[i] = money.SatAdd(rev[i], x.revenue)
				ord[i] += x.orders
			}
		}
		vals := make([]float64, len(starts))
		t := &Table{ID: "revenue-over-time", Caption: "Revenue and orders per " + b.noun(), Hidden: true,
			Cols: []Col{{Label: "Period"}, {Label: "Revenue", Num: true}, {Label: "Orders", Num: true}}}
		for i := range starts {
			vals[i] = money.Major(rev[i], cur)
			t.Rows = append(t.Rows, []Cell{txt(labels[i]), amount(rev[i], cur), num(ord[i])})
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

type dayRow struct {
	day             time.Time
	revenue, orders int64
}

type groupRow struct {
	key             string
	revenue, orders int64
}

type overviewResult struct {
	cur, prev  periodTotals
	hasPrev    bool
	otherCur   int64
	days       []dayRow
	byChannel  []groupRow
	byLocation []groupRow
}

// overviewQuery reads the orders of the period and the one before in one pass and sums
// them in Go: one range scan instead of six GROUP BYs, which matters for "all time" where
// SQLite would otherwise walk orders_ts and fetch every row six times (700 ms at demo size).
func (s *server) overviewQuery(ctx context.Context, rg Range, cur string) (*overviewResult, error) {
	res := &overviewResult{}
	from, to := rg.FromMS(), rg.ToMS()
	pfrom, pto := from, from
	var pr Range
	if p, ok := rg.Previous(); ok {
		res.hasPrev, pr = true, p
		pfrom, pto = p.FromMS(), p.ToMS()
	}
	// Days are cut at local midnight with the zone's offset at the period's end; a DST
	// change inside the period shifts an hour of orders to the neighbouring day.
	_, off := rg.To.Add(-time.Hour).Zone()
	offMS := int64(off) * 1000
	// For long periods a sequential scan beats orders_ts: walking the index costs one
	// random table lookup per order (most of the time of "all time" on SQLite in
	// profiles). Unary + hides the column from the index in SQLite and PostgreSQL alike.
	col := "ts"
	if rg.From.IsZero() || rg.Days() > 120 {
		col = "+ts"
	}
	rows, err := s.db.Query(ctx, `SELECT customer_id, ts, revenue_minor, currency, channel, location FROM orders WHERE `+col+` >= ? AND `+col+` < ?`, min(from, pfrom), to)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	buyers, prevBuyers := map[int64]struct{}{}, map[int64]struct{}{}
	days := map[int64]*dayRow{}
	byChannel, byLocation := map[string]*groupRow{}, map[string]*groupRow{}
	add := func(m map[string]*groupRow, k string, rev int64) {
		if k == "" {
			k = "(none)"
		}
		g := m[k]
		if g == nil {
			g = &groupRow{key: k}
			m[k] = g
		}
		g.revenue = money.SatAdd(g.revenue, rev)
		g.orders++
	}
	for rows.Next() {
		var cid, ts, rev int64
		var ocur, channel, location string
		if err := rows.Scan(&cid, &ts, &rev, &ocur, &channel, &location); err != nil {
			rows.Close()
			return nil, err
		}
		if ts >= from {
			if ocur != cur {
				res.otherCur++
				continue
			}
			res.cur.orders++
			res.cur.revenue = money.SatAdd(res.cur.revenue, rev)
			buyers[cid] = struct{}{}
			d := (ts + offMS) / 86400000
			if days[d] == nil {
				u := time.Unix(d*86400, 0).UTC()
				days[d] = &dayRow{day: time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, rg.Loc)}
			}
			days[d].revenue = money.SatAdd(days[d].revenue, rev)
			days[d].orders++
			add(byChannel, channel, rev)
			add(byLocation, location, rev)
		} else if res.hasPrev && ts >= pfrom && ts < pto && ocur == cur {
			res.prev.orders++
			res.prev.revenue = money.SatAdd(res.prev.revenue, rev)
			prevBuyers[cid] = struct{}{}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.cur.buyers, res.prev.buyers = int64(len(buyers)), int64(len(prevBuyers))
	for _, d := range days {
		res.days = append(res.days, *d)
	}
	sort.Slice(res.days, func(i, j int) bool { return res.days[i].day.Before(res.days[j].day) })
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

	// First-time buyers: customers whose first order (any currency) falls in a period.
	// The best plan differs by database (demo size, measured): PostgreSQL answers "an
	// order in the period and NOT EXISTS an earlier one" with one index-only probe per
	// buyer (8 ms for 30 days, against 35-260 ms for hashing all orders by customer);
	// SQLite plans that query badly (690 ms for "all time": orders_ts walk, temp b-tree,
	// probes) but reads MIN(ts) per customer straight off the covering index
	// orders_customer (customer_id, ts), both periods in one pass.
	if s.db.Dialect == store.Postgres {
		for _, x := range []struct {
			n        *int64
			from, to int64
			ok       bool
		}{{&res.cur.newBuyers, from, to, true}, {&res.prev.newBuyers, pfrom, pto, res.hasPrev}} {
			if !x.ok {
				continue
			}
			err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT DISTINCT customer_id FROM orders WHERE ts >= ? AND ts < ?) b
				WHERE NOT EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = b.customer_id AND p.ts < ?)`, x.from, x.to, x.from).Scan(x.n)
			if err != nil {
				return nil, fmt.Errorf("count new customers: %w", err)
			}
		}
	} else if err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN f >= ? AND f < ? THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN f >= ? AND f < ? THEN 1 ELSE 0 END), 0)
		FROM (SELECT MIN(ts) AS f FROM orders GROUP BY customer_id) x`, from, to, pfrom, pto).Scan(&res.cur.newBuyers, &res.prev.newBuyers); err != nil {
		return nil, fmt.Errorf("count new customers: %w", err)
	}
	for _, x := range []struct {
		t        *periodTotals
		from, to int64
		r        Range
	}{{&res.cur, from, to, rg}, {&res.prev, pfrom, pto, pr}} {
		if x.t == &res.prev && !res.hasPrev {
			break
		}
		// A full refund carries no amount of its own: it refunds the order's (as commerce reads it).
		if err := s.db.QueryRow(ctx, `SELECT `+s.db.SumMinor(commerce.RefundAmountSQL("r", "o"))+`
			FROM refunds r LEFT JOIN orders o ON o.order_id = r.order_id
			WHERE r.ts >= ? AND r.ts < ? AND `+commerce.RefundCurrencySQL("r", "o")+` = ?`, x.from, x.to, cur).Scan(&x.t.refunds); err != nil {
			return nil, fmt.Errorf("sum refunds: %w", err)
		}
		if err := s.db.QueryRow(ctx, `SELECT `+s.db.SumMinor("amount_minor")+` FROM spend WHERE day >= ? AND day < ? AND currency = ?`, x.r.FromDay(), x.r.ToDay(), cur).Scan(&x.t.spend); err != nil {
			return nil, fmt.Errorf("sum spend: %w", err)
		}
	}
	return res, nil
}

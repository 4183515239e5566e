package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/value"
)

type segmentsData struct {
	Ready     bool
	AsOf      string
	Customers int64
	NoRepeats bool
	FitErr    string
	EconErr   string
	LTVAnswer string
	Bands     value.ChurnBands
}

const (
	atRiskRows     = 25
	minCohortChart = 10 // customers
)

func (s *server) segments(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/segments", "Segments")
	d := &segmentsData{Bands: value.DefaultChurnBands}
	p.Data = d
	if ok, err := s.hasTable(ctx, "orders"); err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "segments", p))
	}
	v, at, err := s.valueFor(ctx)
	if errors.Is(err, value.ErrNoOrders) {
		return s.respond(w, r, "segments", p)
	}
	if err := p.computed(at, err); err != nil || p.Computing {
		return errors.Join(err, s.respond(w, r, "segments", p))
	}
	d.Ready = true
	d.AsOf = v.AsOf.Format("2 Jan 2006")
	d.Customers = int64(len(v.Segments.Scores))
	d.NoRepeats, d.FitErr = v.NoRepeats, v.FitErr
	cur := v.Currency
	if cur == "" {
		cur = p.Currency
	}

	segmentsRFMGrid(p, v)
	segmentsTable(p, v, cur)
	if len(v.Bands) > 0 {
		segmentsChurnBands(p, v, cur)
		if err := s.segmentsAtRisk(ctx, p, v, cur); err != nil {
			return err
		}
	}
	segmentsCohorts(p, v)
	if !v.NoRepeats {
		if err := s.segmentsLTVByChannel(ctx, p, d, v, cur); err != nil {
			return err
		}
	}
	return s.respond(w, r, "segments", p)
}

// segmentsRFMGrid adds the RFM grid: recency score across, frequency score
// down, customers per cell (with the segment of the cell in the table).
func segmentsRFMGrid(p *page, v *value.Snapshot) {
	var grid [5][5]int
	cellSeg := map[[2]int]string{}
	for _, sc := range v.Segments.Scores {
		if sc.R >= 1 && sc.R <= 5 && sc.F >= 1 && sc.F <= 5 {
			grid[sc.F-1][sc.R-1]++
			cellSeg[[2]int{sc.R, sc.F}] = sc.Segment
		}
	}
	hc := &Chart{ID: "rfm-grid", Kind: "heatmap", Title: "Customers by recency (across, 5 = bought most recently) and frequency (down, 5 = most purchases)"}
	ht := &Table{ID: "rfm-grid", Caption: "Customers per recency and frequency score", Hidden: true, Cols: []Col{{Label: "Frequency score"}}}
	for rs := 1; rs <= 5; rs++ {
		hc.X = append(hc.X, "R"+strconv.Itoa(rs))
		ht.Cols = append(ht.Cols, Col{Label: "Recency " + strconv.Itoa(rs), Num: true})
	}
	for fs := 5; fs >= 1; fs-- {
		hc.Y = append(hc.Y, "F"+strconv.Itoa(fs))
		row := []Cell{txt("F" + strconv.Itoa(fs))}
		for rs := 1; rs <= 5; rs++ {
			n := grid[fs-1][rs-1]
			hc.Cells = append(hc.Cells, [3]float64{float64(rs - 1), float64(5 - fs), float64(n)})
			c := num(int64(n))
			if seg := cellSeg[[2]int{rs, fs}]; seg != "" {
				c.Text += " · " + seg
			}
			row = append(row, c)
		}
		ht.Rows = append(ht.Rows, row)
	}
	hc.Table = ht
	p.addChart(hc)
}

// segmentsTable adds the table of RFM segments with their size and share of revenue.
func segmentsTable(p *page, v *value.Snapshot, cur string) {
	st := p.addTable(&Table{ID: "segments", Caption: "RFM segments: size and share of revenue", Cols: []Col{{Label: "Segment"}, {Label: "Customers", Num: true}, {Label: "Share of customers", Num: true}, {Label: "Revenue", Num: true}, {Label: "Share of revenue", Num: true}, {Label: "Note"}}})
	for _, sg := range v.Segments.Segments {
		sh, rs := sg.Share, sg.RevenueShare
		st.Rows = append(st.Rows, []Cell{txt(sg.Segment), num(int64(sg.Customers)), pctCell(&sh), amount(sg.Revenue, cur), pctCell(&rs), txt(sg.Warning)})
	}
}

// segmentsChurnBands adds the churn-bands chart: what each band has brought
// and what it is predicted to bring.
func segmentsChurnBands(p *page, v *value.Snapshot, cur string) {
	bc := &Chart{ID: "churn-bands", Kind: "bar", Title: "Churn bands: revenue so far and predicted value of the next 12 months", Money: true, Currency: cur}
	bt := &Table{ID: "churn-bands", Caption: "Churn bands", Hidden: true, Cols: []Col{{Label: "Band"}, {Label: "Customers", Num: true}, {Label: "Revenue so far", Num: true}, {Label: "Predicted next 12 months", Num: true}, {Label: "Predicted per customer", Num: true}}}
	var real, pred []float64
	for _, b := range v.Bands {
		bc.X = append(bc.X, b.Band)
		real = append(real, money.Major(b.Realised, cur))
		pred = append(pred, money.Major(b.Predicted, cur))
		per := 0.0
		if b.Customers > 0 {
			per = b.Predicted / float64(b.Customers)
		}
		bt.Rows = append(bt.Rows, []Cell{txt(b.Band), num(int64(b.Customers)), amount(b.Realised, cur), amountF(b.Predicted, cur), amountF(per, cur)})
	}
	bc.Series = []Series{{Name: "Revenue so far", Data: real}, {Name: "Predicted next 12 months", Data: pred}}
	bc.Table = bt
	p.addChart(bc)
}

// segmentsAtRisk adds the table of at-risk customers worth a call, highest
// predicted value first; roles without access to personal data (viewer) get
// the figures without who.
func (s *server) segmentsAtRisk(ctx context.Context, p *page, v *value.Snapshot, cur string) error {
	var risk []value.Prediction
	for _, pr := range v.Predictions {
		if pr.ChurnBand == value.BandAtRisk {
			risk = append(risk, pr)
			if len(risk) == atRiskRows {
				break
			}
		}
	}
	personal := p.Can(string(auth.PermReadPersonal))
	names := map[string]string{}
	if personal {
		var err error
		if names, err = s.customerNames(ctx, risk); err != nil {
			return err
		}
	}
	rt := p.addTable(&Table{ID: "at-risk", Caption: "Top at-risk customers by predicted value (worth a personal message)",
		Cols:  []Col{{Label: "Customer"}, {Label: "Name"}, {Label: "Probability still active", Num: true}, {Label: "Orders", Num: true}, {Label: "Revenue so far", Num: true}, {Label: "Predicted next 12 months", Num: true}, {Label: "Segment"}},
		Empty: "No customer is in the at-risk band."})
	if !personal {
		rt.Caption = "Top at-risk customers by predicted value (who they are is hidden for your role)"
		rt.Cols = append([]Col{{Label: "Rank", Num: true}}, rt.Cols[2:]...)
	}
	for i, pr := range risk {
		pa := pAlive(pr)
		seg := ""
		if sc, ok := v.RFM(pr.ID); ok {
			seg = sc.Segment
		}
		figures := []Cell{pctCell(&pa), num(int64(pr.Frequency + 1)), amount(pr.Revenue, cur), amountF(pr.CLV, cur), txt(seg)}
		if !personal {
			rt.Rows = append(rt.Rows, append([]Cell{num(int64(i + 1))}, figures...))
			continue
		}
		href := p.Link("/customers/" + pr.ID)
		rt.Rows = append(rt.Rows, append([]Cell{{Text: "#" + pr.ID, Raw: pr.ID, Href: href}, {Text: names[pr.ID], Href: href}}, figures...))
	}
	return nil
}

// segmentsCohorts adds the cohort retention heatmap: share of each month's new
// customers buying again N months later (nothing when there are no cohorts).
func segmentsCohorts(p *page, v *value.Snapshot) {
	cs := v.Cohorts.Cohorts
	if len(cs) == 0 {
		return
	}
	maxM := 0
	for _, c := range cs {
		maxM = max(maxM, len(c.Months))
	}
	cc := &Chart{ID: "cohorts", Kind: "heatmap", Title: "Retention: % of each month's new customers who bought in later months (* the data's first month also holds customers from before it)"}
	ct := &Table{ID: "cohorts", Caption: "Cohort retention (% of the cohort buying in each month since the first purchase)", Hidden: true, Cols: []Col{{Label: "First purchase"}, {Label: "Customers", Num: true}}}
	for m := 0; m < maxM; m++ {
		cc.X = append(cc.X, "Month "+strconv.Itoa(m))
		ct.Cols = append(ct.Cols, Col{Label: "Month " + strconv.Itoa(m), Num: true})
	}
	yi := 0
	for _, c := range cs {
		// Cohorts of a handful of customers swing between 0 and 100 % and would set
		// the colour scale; they stay in the table.
		inChart := c.Customers >= minCohortChart
		if inChart {
			cc.Y = append(cc.Y, fmt.Sprintf("%s (%d)", c.Start, c.Customers))
		}
		label := c.Start
		if c.Censored {
			// The data's first month also holds regulars from before it: say so where it shows.
			label += " (incl. earlier customers)"
			if inChart {
				cc.Y[len(cc.Y)-1] = fmt.Sprintf("%s* (%d)", c.Start, c.Customers)
			}
		}
		row := []Cell{txt(label), num(int64(c.Customers))}
		for mi := 0; mi < maxM; mi++ {
			if mi >= len(c.Months) {
				row = append(row, Cell{Text: ""})
				continue
			}
			cm := c.Months[mi]
			ret := cm.Retention
			cell := pctCell(&ret)
			if cm.Partial {
				cell.Text += " (so far)"
			}
			row = append(row, cell)
			if mi > 0 && inChart { // month 0 is 100 % by definition and would flatten the colours
				cc.Cells = append(cc.Cells, [3]float64{float64(mi), float64(yi), round2(ret * 100)})
			}
		}
		if inChart {
			yi++
		}
		ct.Rows = append(ct.Rows, row)
	}
	cc.Height = max(320, 60+28*len(cc.Y))
	cc.Table = ct
	p.addChart(cc)
}

// segmentsLTVByChannel adds lifetime value by acquisition channel, for
// customers acquired in the period, and the one-line answer naming the channels
// with the most and the least valuable customers.
func (s *server) segmentsLTVByChannel(ctx context.Context, p *page, d *segmentsData, v *value.Snapshot, cur string) error {
	econ, err := s.econFor(ctx, p.Range, v)
	if errors.Is(err, errComputing) {
		d.EconErr = "The value per acquisition channel is still being computed; reload in a few seconds."
		return nil
	} else if err != nil {
		return err
	} else if len(econ) == 0 {
		return nil
	}
	ec := &Chart{ID: "ltv-by-channel", Kind: "bar", Title: "First-year value of a customer and what it cost to acquire one, by acquisition channel", Money: true, Currency: cur}
	et := &Table{ID: "ltv-by-channel", Caption: "Lifetime value by acquisition channel (value and CAC per customer)",
		Cols: []Col{{Label: "Acquisition channel"}, {Label: "Customers", Num: true}, {Label: "Acquired in period", Num: true}, {Label: "Spend in period", Num: true}, {Label: "CAC", Num: true}, {Label: "Value in first 12 months (predicted)", Num: true}, {Label: "LTV:CAC", Num: true}, {Label: "Payback (months)", Num: true}, {Label: "Note"}}}
	var ltv, cac []float64
	for _, c := range econ {
		ec.X = append(ec.X, c.Channel)
		ltv = append(ltv, money.Major(c.Predicted12, cur))
		cac = append(cac, money.Major(c.CAC, cur))
		cacCell, lc, pb := Cell{Text: "–"}, Cell{Text: "–"}, Cell{Text: "–"}
		if c.CAC > 0 {
			cacCell = amountF(c.CAC, cur)
			x := c.LTVToCAC
			lc = ratioCell(&x)
			if c.PaybackMonths >= 0 {
				pb = num(int64(c.PaybackMonths))
			} else {
				pb = Cell{Text: "not within 36", Raw: ""}
			}
		}
		et.Rows = append(et.Rows, []Cell{txt(c.Channel), num(int64(c.Customers)), num(int64(c.NewCustomers)), amount(c.Spend, cur), cacCell, amountF(c.Predicted12, cur), lc, pb, txt(c.Warning)})
	}
	d.LTVAnswer = ltvAnswer(econ, cur)
	ec.Series = []Series{{Name: "Value in first 12 months", Data: ltv}, {Name: "CAC", Data: cac}}
	ec.Table = et
	p.addChart(ec)
	return nil
}

// ltvAnswer is the one-line answer: which acquisition channel brings the most
// and the least valuable customers (channels with at least 30 customers, so one
// big spender does not decide it); empty when fewer than two channels qualify.
func ltvAnswer(econ []value.ChannelEconomics, cur string) string {
	var hi, lo *value.ChannelEconomics
	for i := range econ {
		c := &econ[i]
		if c.Customers < 30 {
			continue
		}
		if hi == nil || c.Predicted12 > hi.Predicted12 {
			hi = c
		}
		if lo == nil || c.Predicted12 < lo.Predicted12 {
			lo = c
		}
	}
	if hi != nil && lo != nil && hi != lo {
		return fmt.Sprintf("A customer who came through %s is worth %s in their first year, the most of any channel; through %s, %s, the least.",
			hi.Channel, formatMoney(int64(math.Round(hi.Predicted12)), cur), lo.Channel, formatMoney(int64(math.Round(lo.Predicted12)), cur))
	}
	return ""
}

// pAlive is the probability the churn band was cut on: Pareto/NBD's when fitted.
func pAlive(pr value.Prediction) float64 {
	if pr.PAlivePareto >= 0 {
		return pr.PAlivePareto
	}
	return pr.PAliveBGNBD
}

// customerNames looks up display names (name, else email) for a few customers.
func (s *server) customerNames(ctx context.Context, ps []value.Prediction) (map[string]string, error) {
	out := map[string]string{}
	if len(ps) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ps))
	for _, pr := range ps {
		id, err := strconv.ParseInt(pr.ID, 10, 64)
		if err != nil {
			continue
		}
		args = append(args, id)
	}
	if len(args) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id, name, email FROM customers WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("customer names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name, email string
		if err := rows.Scan(&id, &name, &email); err != nil {
			return nil, fmt.Errorf("customer names: %w", err)
		}
		if name == "" {
			name = email
		}
		if name == "" {
			name = "(no name)"
		}
		out[strconv.FormatInt(id, 10)] = name
	}
	return out, rows.Err()
}

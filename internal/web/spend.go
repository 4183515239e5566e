package web

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
)

// bucket picks the chart's time step so a long period stays readable: days up to two
// months, weeks (starting Monday) up to ~14 months, months beyond.
type bucket int

const (
	byDay   = bucket(commerce.Day)
	byWeek  = bucket(commerce.Week)
	byMonth = bucket(commerce.Month)
)

func bucketFor(r Range, first time.Time) bucket {
	from := r.From
	if from.IsZero() {
		from = first
	}
	days := r.To.Sub(from).Hours() / 24
	switch {
	case days <= 62:
		return byDay
	case days <= 430:
		return byWeek
	}
	return byMonth
}

func (b bucket) start(t time.Time) time.Time { return commerce.Bucket(b).Start(t) }

func (b bucket) next(t time.Time) time.Time { return commerce.Bucket(b).Next(t) }

func (b bucket) label(t time.Time) string {
	switch b {
	case byWeek:
		return "week of " + t.Format("2 Jan 2006")
	case byMonth:
		return t.Format("Jan 2006")
	}
	return t.Format("2006-01-02")
}

func (b bucket) noun() string { return [...]string{"day", "week", "month"}[b] }

// buckets lists the bucket starts covering [from, to).
func (b bucket) buckets(from, to time.Time) []time.Time { return commerce.Bucket(b).Starts(from, to) }

type spendData struct {
	TotalMinor  int64
	OtherRows   int64 // rows in other currencies, left out of the sums
	Impressions int64
	Clicks      int64
	Bucket      string
}

func (s *server) spend(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := s.newPage(r, "/spend", "Spend")
	d := &spendData{}
	p.Data = d
	cur := p.Currency
	loc := p.Range.Loc

	// The spend primary key starts with day, so the period is an index range.
	rows, err := s.db.Query(ctx, `SELECT day, channel, `+s.db.SumMinor("amount_minor")+`, `+s.db.SumMinor("impressions")+`, `+s.db.SumMinor("clicks")+` FROM spend
		WHERE day >= ? AND day < ? AND currency = ? GROUP BY day, channel ORDER BY day`, p.Range.FromDay(), p.Range.ToDay(), cur)
	if err != nil {
		return fmt.Errorf("read spend: %w", err)
	}
	type row struct {
		day                  time.Time
		channel              string
		amount, impr, clicks int64
	}
	var all []row
	for rows.Next() {
		var x row
		var day string
		if err := rows.Scan(&day, &x.channel, &x.amount, &x.impr, &x.clicks); err != nil {
			rows.Close()
			return err
		}
		if x.day, err = time.ParseInLocation(dateLayout, day, loc); err != nil {
			continue // a malformed day from an import: skip rather than fail the page
		}
		all = append(all, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM spend WHERE day >= ? AND day < ? AND currency <> ?`, p.Range.FromDay(), p.Range.ToDay(), cur).Scan(&d.OtherRows); err != nil {
		return fmt.Errorf("count spend: %w", err)
	}

	type tot struct{ amount, impr, clicks int64 }
	perChannel := map[string]*tot{}
	for _, x := range all {
		t := perChannel[x.channel]
		if t == nil {
			t = &tot{}
			perChannel[x.channel] = t
		}
		t.amount = money.SatAdd(t.amount, x.amount)
		t.impr = money.SatAdd(t.impr, x.impr)
		t.clicks = money.SatAdd(t.clicks, x.clicks)
		d.TotalMinor = money.SatAdd(d.TotalMinor, x.amount)
		d.Impressions = money.SatAdd(d.Impressions, x.impr)
		d.Clicks = money.SatAdd(d.Clicks, x.clicks)
	}
	channels := make([]string, 0, len(perChannel))
	for c := range perChannel {
		channels = append(channels, c)
	}
	sort.Slice(channels, func(i, j int) bool { return perChannel[channels[i]].amount > perChannel[channels[j]].amount })

	ct := p.addTable(&Table{ID: "channels", Caption: "Spend per channel",
		Cols:  []Col{{Label: "Channel"}, {Label: "Spend", Num: true}, {Label: "Share", Num: true}, {Label: "Impressions", Num: true}, {Label: "Clicks", Num: true}, {Label: "Cost per click", Num: true}},
		Empty: "No spend in this period. Import it with `omniroi import spend` or add it by hand."})
	for _, c := range channels {
		t := perChannel[c]
		cpc := Cell{Text: "–"}
		if t.clicks > 0 {
			cpc = amount((t.amount+t.clicks/2)/t.clicks, cur)
		}
		share := "–"
		if d.TotalMinor > 0 {
			share = fmt.Sprintf("%.1f%%", float64(t.amount)*100/float64(d.TotalMinor))
		}
		ct.Rows = append(ct.Rows, []Cell{txt(c), amount(t.amount, cur), txt(share), num(t.impr), num(t.clicks), cpc})
	}

	// Spend over time: one series per channel, bucketed.
	if len(all) > 0 {
		b := bucketFor(p.Range, all[0].day)
		d.Bucket = b.noun()
		from := p.Range.From
		if from.IsZero() {
			from = all[0].day
		}
		starts := b.buckets(from, p.Range.To)
		idx := map[int64]int{} // by instant: see overview (a Location is compared by pointer)
		labels := make([]string, len(starts))
		for i, t := range starts {
			idx[t.Unix()] = i
			labels[i] = b.label(t)
		}
		grid := map[string][]int64{}
		for _, c := range channels {
			grid[c] = make([]int64, len(starts))
		}
		for _, x := range all {
			if i, ok := idx[b.start(x.day.In(p.Range.Loc)).Unix()]; ok {
				grid[x.channel][i] = money.SatAdd(grid[x.channel][i], x.amount)
			}
		}
		chart := &Chart{ID: "spend-over-time", Kind: "bar", Stacked: true, Title: "Spend per " + b.noun() + " and channel", Money: true, Currency: cur, X: labels}
		tt := &Table{ID: "spend-over-time", Caption: "Spend per " + b.noun() + " and channel", Hidden: true,
			Cols: append([]Col{{Label: "Period"}}, channelCols(channels)...)}
		tt.Cols = append(tt.Cols, Col{Label: "Total", Num: true})
		for _, c := range channels {
			vals := make([]float64, len(starts))
			for i, v := range grid[c] {
				vals[i] = money.Major(v, cur)
			}
			chart.Series = append(chart.Series, Series{Name: c, Data: vals})
		}
		for i := range starts {
			row := []Cell{txt(labels[i])}
			var sum int64
			for _, c := range channels {
				row = append(row, amount(grid[c][i], cur))
				sum = money.SatAdd(sum, grid[c][i])
			}
			row = append(row, amount(sum, cur))
			tt.Rows = append(tt.Rows, row)
		}
		chart.Table = tt
		p.addChart(chart)
	}
	return s.respond(w, r, "spend", p)
}

func channelCols(channels []string) []Col {
	out := make([]Col, len(channels))
	for i, c := range channels {
		out[i] = Col{Label: c, Num: true}
	}
	return out
}

package web

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/money"
)

// attrPeriod is everything the Overview, Attribution and Journeys pages need about one
// period: the journeys are built once and every model runs on the same set, so switching
// models costs nothing (attribution.ROI rebuilds the journeys per model and period:
// 22 builds for 11 models against the previous period).
type attrPeriod struct {
	From, To time.Time
	Summary  attribution.Summary
	Results  []attribution.Result // in attribution.ModelNames order, models that ran
	Skipped  []string
	Currency string

	// Model-independent per-channel figures, with attribution.ROI's definitions.
	Spend        map[string]int64 // business currency only
	SpendTotal   int64
	Touched      map[string]int64 // journeys touching the channel
	Converted    map[string]int64 // of them, converting
	NewCustomers map[string]int64 // first orders whose journey started with the channel
	NewTotal     int64

	Paths   []pathStat // every distinct path (consecutive repeats collapsed)
	Funnel  []stageCount
	Elapsed time.Duration
}

// pathStat is one channel path and what the journeys that followed it did.
type pathStat struct {
	Channels    []string
	Conversions float64
	Nulls       float64
	Value       float64 // major units
}

func (p pathStat) key() string { return strings.Join(p.Channels, " → ") }

// attrAnalysis is a period and, when it has one, the period of the same length before.
type attrAnalysis struct {
	Cur, Prev *attrPeriod
	Truth     *attribution.GroundTruthReport
	TruthErr  string
}

func (a *attrAnalysis) result(model string) *attribution.Result {
	for i := range a.Cur.Results {
		if a.Cur.Results[i].Model == model {
			return &a.Cur.Results[i]
		}
	}
	return nil
}

// attrFor returns the analysis of the page's period, computing it in the background.
func (s *server) attrFor(ctx context.Context, rg Range, cur string) (*attrAnalysis, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	key := fmt.Sprintf("attr|%d|%d|%s", rg.FromMS(), rg.ToMS(), cur)
	a, at, stale, err := computed(s.compute, key, ver, func(ctx context.Context) (*attrAnalysis, error) {
		return s.buildAttr(ctx, rg, cur)
	})
	return a, stamp{at, stale}, err
}

func (s *server) buildAttr(ctx context.Context, rg Range, cur string) (*attrAnalysis, error) {
	a := &attrAnalysis{}
	from, to := rg.From, rg.To
	if from.IsZero() {
		// "All time": from the first order (journeys look back from there anyway), within
		// the span data can have (an order stored with the date 0001-01-01 would start
		// the journeys at Go's zero time, which reads as "no time").
		var first int64
		if err := s.db.QueryRow(ctx, `SELECT COALESCE(MIN(ts), ?) FROM orders WHERE ts >= ?`, rg.FromMS(), rg.FromMS()).Scan(&first); err != nil {
			return nil, fmt.Errorf("first order: %w", err)
		}
		from = time.UnixMilli(first).In(rg.Loc)
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, rg.Loc)
	}
	var err error
	if a.Cur, err = s.buildAttrPeriod(ctx, from, to, cur); err != nil {
		return nil, err
	}
	if pr, ok := rg.Previous(); ok {
		if a.Prev, err = s.buildAttrPeriod(ctx, pr.From, pr.To, cur); err != nil {
			return nil, err
		}
	}
	if path := attribution.DefaultGroundTruth(s.db.DataDir); path != "" && len(a.Cur.Results) > 0 {
		rep, err := attribution.CompareGroundTruth(a.Cur.Results, path)
		if err != nil {
			a.TruthErr = err.Error()
		} else {
			a.Truth = &rep
		}
	}
	return a, nil
}

func (s *server) buildAttrPeriod(ctx context.Context, from, to time.Time, cur string) (*attrPeriod, error) {
	t0 := time.Now()
	p := &attrPeriod{From: from, To: to, Spend: map[string]int64{}, Touched: map[string]int64{}, Converted: map[string]int64{}, NewCustomers: map[string]int64{}}
	seen := map[string]bool{}
	opt := attribution.JourneyOptions{From: from, To: to}
	opt.OnJourney = func(info attribution.JourneyInfo) {
		j := &info.Journey
		converted := j.Conversions > 0
		if converted && info.FirstConversion && len(j.Touches) > 0 {
			p.NewCustomers[j.Touches[0].Channel]++
			p.NewTotal++
		}
		clear(seen)
		for _, t := range j.Touches {
			if seen[t.Channel] {
				continue
			}
			seen[t.Channel] = true
			p.Touched[t.Channel]++
			if converted {
				p.Converted[t.Channel]++
			}
		}
	}
	set, sum, err := attribution.BuildJourneys(ctx, s.db, opt)
	if err != nil {
		return nil, fmt.Errorf("build journeys: %w", err)
	}
	p.Summary, p.Currency = sum, sum.Currency
	if p.Currency == "" {
		p.Currency = cur
	}
	// Without a conversion there is nothing to credit (and markov has no absorbing state).
	if set.Len() > 0 && sum.Conversions > 0 {
		var models []attribution.Model
		for _, name := range attribution.ModelNames {
			if name == "time_decay" && set.Age == nil {
				p.Skipped = append(p.Skipped, name+": "+attribution.ErrNeedsTimes.Error())
				continue
			}
			m, err := attribution.New(name, attribution.Config{})
			if err != nil {
				return nil, err
			}
			models = append(models, m)
		}
		if p.Results, err = attribution.AttributeAll(set, models); err != nil {
			return nil, fmt.Errorf("attribute: %w", err)
		}
	}
	p.Paths = pathStats(set)

	// Spend of the period, business currency only (attribution.ROI adds other currencies
	// as if they were the same; the dashboard leaves them out, as everywhere else).
	rows, err := s.db.Query(ctx, `SELECT channel, `+s.db.SumMinor("amount_minor")+` FROM spend WHERE day >= ? AND day < ? AND currency = ? GROUP BY channel`,
		from.Format(time.DateOnly), to.Format(time.DateOnly), cur)
	if err != nil {
		return nil, fmt.Errorf("read spend: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch string
		var amt int64
		if err := rows.Scan(&ch, &amt); err != nil {
			return nil, fmt.Errorf("read spend: %w", err)
		}
		p.Spend[ch] = money.SatAdd(p.Spend[ch], amt)
		p.SpendTotal = money.SatAdd(p.SpendTotal, amt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read spend: %w", err)
	}
	if p.Funnel, err = s.funnel(ctx, from, to); err != nil {
		return nil, err
	}
	p.Elapsed = time.Since(t0)
	return p, nil
}

// pathStats groups the set's journeys by channel path, consecutive repeats collapsed
// (Email → Email → Paid Search is Email → Paid Search): the flow chart is about moving
// between channels, and repeats would split one route into many near-identical ones.
func pathStats(set *attribution.Set) []pathStat {
	if set == nil {
		return nil
	}
	byKey := map[string]*pathStat{}
	var buf []string
	for i := range set.Len() {
		buf = buf[:0]
		for _, c := range set.Ch[set.Off[i]:set.Off[i+1]] {
			name := set.Channels[c]
			if len(buf) == 0 || buf[len(buf)-1] != name {
				buf = append(buf, name)
			}
		}
		if len(buf) == 0 {
			continue
		}
		k := strings.Join(buf, "\x00")
		ps := byKey[k]
		if ps == nil {
			ps = &pathStat{Channels: append([]string(nil), buf...)}
			byKey[k] = ps
		}
		ps.Conversions += set.Conv[i]
		ps.Nulls += set.Nulls[i]
		ps.Value += set.Value[i]
	}
	out := make([]pathStat, 0, len(byKey))
	for _, ps := range byKey {
		out = append(out, *ps)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Conversions+a.Nulls != b.Conversions+b.Nulls {
			return a.Conversions+a.Nulls > b.Conversions+b.Nulls
		}
		return a.key() < b.key()
	})
	return out
}

// channelROI is one channel's row of the ROI table under one model.
type channelROI struct {
	Channel                  string
	Spend                    int64
	Revenue                  float64 // attributed, minor units
	Conversions              float64
	ROAS, ROIPct, CAC, CRate *float64
	NewCustomers             int64
}

// roiRows joins one model's credit with spend and the journey counts. Definitions are
// attribution.ROI's: ROAS = attributed revenue / spend, ROI % = (revenue - spend) / spend,
// CAC = spend / new customers whose first order's journey started with the channel,
// conversion rate = converting journeys touching the channel / journeys touching it.
func (p *attrPeriod) roiRows(model string) []channelROI {
	var res *attribution.Result
	for i := range p.Results {
		if p.Results[i].Model == model {
			res = &p.Results[i]
		}
	}
	scale := math.Pow10(money.Exponent(p.Currency))
	rows := map[string]*channelROI{}
	row := func(ch string) *channelROI {
		r := rows[ch]
		if r == nil {
			r = &channelROI{Channel: ch}
			rows[ch] = r
		}
		return r
	}
	if res != nil {
		for _, c := range res.ByChannel {
			r := row(c.Key)
			r.Revenue, r.Conversions = c.Value*scale, c.Conversions
		}
	}
	for ch, v := range p.Spend {
		row(ch).Spend = v
	}
	for ch := range p.Touched {
		row(ch)
	}
	out := make([]channelROI, 0, len(rows))
	for _, r := range rows {
		r.NewCustomers = p.NewCustomers[r.Channel]
		if r.Spend != 0 {
			r.ROAS = ratioP(r.Revenue, float64(r.Spend))
			if r.ROAS != nil {
				v := (r.Revenue - float64(r.Spend)) / float64(r.Spend) * 100
				r.ROIPct = &v
			}
			r.CAC = ratioP(float64(r.Spend), float64(r.NewCustomers))
		}
		r.CRate = ratioP(float64(p.Converted[r.Channel]), float64(p.Touched[r.Channel]))
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Revenue != out[j].Revenue {
			return out[i].Revenue > out[j].Revenue
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}

// attributedTotal is the revenue a model credited (minor units).
func (p *attrPeriod) attributedTotal(model string) float64 {
	scale := math.Pow10(money.Exponent(p.Currency))
	for _, r := range p.Results {
		if r.Model == model {
			return r.TotalValue * scale
		}
	}
	return 0
}

func ratioP(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	v := a / b
	return &v
}

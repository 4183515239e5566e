package value

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/omniroi/omniroi/internal/money"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Output formats of the Run functions.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

func checkFormat(f string) (string, error) {
	switch f {
	case "", FormatTable:
		return FormatTable, nil
	case FormatCSV, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want table, csv or json)", f)
}

// LoadTransactionsFile reads a transactions CSV file; "-" reads standard input.
// (LoadTransactions reads them from the store.)
func LoadTransactionsFile(path string) ([]Transaction, error) {
	if path == "" {
		return nil, errors.New("no transactions file given")
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open transactions: %w", err)
		}
		defer f.Close()
		r = f
	}
	txs, err := ReadTransactionsCSV(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(txs) == 0 {
		return nil, fmt.Errorf("%s: no transactions", path)
	}
	return txs, nil
}

// optionTransactions returns txs when given, else reads the file.
func optionTransactions(txs []Transaction, path string) ([]Transaction, error) {
	if txs == nil {
		return LoadTransactionsFile(path)
	}
	if len(txs) == 0 {
		return nil, errors.New("no transactions")
	}
	return txs, nil
}

// lastDay is the latest transaction's day, the default as-of date.
func lastDay(txs []Transaction) time.Time {
	var d int64 = -1 << 40
	for _, t := range txs {
		d = max(d, dayNumber(t.Time))
	}
	return dayTime(d)
}

// major converts minor units (a whole or predicted amount) to major units of cur for
// output, through money.Major (cur's exponent: JPY 0, EUR 2, KWD 3; 2 when cur is "",
// a transactions file of unknown currency).
func major[T ~int64 | ~float64](v T, cur string) float64 { return money.Major(v, cur) }

// moneyText prints minor units of cur for the text tables, through money.Format.
func moneyText[T ~int64 | ~float64](v T, cur string) string {
	return money.Format(int64(math.Round(float64(v))), cur)
}

// inCurrency names the currency of a money column in a table heading (" (EUR)"); nothing
// when it is unknown (a transactions file without one).
func inCurrency(cur string) string {
	if cur == "" {
		return ""
	}
	return " (" + cur + ")"
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// CLVOptions are the options of `omniroi clv`.
type CLVOptions struct {
	TransactionsFile string
	Transactions     []Transaction // used instead of TransactionsFile when non-nil (e.g. from the store)
	Format           string        // table | csv | json
	CalibrationEnd   time.Time     // zero: the last transaction day
	TimeUnit         string        // day | week (default week)
	Horizon          int           // months; 0 means 12
	Discount         float64       // per month; negative means 0, 0 means 0.01 unless NoDiscount
	NoDiscount       bool
	// Fitted is the store's snapshot (Service.Snapshot): its models are used instead of a
	// new fit when the options ask for what it fitted (weekly, at its as-of day, with
	// Pareto/NBD), so the CLI prints the numbers the API and the dashboard show.
	Fitted   *Snapshot
	Currency string      // of the amounts: how many decimals money prints with ("": 2)
	Limit    int         // top customers by CLV; 0 means all
	Bands    *ChurnBands // nil means DefaultChurnBands
	// SkipPareto leaves out Pareto/NBD, whose fit uses finite-difference gradients
	// and took 44 s at 10^6 synthetic customers (BG/NBD: under a second).
	SkipPareto bool
}

type clvCustomerOut struct {
	ID                string   `json:"id"`
	Frequency         int      `json:"frequency"`
	Recency           float64  `json:"recency"`
	T                 float64  `json:"T"`
	Monetary          float64  `json:"monetary"`
	PAliveBGNBD       float64  `json:"p_alive_bgnbd"`
	PAlivePareto      *float64 `json:"p_alive_pareto"` // null without Pareto/NBD
	ExpectedPurchases float64  `json:"expected_purchases"`
	ExpectedAvgValue  float64  `json:"expected_avg_value"`
	CLV               float64  `json:"clv"`
	ChurnBand         string   `json:"churn_band"`
	Realised          float64  `json:"realised_revenue"`
}

type paretoOut struct {
	R             float64 `json:"r"`
	Alpha         float64 `json:"alpha"`
	S             float64 `json:"s"`
	Beta          float64 `json:"beta"`
	LogLikelihood float64 `json:"log_likelihood"`
}

// gammaOut is a Gamma-Gamma fit as `omniroi clv` and /api/v1/clv print it: v in major units.
type gammaOut struct {
	P         float64 `json:"p"`
	Q         float64 `json:"q"`
	V         float64 `json:"v"`
	Customers int     `json:"customers"`
}

// newGammaOut writes v (a scale of amounts) in major units of cur, unrounded.
func newGammaOut(g GammaGamma, cur string) gammaOut {
	return gammaOut{g.P, g.Q, g.V / math.Pow10(money.Exponent(cur)), g.Customers}
}

type bandOut struct {
	Band      string  `json:"band"`
	Customers int     `json:"customers"`
	Realised  float64 `json:"realised_revenue"`
	Predicted float64 `json:"predicted_clv"`
}

type clvOut struct {
	CalibrationEnd string  `json:"calibration_end"`
	Unit           string  `json:"time_unit"`
	HorizonMonths  int     `json:"horizon_months"`
	Discount       float64 `json:"discount"`
	BGNBD          struct {
		R             float64 `json:"r"`
		Alpha         float64 `json:"alpha"`
		A             float64 `json:"a"`
		B             float64 `json:"b"`
		LogLikelihood float64 `json:"log_likelihood"`
	} `json:"bg_nbd"`
	Pareto    *paretoOut       `json:"pareto_nbd"` // null when skipped
	Gamma     gammaOut         `json:"gamma_gamma"`
	Bands     []bandOut        `json:"churn_bands"`
	Customers []clvCustomerOut `json:"customers"`
}

// RunCLV fits BG/NBD, Pareto/NBD and Gamma-Gamma on a transactions file and
// writes per-customer predictions, best CLV first. Money is printed in major units.
func RunCLV(ctx context.Context, o CLVOptions, stdout io.Writer) error {
	format, err := checkFormat(o.Format)
	if err != nil {
		return fmt.Errorf("clv: %w", err)
	}
	unit, err := ParseUnit(o.TimeUnit)
	if err != nil {
		return fmt.Errorf("clv: %w", err)
	}
	horizon := cmp.Or(o.Horizon, 12)
	if horizon < 0 {
		return fmt.Errorf("clv: horizon %d months is negative", horizon)
	}
	disc := o.Discount
	if disc == 0 && !o.NoDiscount {
		disc = 0.01
	}
	if disc < 0 || disc >= 1 {
		return fmt.Errorf("clv: monthly discount %g outside [0, 1)", disc)
	}
	bands := DefaultChurnBands
	if o.Bands != nil {
		bands = *o.Bands
	}
	if err := bands.Validate(); err != nil {
		return fmt.Errorf("clv: %w", err)
	}
	txs, err := optionTransactions(o.Transactions, o.TransactionsFile)
	if err != nil {
		return fmt.Errorf("clv: %w", err)
	}
	end := o.CalibrationEnd
	if end.IsZero() {
		end = lastDay(txs)
	}
	var sum []CustomerSummary
	var models Models
	if f := o.Fitted; f.fits(end, unit, !o.SkipPareto) {
		sum, models = f.Summaries, f.Models
	} else {
		if sum, err = Summarize(txs, end, unit); err != nil {
			return fmt.Errorf("clv: %w", err)
		}
		if models, err = FitModelsContext(ctx, sum, unit, !o.SkipPareto); err != nil {
			return fmt.Errorf("clv: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pred := models.Score(sum, ScoreOptions{HorizonMonths: horizon, Discount: disc, Bands: bands})
	var out clvOut
	out.CalibrationEnd = end.Format("2006-01-02")
	out.Unit = unit.String()
	out.HorizonMonths = horizon
	out.Discount = disc
	bg := models.BGNBD
	out.BGNBD.R, out.BGNBD.Alpha, out.BGNBD.A, out.BGNBD.B, out.BGNBD.LogLikelihood = bg.R, bg.Alpha, bg.A, bg.B, bg.LogLikelihood
	if pn := models.Pareto; pn != nil {
		out.Pareto = &paretoOut{pn.R, pn.Alpha, pn.S, pn.Beta, pn.LogLikelihood}
	}
	if models.HasSpend {
		out.Gamma = newGammaOut(models.Gamma, o.Currency)
	}
	for _, b := range SummarizeBands(pred) {
		out.Bands = append(out.Bands, bandOut{b.Band, b.Customers, major(b.Realised, o.Currency), major(b.Predicted, o.Currency)})
	}
	slices.SortStableFunc(pred, func(a, b Prediction) int { return cmp.Compare(b.CLV, a.CLV) })
	if o.Limit > 0 && o.Limit < len(pred) {
		pred = pred[:o.Limit]
	}
	for _, p := range pred {
		out.Customers = append(out.Customers, clvCustomerOut{
			ID: p.ID, Frequency: p.Frequency, Recency: round(p.Recency, 4), T: round(p.T, 4), Monetary: major(p.Monetary, o.Currency),
			PAliveBGNBD: round(p.PAliveBGNBD, 6), PAlivePareto: optional(round(p.PAlivePareto, 6), models.Pareto != nil),
			ExpectedPurchases: round(p.ExpectedPurchases, 6), ExpectedAvgValue: major(p.ExpectedAvgValue, o.Currency),
			CLV: major(p.CLV, o.Currency), ChurnBand: p.ChurnBand, Realised: major(p.Revenue, o.Currency),
		})
	}
	switch format {
	case FormatJSON:
		return writeJSON(stdout, out)
	case FormatCSV:
		rows := [][]string{{"id", "frequency", "recency", "T", "monetary", "p_alive_bgnbd", "p_alive_pareto", "expected_purchases", "expected_avg_value", "clv", "churn_band", "realised_revenue"}}
		for _, c := range out.Customers {
			rows = append(rows, []string{c.ID, strconv.Itoa(c.Frequency), ff(c.Recency), ff(c.T), ff(c.Monetary), ff(c.PAliveBGNBD), ffp(c.PAlivePareto),
				ff(c.ExpectedPurchases), ff(c.ExpectedAvgValue), ff(c.CLV), c.ChurnBand, ff(c.Realised)})
		}
		return writeCSV(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(stdout, "calibration end %s, unit %s, horizon %d months, discount %g/month, %d customers\n", out.CalibrationEnd, out.Unit, horizon, disc, len(sum))
	fmt.Fprintf(stdout, "BG/NBD      r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.2f\n", bg.R, bg.Alpha, bg.A, bg.B, bg.LogLikelihood)
	if pn := out.Pareto; pn != nil {
		fmt.Fprintf(stdout, "Pareto/NBD  r=%.4f alpha=%.4f s=%.4f beta=%.4f LL=%.2f\n", pn.R, pn.Alpha, pn.S, pn.Beta, pn.LogLikelihood)
	}
	fmt.Fprintf(stdout, "Gamma-Gamma p=%.4f q=%.4f v=%.4f (%d repeat customers)\n\n", out.Gamma.P, out.Gamma.Q, out.Gamma.V, out.Gamma.Customers)
	fmt.Fprintf(tw, "churn band\tcustomers\trealised revenue%[1]s\tpredicted value 12 months%[1]s\t\n", inCurrency(o.Currency))
	for _, b := range SummarizeBands(pred) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", b.Band, b.Customers, moneyText(b.Realised, o.Currency), moneyText(b.Predicted, o.Currency))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	units := out.Unit + "s"
	fmt.Fprintf(tw, "customer\trepeat orders\tlast repeat after (%[1]s)\tcustomer for (%[1]s)\taverage repeat order%[2]s\tchance still active (BG/NBD)\tchance still active (Pareto/NBD)\texpected orders 12 months\texpected order value%[2]s\tpredicted value 12 months%[2]s\tchurn band\trealised revenue%[2]s\t\n", units, inCurrency(o.Currency))
	for i, c := range out.Customers {
		pp := "-"
		if c.PAlivePareto != nil {
			pp = strconv.FormatFloat(*c.PAlivePareto, 'f', 3, 64)
		}
		p := pred[i]
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%s\t%.3f\t%s\t%.3f\t%s\t%s\t%s\t%s\t\n", c.ID, c.Frequency, c.Recency, c.T, moneyText(p.Monetary, o.Currency),
			c.PAliveBGNBD, pp, c.ExpectedPurchases, moneyText(p.ExpectedAvgValue, o.Currency), moneyText(p.CLV, o.Currency), c.ChurnBand, moneyText(p.Revenue, o.Currency))
	}
	return tw.Flush()
}

func optional(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ffp(v *float64) string {
	if v == nil {
		return ""
	}
	return ff(*v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func writeCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// SegmentsOptions are the options of `omniroi segments`.
type SegmentsOptions struct {
	TransactionsFile string
	Transactions     []Transaction // used instead of TransactionsFile when non-nil
	Format           string
	AsOf             time.Time     // zero: the last transaction day
	Previous         time.Time     // zero: AsOf minus Period
	Period           time.Duration // zero: 90 days
	Rules            []SegmentRule // nil: DefaultSegmentRules
	Small            *SmallSegment // nil: DefaultSmallSegment
	Limit            int           // customers listed (json/csv); 0 means all, table lists none
	// Churn adds the churn bands at AsOf (realised revenue beside predicted CLV):
	// BG/NBD, Gamma-Gamma and, unless SkipPareto, Pareto/NBD are fitted for it.
	Churn      bool
	TimeUnit   string // day | week (default week), for the churn models
	SkipPareto bool
	Currency   string    // of the amounts: how many decimals money prints with ("": 2)
	Fitted     *Snapshot // the store's snapshot: its churn bands when they are what is asked (as CLVOptions.Fitted)
}

// ReadSegmentRules reads rules as a JSON array of
// {"name", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"} and validates them.
func ReadSegmentRules(r io.Reader) ([]SegmentRule, error) {
	var raw []struct {
		Name string `json:"name"`
		RMin int    `json:"r_min"`
		RMax int    `json:"r_max"`
		FMin int    `json:"f_min"`
		FMax int    `json:"f_max"`
		MMin int    `json:"m_min"`
		MMax int    `json:"m_max"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("segment rules: %w", err)
	}
	rules := make([]SegmentRule, len(raw))
	for i, x := range raw {
		rules[i] = SegmentRule{Name: x.Name, RMin: x.RMin, RMax: x.RMax, FMin: x.FMin, FMax: x.FMax, MMin: x.MMin, MMax: x.MMax}
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// RunSegments scores RFM segments at the as-of date and the movement since the previous date.
func RunSegments(ctx context.Context, o SegmentsOptions, stdout io.Writer) error {
	format, err := checkFormat(o.Format)
	if err != nil {
		return fmt.Errorf("segments: %w", err)
	}
	txs, err := optionTransactions(o.Transactions, o.TransactionsFile)
	if err != nil {
		return fmt.Errorf("segments: %w", err)
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		asOf = lastDay(txs)
	}
	prev := o.Previous
	if prev.IsZero() {
		prev = asOf.Add(-cmp.Or(o.Period, 90*24*time.Hour))
	}
	small := DefaultSmallSegment
	if o.Small != nil {
		small = *o.Small
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep, err := Segments(txs, asOf, prev, o.Rules, small)
	if err != nil {
		return err
	}
	if o.Limit > 0 && o.Limit < len(rep.Scores) {
		rep.Scores = rep.Scores[:o.Limit]
	}
	var bands []bandOut
	var bandSums []BandSummary
	if o.Churn {
		var b []BandSummary
		if u, err := ParseUnit(o.TimeUnit); err == nil && o.Fitted.fits(asOf, u, !o.SkipPareto) {
			b = o.Fitted.Bands
		} else if b, err = churnBands(ctx, txs, asOf, o.TimeUnit, !o.SkipPareto); err != nil {
			return fmt.Errorf("segments: churn bands: %w", err)
		}
		bandSums = b
		for _, x := range b {
			bands = append(bands, bandOut{x.Band, x.Customers, major(x.Realised, o.Currency), major(x.Predicted, o.Currency)})
		}
	}
	switch format {
	case FormatJSON:
		// The same shape as RFMScore, with money in major units.
		type cust struct {
			ID          string  `json:"id"`
			RecencyDays int     `json:"recency_days"`
			Frequency   int     `json:"frequency"`
			Monetary    float64 `json:"monetary"`
			R           int     `json:"r"`
			F           int     `json:"f"`
			M           int     `json:"m"`
			Segment     string  `json:"segment"`
		}
		type out struct {
			AsOf        string           `json:"as_of"`
			Previous    string           `json:"previous"`
			Segments    []segmentJSON    `json:"segments"`
			Transitions TransitionMatrix `json:"transitions"`
			Customers   []cust           `json:"customers"`
			ChurnBands  []bandOut        `json:"churn_bands,omitempty"`
		}
		cur := o.Currency
		o := out{AsOf: asOf.Format("2006-01-02"), Previous: prev.Format("2006-01-02"), Transitions: rep.Transitions, ChurnBands: bands}
		o.Segments = appendSegmentsJSON(nil, rep.Segments, cur)
		for _, x := range rep.Scores {
			o.Customers = append(o.Customers, cust{x.ID, x.RecencyDays, x.Frequency, major(x.Monetary, cur), x.R, x.F, x.M, x.Segment})
		}
		return writeJSON(stdout, o)
	case FormatCSV:
		rows := [][]string{{"id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"}}
		for _, s := range rep.Scores {
			rows = append(rows, []string{s.ID, strconv.Itoa(s.RecencyDays), strconv.Itoa(s.Frequency), ff(major(s.Monetary, o.Currency)),
				strconv.Itoa(s.R), strconv.Itoa(s.F), strconv.Itoa(s.M), s.Segment})
		}
		return writeCSV(stdout, rows)
	}
	fmt.Fprintf(stdout, "RFM segments as of %s (movement since %s)\n\n", asOf.Format("2006-01-02"), prev.Format("2006-01-02"))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "segment\tcustomers\tshare of customers\trevenue%s\tshare of revenue\twarning\n", inCurrency(o.Currency))
	for _, s := range rep.Segments {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%s\t%.1f%%\t%s\n", s.Segment, s.Customers, 100*s.Share, moneyText(s.Revenue, o.Currency), 100*s.RevenueShare, s.Warning)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "from \\ to\t"+strings.Join(rep.Transitions.To, "\t"))
	for i, from := range rep.Transitions.From {
		cells := make([]string, len(rep.Transitions.Counts[i]))
		for j, c := range rep.Transitions.Counts[i] {
			cells[j] = strconv.Itoa(c)
		}
		fmt.Fprintln(tw, from+"\t"+strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bands) > 0 {
		fmt.Fprintf(stdout, "\nChurn bands as of %s (P(alive); realised net revenue so far beside predicted 12-month CLV)\n", asOf.Format("2006-01-02"))
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "churn band\tcustomers\trealised revenue%[1]s\tpredicted value 12 months%[1]s\t\n", inCurrency(o.Currency))
		for _, b := range bandSums {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", b.Band, b.Customers, moneyText(b.Realised, o.Currency), moneyText(b.Predicted, o.Currency))
		}
		return tw.Flush()
	}
	return nil
}

// churnBands fits the models at asOf and totals the default churn bands
// (12 months, 1 %/month discount).
func churnBands(ctx context.Context, txs []Transaction, asOf time.Time, timeUnit string, withPareto bool) ([]BandSummary, error) {
	unit, err := ParseUnit(timeUnit)
	if err != nil {
		return nil, err
	}
	sum, err := Summarize(txs, asOf, unit)
	if err != nil {
		return nil, err
	}
	models, err := FitModelsContext(ctx, sum, unit, withPareto)
	if err != nil {
		return nil, err
	}
	return SummarizeBands(models.Score(sum, ScoreOptions{HorizonMonths: 12, Discount: 0.01, Bands: DefaultChurnBands})), nil
}

// ReadChannelsCSV reads customer_id,channel pairs (with a header) into a map.
func ReadChannelsCSV(r io.Reader) (map[string]string, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("channels csv: reading header: %w", err)
	}
	ci, hi := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "customer_id":
			ci = i
		case "channel":
			hi = i
		}
	}
	if ci < 0 || hi < 0 {
		return nil, fmt.Errorf("channels csv: header needs customer_id and channel, got %v", header)
	}
	out := map[string]string{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("channels csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		id, ch := strings.TrimSpace(rec[ci]), strings.TrimSpace(rec[hi])
		if id == "" {
			return nil, fmt.Errorf("channels csv: line %d: column customer_id: empty", line)
		}
		out[id] = ch
	}
}

// segmentJSON is a SegmentStat as `omniroi segments --format json` and /api/v1/segments
// print it: shares rounded, revenue in major units.
type segmentJSON struct {
	Segment      string  `json:"segment"`
	Customers    int     `json:"customers"`
	Share        float64 `json:"share"`
	Revenue      float64 `json:"revenue"`
	RevenueShare float64 `json:"revenue_share"`
	Warning      string  `json:"warning,omitempty"`
}

// appendSegmentsJSON appends ss to dst as segmentJSON; dst decides whether no segments
// print as null (nil) or [] (empty).
func appendSegmentsJSON(dst []segmentJSON, ss []SegmentStat, cur string) []segmentJSON {
	for _, x := range ss {
		dst = append(dst, segmentJSON{x.Segment, x.Customers, round(x.Share, 6), major(x.Revenue, cur), round(x.RevenueShare, 6), x.Warning})
	}
	return dst
}

// cohortJSON is a cohort as `omniroi cohorts --format json` and /api/v1/cohorts print it:
// rates rounded, revenue in major units.
type cohortJSON struct {
	Channel    string            `json:"channel,omitempty"`
	Start      string            `json:"start"`
	Customers  int               `json:"customers"`
	Repeaters  int               `json:"repeaters"`
	RepeatRate float64           `json:"repeat_rate"`
	Months     []cohortMonthJSON `json:"months"`
	Censored   bool              `json:"censored,omitempty"` // the data's first month: includes earlier customers
}

type cohortMonthJSON struct {
	Month     int     `json:"month"`
	Active    int     `json:"active"`
	Retention float64 `json:"retention"`
	Revenue   float64 `json:"revenue"`
	Partial   bool    `json:"partial,omitempty"`
}

// appendCohortsJSON appends cs to dst as cohortJSON; dst decides whether no cohorts
// print as null (nil) or [] (empty).
func appendCohortsJSON(dst []cohortJSON, cs []Cohort, cur string) []cohortJSON {
	for _, c := range cs {
		x := cohortJSON{c.Channel, c.Start, c.Customers, c.Repeaters, round(c.RepeatRate, 6), nil, c.Censored}
		for _, m := range c.Months {
			x.Months = append(x.Months, cohortMonthJSON{m.Month, m.Active, round(m.Retention, 6), major(m.Revenue, cur), m.Partial})
		}
		dst = append(dst, x)
	}
	return dst
}

// CohortsOptions are the options of `omniroi cohorts`.
type CohortsOptions struct {
	TransactionsFile string
	Transactions     []Transaction     // used instead of TransactionsFile when non-nil
	ChannelsFile     string            // optional CSV customer_id,channel
	Channels         map[string]string // used instead of ChannelsFile when non-nil
	Format           string
	AsOf             time.Time // zero: the last transaction day
	Currency         string    // of the amounts: how many decimals money prints with ("": 2)
}

// RunCohorts prints monthly acquisition cohorts (and the split by channel when a channels file is given).
func RunCohorts(ctx context.Context, o CohortsOptions, stdout io.Writer) error {
	format, err := checkFormat(o.Format)
	if err != nil {
		return fmt.Errorf("cohorts: %w", err)
	}
	txs, err := optionTransactions(o.Transactions, o.TransactionsFile)
	if err != nil {
		return fmt.Errorf("cohorts: %w", err)
	}
	channels := o.Channels
	if channels == nil && o.ChannelsFile != "" {
		f, err := os.Open(o.ChannelsFile)
		if err != nil {
			return fmt.Errorf("cohorts: %w", err)
		}
		channels, err = ReadChannelsCSV(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("cohorts: %s: %w", o.ChannelsFile, err)
		}
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		asOf = lastDay(txs)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep := Cohorts(txs, asOf, channels)
	switch format {
	case FormatJSON:
		return writeJSON(stdout, struct {
			AsOf      string       `json:"as_of"`
			Cohorts   []cohortJSON `json:"cohorts"`
			ByChannel []cohortJSON `json:"by_channel,omitempty"`
		}{asOf.Format("2006-01-02"), appendCohortsJSON(nil, rep.Cohorts, o.Currency), appendCohortsJSON(nil, rep.ByChannel, o.Currency)})
	case FormatCSV:
		rows := [][]string{{"channel", "cohort", "customers", "repeat_rate", "month", "active", "retention", "revenue", "partial"}}
		for _, group := range [][]Cohort{rep.Cohorts, rep.ByChannel} {
			for _, c := range group {
				for _, m := range c.Months {
					rows = append(rows, []string{c.Channel, c.Start, strconv.Itoa(c.Customers), ff(round(c.RepeatRate, 6)), strconv.Itoa(m.Month),
						strconv.Itoa(m.Active), ff(round(m.Retention, 6)), ff(major(m.Revenue, o.Currency)), strconv.FormatBool(m.Partial)})
				}
			}
		}
		return writeCSV(stdout, rows)
	}
	printCohorts := func(title string, cs []Cohort) {
		fmt.Fprintln(stdout, title)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		maxM := 0
		for _, c := range cs {
			maxM = max(maxM, len(c.Months))
		}
		hdr := "acquired through\tfirst order month\tcustomers\tordered again"
		for m := range maxM {
			hdr += "\tmonth " + strconv.Itoa(m)
		}
		fmt.Fprintln(tw, hdr)
		for _, c := range cs {
			start := c.Start
			if c.Censored {
				start += "*"
			}
			line := fmt.Sprintf("%s\t%s\t%d\t%.1f%%", cmp.Or(c.Channel, "all"), start, c.Customers, 100*c.RepeatRate)
			for _, m := range c.Months {
				line += fmt.Sprintf("\t%.0f%%", 100*m.Retention)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
		fmt.Fprintln(stdout)
	}
	printCohorts(fmt.Sprintf("Retention by month since first purchase, as of %s (last month partial; * the data's first month, which also holds customers from before the data)", asOf.Format("2006-01-02")), rep.Cohorts)
	if channels != nil {
		printCohorts("By acquisition channel", rep.ByChannel)
	}
	return nil
}

// fits reports whether sn (may be nil) holds models fitted as asked: at asOf, in unit,
// with Pareto/NBD when withPareto.
func (sn *Snapshot) fits(asOf time.Time, unit Unit, withPareto bool) bool {
	return sn != nil && !sn.NoRepeats && sn.AsOf.Equal(asOf) && sn.Models.Unit == unit && (sn.Models.Pareto != nil) == withPareto
}

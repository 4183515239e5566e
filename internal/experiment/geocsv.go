package experiment

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// GeoData is a daily series read from a file for `omniroi experiment plan-geo` and
// `analyze-geo`: the response per day (and per region when the file has regions), the
// channel's spend, and optionally each region's group and each day's on/off state.
type GeoData struct {
	Panel
	Spend         []float64   // per day, all regions
	SpendByRegion [][]float64 // [region][day], when the file has regions
	HasSpend      bool
	Group         map[string]string // region → treatment or control (a group column)
	On            []int             // per day: 1 on, 0 off, -1 not given (an on column)
}

// ReadGeoCSV reads rows of date,value with optional region, spend, group and on columns
// (a header names them; any order; other columns are ignored). Dates are YYYY-MM-DD and
// must run without gaps from the first to the last; a region missing on a day had no
// sales. Every bad row is reported with its line number.
func ReadGeoCSV(r io.Reader) (GeoData, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, col, err := readGeoHeader(cr)
	if err != nil {
		return GeoData{}, err
	}
	g := GeoData{Group: map[string]string{}}
	rows, err := readGeoRows(cr, header, col, g.Group)
	if err != nil {
		return GeoData{}, err
	}
	if len(rows) == 0 {
		return GeoData{}, errors.New("no rows after the header")
	}
	first, last := geoDayRange(rows)
	n := civilDays(first, last) + 1
	g.Metric, g.Days, g.HasSpend = MetricRevenue, n, col.spend >= 0
	for d := range n {
		g.Dates = append(g.Dates, first.AddDate(0, 0, d))
	}
	has, err := g.addGeoRows(rows, first)
	if err != nil {
		return GeoData{}, err
	}
	if err := checkEveryDay(g.Dates, has, first, last); err != nil {
		return GeoData{}, err
	}
	g.sortRegionsWithSpend()
	return g, nil
}

// geoColumns is where each known column sits in a geo file's rows (-1 when absent).
type geoColumns struct {
	date, value, region, spend, group, on int
}

// readGeoHeader reads the header line and finds the known columns in it ("geo" and
// "postcode" name the region column).
func readGeoHeader(cr *csv.Reader) ([]string, geoColumns, error) {
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, geoColumns{}, errors.New("the file is empty: want a header line date,value[,region][,spend][,group][,on] and one row per day (and region)")
	}
	if err != nil {
		return nil, geoColumns{}, fmt.Errorf("line 1: %w", err)
	}
	col := geoColumns{-1, -1, -1, -1, -1, -1}
	slots := map[string]*int{"date": &col.date, "value": &col.value, "region": &col.region, "spend": &col.spend, "group": &col.group, "on": &col.on}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if h == "geo" || h == "postcode" {
			h = "region"
		}
		if slot, ok := slots[h]; ok {
			if *slot >= 0 {
				return nil, geoColumns{}, fmt.Errorf("line 1: column %q appears twice", h)
			}
			*slot = i
		}
	}
	if col.date < 0 || col.value < 0 {
		return nil, geoColumns{}, fmt.Errorf("line 1: the header needs date and value (and optionally region, spend, group, on); got %q", strings.Join(header, ","))
	}
	return header, col, nil
}

// geoRow is one row of a geo file.
type geoRow struct {
	day          time.Time
	region       string
	value, spend float64
	on           int // 1 on, 0 off, -1 not given
}

// readGeoRows reads the rows after the header, recording each region's group in groups.
// It lists every bad row (up to maxCSVErrors) in one error.
func readGeoRows(cr *csv.Reader, header []string, col geoColumns, groups map[string]string) ([]geoRow, error) {
	var rows []geoRow
	var errs []string
	seen := map[string]int{} // day and region → line
	for len(errs) < maxCSVErrors {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, fmt.Sprintf("line %d: %v", pe.Line, pe.Err))
				continue
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		rw, msg := parseGeoRow(rec, header, col, line, seen, groups)
		if msg != "" {
			errs = append(errs, fmt.Sprintf("line %d: %s", line, msg))
			continue
		}
		rows = append(rows, rw)
	}
	if len(errs) > 0 {
		msg := strings.Join(errs, "\n")
		if len(errs) >= maxCSVErrors {
			msg += "\n(stopped after " + strconv.Itoa(maxCSVErrors) + " bad rows)"
		}
		return nil, errors.New(msg)
	}
	return rows, nil
}

// parseGeoRow reads one record, or says what is wrong with it. A good row's day and
// region go into seen and its group into groups.
func parseGeoRow(rec, header []string, col geoColumns, line int, seen map[string]int, groups map[string]string) (geoRow, string) {
	get := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var rw geoRow
	if col.value >= len(rec) || col.date >= len(rec) {
		return rw, fmt.Sprintf("%d fields where the header has %d", len(rec), len(header))
	}
	var err error
	if rw.day, err = time.Parse(time.DateOnly, get(col.date)); err != nil {
		return rw, fmt.Sprintf("date %q is not YYYY-MM-DD", get(col.date))
	}
	if rw.value, err = parseNumber(get(col.value)); err != nil {
		return rw, fmt.Sprintf("value %q %v", get(col.value), err)
	}
	if col.spend >= 0 {
		if rw.spend, err = parseNumber(get(col.spend)); err != nil || rw.spend < 0 {
			return rw, fmt.Sprintf("spend %q must be a number ≥ 0", get(col.spend))
		}
	}
	if rw.on, err = parseOnState(get(col.on)); err != nil {
		return rw, err.Error()
	}
	if col.region >= 0 {
		if rw.region = get(col.region); rw.region == "" {
			return rw, "region is empty"
		}
	}
	day := rw.day.Format(time.DateOnly)
	key := day + "\x00" + rw.region
	if prev, dup := seen[key]; dup {
		if rw.region != "" {
			return rw, fmt.Sprintf("%s, region %q is already on line %d", day, rw.region, prev)
		}
		return rw, fmt.Sprintf("%s is already on line %d", day, prev)
	}
	seen[key] = line
	if grp := strings.ToLower(get(col.group)); col.group >= 0 && rw.region != "" && grp != "" {
		if grp != "treatment" && grp != "control" {
			return rw, fmt.Sprintf("group %q: want treatment or control", grp)
		}
		if prev, ok := groups[rw.region]; ok && prev != grp {
			return rw, fmt.Sprintf("region %q is in both groups", rw.region)
		}
		groups[rw.region] = grp
	}
	return rw, ""
}

// parseOnState reads an on column's cell: 1 on, 0 off, -1 when the cell is empty.
func parseOnState(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return 1, nil
	case "0", "false", "no", "off":
		return 0, nil
	}
	return -1, fmt.Errorf("on %q: want 1 or 0", s)
}

// geoDayRange is the first and last day of the rows.
func geoDayRange(rows []geoRow) (first, last time.Time) {
	first, last = rows[0].day, rows[0].day
	for _, rw := range rows {
		if rw.day.Before(first) {
			first = rw.day
		}
		if rw.day.After(last) {
			last = rw.day
		}
	}
	return first, last
}

// addGeoRows sums the rows into g's daily series (g.Days days from first) and says which
// days had a row. A day whose rows disagree on the on state is an error.
func (g *GeoData) addGeoRows(rows []geoRow, first time.Time) ([]bool, error) {
	n := g.Days
	g.Total, g.Spend, g.On = make([]float64, n), make([]float64, n), make([]int, n)
	for i := range g.On {
		g.On[i] = -1
	}
	has := make([]bool, n)
	idx := map[string]int{}
	for _, rw := range rows {
		d := civilDays(first, rw.day)
		has[d] = true
		g.Total[d] += rw.value
		g.Spend[d] += rw.spend
		if rw.on >= 0 {
			if g.On[d] >= 0 && g.On[d] != rw.on {
				return nil, fmt.Errorf("%s: on is 1 in one row and 0 in another (a switchback switches the whole shop)", rw.day.Format(time.DateOnly))
			}
			g.On[d] = rw.on
		}
		if rw.region == "" {
			continue
		}
		i, ok := idx[rw.region]
		if !ok {
			i = len(g.Regions)
			idx[rw.region] = i
			g.Regions = append(g.Regions, rw.region)
			g.ByRegion = append(g.ByRegion, make([]float64, n))
			g.SpendByRegion = append(g.SpendByRegion, make([]float64, n))
		}
		g.ByRegion[i][d] += rw.value
		g.SpendByRegion[i][d] += rw.spend
	}
	return has, nil
}

// checkEveryDay refuses a series with days that have no row, naming up to five of them.
func checkEveryDay(dates []time.Time, has []bool, first, last time.Time) error {
	var missing []string
	for d, ok := range has {
		if !ok {
			missing = append(missing, dates[d].Format(time.DateOnly))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if len(missing) > 5 {
		missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
	}
	return fmt.Errorf("no rows for %s: the series needs every day from %s to %s (a day without sales is a row with value 0)",
		strings.Join(missing, ", "), first.Format(time.DateOnly), last.Format(time.DateOnly))
}

// sortRegionsWithSpend orders the regions by size, their spend rows along.
func (g *GeoData) sortRegionsWithSpend() {
	order := map[string][]float64{}
	for i, r := range g.Regions {
		order[r] = g.SpendByRegion[i]
	}
	sortRegions(&g.Panel)
	for i, r := range g.Regions {
		g.SpendByRegion[i] = order[r]
	}
}

// dayIndex is the index of day in dates, or an error naming the range.
func dayIndex(dates []time.Time, day string) (int, error) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, fmt.Errorf("%q is not YYYY-MM-DD", day)
	}
	i := civilDays(dates[0], t)
	if i < 0 || i > len(dates) {
		return 0, fmt.Errorf("%s is outside the file's days (%s to %s)", day, dates[0].Format(time.DateOnly), dates[len(dates)-1].Format(time.DateOnly))
	}
	return i, nil
}

// GeoFileOptions say how to read a file's test.
type GeoFileOptions struct {
	TestStart, TestEnd string   // YYYY-MM-DD; the end is the last test day (default: the file's last day)
	Design             string   // regions or switchback; default regions when the file has regions
	Treatment          []string // regions whose channel changed (else the group column)
	Washout            int      // switchback; -1 for the default
	PeriodDays         int      // switchback: the schedule's period; 0: each run of one state is a period
	Alpha              float64
	Channel            string
	Unit               string
}

// AnalyzeGeoFile analyses a file's test.
func AnalyzeGeoFile(g GeoData, o GeoFileOptions) (GeoResult, error) {
	start, err := dayIndex(g.Dates, o.TestStart)
	if err != nil {
		return GeoResult{}, fmt.Errorf("--test-start: %w", err)
	}
	end := g.Days
	if o.TestEnd != "" {
		e, err := dayIndex(g.Dates, o.TestEnd)
		if err != nil {
			return GeoResult{}, fmt.Errorf("--test-end: %w", err)
		}
		end = e + 1
	}
	design := o.Design
	if design == "" {
		design = DesignSwitchback
		if len(g.Regions) > 0 {
			design = DesignRegions
		}
	}
	switch design {
	case DesignRegions:
		if len(g.Regions) == 0 {
			return GeoResult{}, errors.New("a region test needs a region column")
		}
		treat := map[string]bool{}
		for _, r := range o.Treatment {
			treat[strings.TrimSpace(r)] = true
		}
		if len(treat) == 0 {
			for r, grp := range g.Group {
				treat[r] = grp == "treatment"
			}
		}
		var tr, ct []int
		known := map[string]bool{}
		for i, r := range g.Regions {
			known[r] = true
			if treat[r] {
				tr = append(tr, i)
			} else if len(g.Group) == 0 || len(o.Treatment) > 0 || g.Group[r] == "control" {
				ct = append(ct, i)
			}
		}
		for r, ok := range treat {
			if ok && !known[r] {
				return GeoResult{}, fmt.Errorf("treatment region %q is not in the file", r)
			}
		}
		if len(tr) == 0 || len(ct) == 0 {
			return GeoResult{}, errors.New("name the treated regions with --treatment A,B or a group column (treatment/control); both groups need at least one region")
		}
		in := TBRInput{Dates: g.Dates, Treated: sumRegions(g.ByRegion, tr), Control: sumRegions(g.ByRegion, ct),
			TestStart: start, TestEnd: end, Alpha: o.Alpha, Channel: o.Channel, Unit: o.Unit}
		if g.HasSpend {
			in.TreatedSpend, in.ControlSpend = sumRegions(g.SpendByRegion, tr), sumRegions(g.SpendByRegion, ct)
		}
		return AnalyzeTBR(in)
	case DesignSwitchback:
		on := make([]bool, g.Days)
		for d := range on {
			switch {
			case d < start:
				on[d] = true
			case g.On[d] >= 0:
				on[d] = g.On[d] == 1
			case g.HasSpend:
				on[d] = g.Spend[d] > 0
			default:
				return GeoResult{}, errors.New("a switchback file needs an on column or a spend column (a day with spend is on)")
			}
		}
		w := o.Washout
		if w < 0 {
			w = DefaultWashout
		}
		in := SwitchbackInput{Dates: g.Dates, Response: g.Total, On: on, TestStart: start, TestEnd: end, Washout: w, PeriodDays: o.PeriodDays,
			Alpha: o.Alpha, Channel: o.Channel, Unit: o.Unit}
		if g.HasSpend {
			in.Spend = g.Spend
		}
		return AnalyzeSwitchback(in)
	}
	return GeoResult{}, fmt.Errorf("design %q: want regions or switchback", design)
}

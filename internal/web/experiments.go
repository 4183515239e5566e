package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/journey"
)

// The Experiments pages: every stored test with its status, verdict and the sample it
// still needs; one test's report with the metric per arm over time; and, for roles that
// may change journeys and experiments, forms to create, start and stop. Figures come
// from internal/experiment (BuildReport, Describe), formatted here only.

type experimentRow struct {
	E       experiment.Experiment
	Verdict string
	Needed  string
}

type experimentsData struct {
	Error       string
	Form        url.Values // the create form's values after an error
	Units       []experiment.Unit
	Exp         *experiment.Experiment
	Det         *experiment.Details
	Report      *experiment.Report
	ReportError string
	GuardTables []string // ids of the guardrail tables
}

func (d *experimentsData) FormValue(k string) string {
	if d.Form == nil {
		return ""
	}
	return d.Form.Get(k)
}

// expAnalysis is what the Experiments pages show of one experiment: its details with the
// plan from history (experiment.Describe) and, once started, its report
// (experiment.BuildReport) or why there is none. Both read the events and orders, seconds
// on a large store, so they are built in the background (compute.go) and the pages show
// the last result with its age, or say they are being computed and reload themselves.
type expAnalysis struct {
	Det       experiment.Details
	Report    *experiment.Report
	ReportErr string
}

// expComputing is the list's and the report's word while an experiment is analysed.
const expComputing = "being computed; this page reloads itself"

// expFor returns e's analysis, built in the quick lane of the background builds. Its
// version is the data version and the minute: a report depends on the time (the days
// run so far) and on the journey engine's runs as well as on the processed events.
func (s *server) expFor(ctx context.Context, e experiment.Experiment) (*expAnalysis, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	ver = s.opt.Now().UTC().Truncate(time.Minute).Format(time.RFC3339) + "|" + ver
	unix := func(t *time.Time) int64 {
		if t == nil {
			return 0
		}
		return t.Unix()
	}
	key := fmt.Sprintf("experiment|%s|%s|%d|%d", e.Name, e.Status, unix(e.Start), unix(e.End))
	a, at, stale, err := computedIn(ctx, s.compute, s.compute.quick, key, ver, func(ctx context.Context) (*expAnalysis, error) {
		now := s.opt.Now()
		a := &expAnalysis{Det: experiment.Describe(ctx, s.db, e, now)}
		if e.Status != experiment.StatusDraft {
			rep, err := experiment.BuildReport(ctx, s.db, e.Name, experiment.ReportOptions{Now: now, Journeys: journey.ExperimentReport})
			if err != nil {
				a.ReportErr = err.Error()
			} else {
				a.Report = &rep
			}
		}
		return a, nil
	})
	return a, stamp{at, stale}, err
}

// expSummary is an experiment's verdict and the sample it still needs, for the list.
func expSummary(e experiment.Experiment, a *expAnalysis) (verdict, needed string) {
	if e.Status == experiment.StatusDraft {
		if a.Det.PlanText != "" {
			return "not started", a.Det.PlanText
		}
		return "not started", a.Det.PlanError
	}
	if a.Report == nil {
		return "", a.ReportErr
	}
	r := a.Report
	n := ""
	if m := r.Primary.Result.Verdict.MoreUnits; m > 0 {
		// At the pace so far: units per day into all arms.
		arms := float64(len(e.Variants))
		if pace := float64(r.Units) / r.Days; r.Days >= 1 && pace > 0 {
			n = fmt.Sprintf("about %s more days at this pace", formatInt(int64(math.Ceil(float64(m)*arms/pace))))
		} else {
			n = fmt.Sprintf("%s more %s per arm", formatInt(m), e.Unit.Noun())
		}
	}
	return r.Verdict, n
}

func (s *server) experiments(w http.ResponseWriter, r *http.Request) error {
	return s.experimentsPage(w, r, &experimentsData{})
}

func (s *server) experimentsPage(w http.ResponseWriter, r *http.Request, d *experimentsData) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/experiments", "Experiments")
	p.NoRange = true
	d.Units = experiment.Units
	p.Data = d
	list, err := experiment.List(ctx, s.db)
	if err != nil {
		return err
	}
	order := map[string]int{experiment.StatusRunning: 0, experiment.StatusDraft: 1, experiment.StatusStopped: 2}
	sort.SliceStable(list, func(i, j int) bool { return order[list[i].Status] < order[list[j].Status] })
	t := p.addTable(&Table{ID: "experiments", Caption: "Experiments: running, drafts, finished", Empty: "No experiments yet.",
		Cols: []Col{{Label: "Experiment"}, {Label: "Status"}, {Label: "Tests"}, {Label: "Metric"}, {Label: "Started"}, {Label: "Verdict"}, {Label: "Still needed"}}})
	loc := s.location(ctx)
	var oldest stamp
	for _, e := range list {
		var verdict, needed string
		a, st, err := s.expFor(ctx, e)
		switch {
		case errors.Is(err, errComputing):
			verdict, needed = expComputing, ""
			p.Refresh = true
		case err != nil:
			needed = err.Error()
		default:
			verdict, needed = expSummary(e, a)
			if oldest.At.IsZero() || st.At.Before(oldest.At) {
				oldest.At = st.At
			}
			oldest.Stale = oldest.Stale || st.Stale
		}
		started := "–"
		if e.Start != nil {
			started = e.Start.In(loc).Format("2006-01-02")
		}
		t.Rows = append(t.Rows, []Cell{{Text: e.Name, Href: "/experiments/" + url.PathEscape(e.Name)}, txt(e.Status), txt(expWhat(e)),
			txt(e.Metric.Label(e.Unit)), txt(started), txt(orDash(verdict)), txt(orDash(needed))})
	}
	if p.Refresh {
		p.setJSON("computing", true)
	} else if err := p.computed(oldest, nil); err != nil {
		return err
	}
	return s.respond(w, r, "experiments", p)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// expWhat says what an experiment tests, in a few words.
func expWhat(e experiment.Experiment) string {
	var keys []string
	for _, v := range e.Variants {
		keys = append(keys, v.Key)
	}
	vs := strings.Join(keys, " vs ")
	switch {
	case e.IsJourneyTest():
		return fmt.Sprintf("%s in journey %s (%s)", vs, e.Design.Journey, e.Design.Mode)
	case e.Unit == experiment.UnitRegion:
		return fmt.Sprintf("%s off in some postcode areas", e.Channel)
	case e.Unit == experiment.UnitDay && e.Channel != "":
		return fmt.Sprintf("%s switched on and off", e.Channel)
	}
	return fmt.Sprintf("%s, by %s", vs, strings.TrimSuffix(e.Unit.Noun(), "s"))
}

// createExperiment (POST /experiments) stores a draft from the form.
func (s *server) createExperiment(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := r.PostForm
	e, err := experimentFromForm(f)
	if err == nil {
		_, err = experiment.Create(r.Context(), s.db, audit.ActorFrom(r.Context()), e)
	}
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return s.experimentsPage(w, r, &experimentsData{Error: err.Error(), Form: f})
	}
	http.Redirect(w, r, "/experiments/"+url.PathEscape(e.Name), http.StatusSeeOther)
	return nil
}

func experimentFromForm(f url.Values) (experiment.Experiment, error) {
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	vs, err := experiment.ParseVariants(get("variants"))
	if err != nil {
		return experiment.Experiment{}, err
	}
	m, err := experiment.ParseMetric(get("metric"))
	if err != nil {
		return experiment.Experiment{}, err
	}
	e := experiment.Experiment{Name: get("name"), Hypothesis: get("hypothesis"), Unit: experiment.Unit(get("unit")), Variants: vs, Metric: m, Channel: get("channel")}
	if g := get("guardrail"); g != "" {
		gm, err := experiment.ParseMetric(g)
		if err != nil {
			return e, fmt.Errorf("guardrail: %w", err)
		}
		e.Guardrails = []experiment.Metric{gm}
	}
	if v := get("mde"); v != "" {
		var pc float64
		if _, err := fmt.Sscanf(strings.TrimSuffix(v, "%"), "%g", &pc); err != nil {
			return e, fmt.Errorf("smallest lift worth finding %q: a percentage such as 10", v)
		}
		e.MDE = pc / 100
	}
	if v := get("end"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return e, fmt.Errorf("end %q: a date such as 2026-06-30", v)
		}
		e.End = &t
	}
	if v := get("regions"); v != "" {
		if e.Design.Regions, err = experiment.ParseRegions(v); err != nil {
			return e, err
		}
	}
	return e, nil
}

// experimentPage (GET /experiments/{name}) is one experiment: what it tests, its plan,
// and, once started, its report with the metric per arm over time.
func (s *server) experimentPage(w http.ResponseWriter, r *http.Request) error {
	return s.experimentView(w, r, "")
}

func (s *server) experimentView(w http.ResponseWriter, r *http.Request, errMsg string) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	e, err := experiment.Get(ctx, s.db, r.PathValue("name"))
	if errors.Is(err, experiment.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	p := s.newPage(r, "/experiments", "Experiment "+e.Name)
	p.NoRange = true
	d := &experimentsData{Exp: &e, Det: &experiment.Details{Experiment: e}, Error: errMsg}
	p.Data = d
	loc := s.location(ctx)
	a, st, err := s.expFor(ctx, e)
	computing := errors.Is(err, errComputing)
	if err := p.computed(st, err); err != nil {
		return err
	}
	if computing {
		p.Computing = false // the experiment itself shows; its report says it is coming
		p.Refresh = true
		p.setJSON("computing", true)
		d.ReportError = "The report is " + expComputing + "."
		if e.IsAdTest() {
			d.Det.Schedule = e.Schedule(loc)
		}
	} else {
		d.Det = &a.Det
	}
	if len(d.Det.Schedule) > 0 {
		st := p.addTable(&Table{ID: "schedule", Caption: "Switchback schedule: when the channel runs", Cols: []Col{{Label: "From"}, {Label: "To"}, {Label: "Channel"}, {Label: "Variant"}}})
		for _, sp := range d.Det.Schedule {
			state := "off"
			if sp.On {
				state = "on"
			}
			st.Rows = append(st.Rows, []Cell{txt(sp.From), txt(sp.To), txt(state), txt(sp.Variant)})
		}
	}
	if !computing && e.Status != experiment.StatusDraft {
		if a.Report == nil {
			d.ReportError = a.ReportErr
		} else {
			d.Report = a.Report
			s.experimentReportTables(p, *a.Report, loc)
		}
	}
	return s.respond(w, r, "experiment", p)
}

func fnum(n experiment.Num, format string) string {
	if !n.Valid() {
		return "–"
	}
	return fmt.Sprintf(format, float64(n))
}

func fpct(n experiment.Num) string {
	if !n.Valid() {
		return "–"
	}
	return fmt.Sprintf("%+.1f %%", 100*float64(n))
}

// experimentReportTables adds the report's tables and charts to p.
func (s *server) experimentReportTables(p *page, rep experiment.Report, loc *time.Location) {
	if g := rep.Geo; g != nil {
		s.geoTables(p, *g)
		return
	}
	metricTable := func(id string, mr experiment.MetricReport) {
		label := mr.Label
		if mr.Currency != "" {
			label += " (" + mr.Currency + ")"
		}
		t := p.addTable(&Table{ID: id, Caption: strings.ToUpper(label[:1]) + label[1:] + " by variant", Empty: "No units yet.",
			Cols: []Col{{Label: "Variant"}, {Label: "Units", Num: true}, {Label: "Mean", Num: true}, {Label: "Lift", Num: true}, {Label: "95 % interval"},
				{Label: "p", Num: true}, {Label: "Chance to beat control", Num: true}}})
		for _, v := range mr.Result.Variants {
			name := v.Variant
			if v.Control {
				name += " (control)"
			}
			ci := "–"
			if v.LiftLow.Valid() {
				ci = fpct(v.LiftLow) + " to " + fpct(v.LiftHigh)
			}
			pb := "–"
			if v.ProbBeatControl.Valid() {
				pb = experiment.Chance(float64(v.ProbBeatControl))
			}
			t.Rows = append(t.Rows, []Cell{txt(name), num(v.N), {Text: fnum(v.Mean, "%.4g"), Raw: fnum(v.Mean, "%g")}, txt(fpct(v.Lift)), txt(ci),
				txt(fnum(v.PValue, "%.2g")), txt(pb)})
		}
	}
	metricTable("results", rep.Primary)
	d, _ := p.Data.(*experimentsData)
	for i, g := range rep.Guardrails {
		id := fmt.Sprintf("guardrail-%d", i+1)
		metricTable(id, g)
		if d != nil {
			d.GuardTables = append(d.GuardTables, id)
		}
	}
	if len(rep.Daily) == 0 {
		return
	}
	// The primary metric per arm at each day's end: the chart, and its table.
	label := rep.Primary.Label
	ch := &Chart{ID: "metric-over-time", Kind: "line", Title: strings.ToUpper(label[:1]) + label[1:] + " per variant, cumulative, by day",
		Money: rep.Primary.Currency != "", Currency: rep.Primary.Currency}
	cols := []Col{{Label: "Day"}}
	var series []Series
	for _, v := range rep.Primary.Result.Variants {
		cols = append(cols, Col{Label: v.Variant, Num: true})
		series = append(series, Series{Name: v.Variant})
	}
	tab := &Table{ID: "metric-over-time", Caption: label + " per variant by day (cumulative)", Cols: cols, Hidden: true}
	for _, dp := range rep.Daily {
		ch.X = append(ch.X, dp.Day)
		row := []Cell{txt(dp.Day)}
		for i := range series {
			m := 0.0
			if i < len(dp.Variants) && dp.Variants[i].Mean.Valid() {
				m = float64(dp.Variants[i].Mean)
			}
			series[i].Data = append(series[i].Data, m)
			row = append(row, Cell{Text: fmt.Sprintf("%.4g", m), Raw: fmt.Sprintf("%g", m)})
		}
		tab.Rows = append(tab.Rows, row)
	}
	ch.Series, ch.Table = series, tab
	p.addChart(ch)
}

// geoTables shows an ad-channel test: the effect with its interval, and the cumulative
// effect over the test days as a chart.
func (s *server) geoTables(p *page, g experiment.GeoResult) {
	t := p.addTable(&Table{ID: "results", Caption: "The channel's effect over the test", Cols: []Col{{Label: "Figure"}, {Label: "Estimate", Num: true}, {Label: "95 % interval"}}})
	whole := func(n experiment.Num) string { return fnum(n, "%.0f") }
	two := func(n experiment.Num) string { return fnum(n, "%.2f") }
	ci := func(lo, hi experiment.Num, f func(experiment.Num) string) string {
		if !lo.Valid() || !hi.Valid() {
			return "–"
		}
		return f(lo) + " to " + f(hi)
	}
	t.Rows = append(t.Rows,
		[]Cell{txt("Incremental sales"), txt(whole(g.Incremental)), txt(ci(g.IncrementalLow, g.IncrementalHigh, whole))},
		[]Cell{txt("Lift"), txt(fpct(g.Lift)), txt(ci(g.LiftLow, g.LiftHigh, fpct))},
		[]Cell{txt("Spend the test moved"), txt(two(g.SpendChange)), txt("–")},
		[]Cell{txt("Return per unit of spend (ROAS)"), txt(two(g.ROAS)), txt(ci(g.ROASLow, g.ROASHigh, two))},
		[]Cell{txt("Placebo check: fake tests calling an effect"), txt(fmt.Sprintf("%d of %d", g.Placebo.FalseAlarms, g.Placebo.Windows)), txt("–")})
	ch := &Chart{ID: "metric-over-time", Kind: "line", Title: "Cumulative effect of the test with its 95 % interval, by day"}
	tab := &Table{ID: "metric-over-time", Caption: "Cumulative effect by day", Hidden: true,
		Cols: []Col{{Label: "Day"}, {Label: "Actual", Num: true}, {Label: "Predicted without the change", Num: true}, {Label: "Cumulative effect", Num: true}, {Label: "Low", Num: true}, {Label: "High", Num: true}}}
	series := []Series{{Name: "Cumulative effect"}, {Name: "Low"}, {Name: "High"}}
	for _, dd := range g.Daily {
		ch.X = append(ch.X, dd.Date)
		for i, v := range []experiment.Num{dd.Cumulative, dd.CumLow, dd.CumHigh} {
			series[i].Data = append(series[i].Data, float64(v))
		}
		tab.Rows = append(tab.Rows, []Cell{txt(dd.Date), txt(fnum(dd.Actual, "%.0f")), txt(fnum(dd.Predicted, "%.0f")), txt(fnum(dd.Cumulative, "%.0f")),
			txt(fnum(dd.CumLow, "%.0f")), txt(fnum(dd.CumHigh, "%.0f"))})
	}
	ch.Series, ch.Table = series, tab
	p.addChart(ch)
}

// startExperiment and stopExperiment (POST /experiments/{name}/start, /stop).
func (s *server) startExperiment(w http.ResponseWriter, r *http.Request) error {
	_, err := experiment.StartPlanned(r.Context(), s.db, audit.ActorFrom(r.Context()), r.PathValue("name"), s.opt.Now())
	return s.afterTransition(w, r, err)
}

func (s *server) stopExperiment(w http.ResponseWriter, r *http.Request) error {
	_, err := experiment.Stop(r.Context(), s.db, audit.ActorFrom(r.Context()), r.PathValue("name"), s.opt.Now())
	return s.afterTransition(w, r, err)
}

func (s *server) afterTransition(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, experiment.ErrNotFound) {
		return errNotFound
	}
	name := r.PathValue("name")
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return s.experimentView(w, r, err.Error())
	}
	http.Redirect(w, r, "/experiments/"+url.PathEscape(name), http.StatusSeeOther)
	return nil
}

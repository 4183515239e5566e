package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/journey"
)

type automationRow struct {
	journey.Summary
	Stats  journey.Activity // runs started and messages in the period, by outcome
	Report *journey.Report  // runs started in the period
	All    *journey.Report  // every run; nil when the period is all time
}

type automationsData struct {
	Ready     bool // the journey tables exist and at least one journey is applied
	Rows      []automationRow
	Name      string // detail view
	Templates []journey.Template

	// Detail view.
	Enabled   bool
	Version   int
	Applied   string // "applied" or "unchanged", after the apply form
	CostSaved bool
	Costs     []costField
	CostError bool
	Report    *journey.Report // the period's report, for its cost
}

// liftReports measures a journey's runs started in the period and, unless the period is
// all time, all its runs: both from one scan of the runs.
func (s *server) liftReports(ctx context.Context, name string, rg Range) (period, all *journey.Report, err error) {
	if allTime(rg) {
		period, err = journey.Measure(ctx, s.db, name, journey.ReportOptions{})
	} else {
		period, all, err = journey.MeasureWithAllTime(ctx, s.db, name, journey.ReportOptions{From: rg.From, To: rg.To})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("measure journey %s: %w", name, err)
	}
	return period, all, nil
}

func allTime(rg Range) bool { return rg.Preset == "all" }

// runsLabel names the runs a lift row counts, for people (text) and files (raw, an ISO
// 8601 interval of inclusive days).
func runsLabel(rg Range) Cell {
	if allTime(rg) {
		return Cell{Text: "All time", Raw: "all"}
	}
	last := rg.To.AddDate(0, 0, -1)
	if rg.From.IsZero() {
		return Cell{Text: "Until " + last.Format("2 Jan 2006"), Raw: "../" + last.Format(dateLayout)}
	}
	first := rg.From.Format("2 Jan 2006")
	if rg.From.Year() == last.Year() {
		first = rg.From.Format("2 Jan")
	}
	return Cell{Text: first + " – " + last.Format("2 Jan 2006"), Raw: rg.From.Format(dateLayout) + "/" + last.Format(dateLayout)}
}

// runsPhrase says which runs the period's lift counts.
func runsPhrase(rg Range) string {
	switch {
	case allTime(rg):
		return "all runs"
	case rg.From.IsZero():
		return "runs started " + strings.ToLower(runsLabel(rg).Text[:1]) + runsLabel(rg).Text[1:]
	}
	return "runs started in " + runsLabel(rg).Text
}

// liftCaption says which runs the lift table counts.
func liftCaption(rg Range) string {
	if allTime(rg) {
		return "Treated vs holdout, all runs that reached a message (an order within the window after the first message, or the holdout's would-be message, converts a run)"
	}
	return "Treated vs holdout, " + runsPhrase(rg) + ", each followed by all runs; runs that reached a message (an order within the window after the first message, or the holdout's would-be message, converts a run, even after the period)"
}

func liftTable(p *page, rg Range) *Table {
	return p.addTable(&Table{ID: "lift", Caption: liftCaption(rg),
		// What the journey earned comes first, visible without scrolling the wide table.
		Cols: []Col{{Label: "Journey"}, {Label: "Runs started"}, {Label: "Incremental revenue", Num: true}, {Label: "Lift", Num: true}, {Label: "ROI", Num: true},
			{Label: "Treated runs", Num: true}, {Label: "Holdout runs", Num: true},
			{Label: "Treated conversion (95% CI)", Num: true}, {Label: "Holdout conversion (95% CI)", Num: true},
			{Label: "Treated revenue per run", Num: true}, {Label: "Holdout revenue per run", Num: true}, {Label: "Window"}}})
}

// liftRow is one report as a lift-table row; runs says which runs it counts.
func liftRow(name Cell, runs Cell, rep *journey.Report, currency string) []Cell {
	cur := rep.Currency
	if cur == "" {
		cur = currency
	}
	roi := Cell{Text: "–"}
	if rep.ROI != nil {
		roi = ratioCell(rep.ROI)
	}
	verdict := "not yet measurable"
	switch {
	case rep.Treated.Runs+rep.Holdout.Runs == 0:
		verdict = "no runs yet"
	case rep.SignificantLift:
		verdict = fmt.Sprintf("+%.1f pp (%.1f to %.1f)", rep.Lift, rep.LiftCI[0], rep.LiftCI[1])
	}
	// The revenue interval, or why there is none yet: revenue per run is mostly zeros and a
	// few baskets, and a normal-theory interval needs Cochran's number of runs per arm.
	inc := amountF(rep.Incremental, cur)
	switch {
	case rep.Treated.Runs+rep.Holdout.Runs == 0:
	case rep.TooFewRuns:
		need := ""
		for _, g := range []struct {
			name string
			g    journey.Group
		}{{"holdout", rep.Holdout}, {"treated", rep.Treated}} {
			if g.g.Runs < g.g.MinRuns {
				need = fmt.Sprintf("%s %d of the ~%d runs an interval needs", g.name, g.g.Runs, g.g.MinRuns)
				break
			}
		}
		inc.Text += " (" + need + ")"
	default:
		inc.Text += " (" + amountF(rep.IncrementalCI[0], cur).Text + " to " + amountF(rep.IncrementalCI[1], cur).Text + ")"
	}
	return []Cell{name, runs, inc, txt(verdict), roi, num(rep.Treated.Runs), num(rep.Holdout.Runs),
		rateCI(rep.Treated), rateCI(rep.Holdout), amountF(rep.Treated.RevenuePerRun, cur), amountF(rep.Holdout.RevenuePerRun, cur), txt(rep.Window)}
}

// addLiftRows appends a journey's period row and, below it, its all-time row.
func addLiftRows(t *Table, name Cell, rg Range, period, all *journey.Report, currency string) {
	t.Rows = append(t.Rows, liftRow(name, runsLabel(rg), period, currency))
	if all != nil {
		t.Rows = append(t.Rows, liftRow(name, Cell{Text: "All time", Raw: "all"}, all, currency))
	}
}

// automationRows lists every journey with its period activity (both cheap reads) and
// its holdout reports when they are ready: the reports scan every run of the journey, so
// they are built in the background (compute.go). ok is false while they are built, and
// the rows then carry no report.
func (s *server) automationRows(ctx context.Context, rg Range) (rows []automationRow, st stamp, ok bool, err error) {
	list, err := journey.Latest(ctx, s.db) // the page shows the period's counts, not List's
	if err != nil {
		return nil, st, false, err
	}
	stats, err := journey.PeriodActivity(ctx, s.db, rg.FromMS(), rg.ToMS())
	if err != nil {
		return nil, st, false, err
	}
	names := make([]string, len(list))
	for i, j := range list {
		names[i] = j.Name
	}
	lifts, st, err := s.liftsFor(ctx, rg, names)
	ok = err == nil
	if errors.Is(err, errComputing) {
		err = nil
	}
	if err != nil {
		return nil, st, false, err
	}
	rows = make([]automationRow, 0, len(list))
	for _, j := range list {
		row := automationRow{Summary: j}
		if l, found := lifts[j.Name]; found {
			row.Report, row.All = l.period, l.all
		}
		if st := stats[j.Name]; st != nil {
			row.Stats = *st
		}
		rows = append(rows, row)
	}
	return rows, st, ok, nil
}

// lift is a journey's holdout reports: runs started in the period and all runs.
type lift struct{ period, all *journey.Report }

// liftsFor returns the holdout reports of the named journeys for the period, built in the
// quick lane of the background builds. The version adds the minute (runs convert as their
// windows pass, and the journey engine writes runs the event processor does not see) and
// the journey changes made here (a journey's costs change its ROI: never shown stale).
func (s *server) liftsFor(ctx context.Context, rg Range, names []string) (map[string]lift, stamp, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, stamp{}, err
	}
	ver = s.opt.Now().UTC().Truncate(time.Minute).Format(time.RFC3339) + "|" + ver + fmt.Sprintf("|journeys:%d", s.compute.epoch.Load())
	key := "lifts|" + rg.Query().Encode() + "|" + strings.Join(names, ",")
	m, at, stale, err := computedIn(ctx, s.compute, s.compute.quick, key, ver, func(ctx context.Context) (map[string]lift, error) {
		m := make(map[string]lift, len(names))
		for _, n := range names {
			period, all, err := s.liftReports(ctx, n, rg)
			if err != nil {
				return nil, err
			}
			m[n] = lift{period, all}
		}
		return m, nil
	})
	return m, stamp{at, stale}, err
}

// liftComputing is the lift table's word while the reports are built.
const liftComputing = "The treated vs holdout comparison is being computed; this page reloads itself."

func rateCI(g journey.Group) Cell {
	if g.Runs == 0 {
		return Cell{Text: "–"}
	}
	return Cell{Text: fmt.Sprintf("%s (%s–%s)", fmtPct(g.Rate), fmtPct(g.RateCI[0]), fmtPct(g.RateCI[1])),
		Raw: strconv.FormatFloat(g.Rate*100, 'f', 2, 64)}
}

func (s *server) automations(w http.ResponseWriter, r *http.Request) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/automations", "Automations")
	d := &automationsData{Templates: journey.Templates()}
	p.Data = d
	if ok, err := s.hasTable(ctx, "journeys"); err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "automations", p))
	}
	rows, st, ok, err := s.automationRows(ctx, p.Range)
	if err != nil {
		return err
	}
	d.Rows, d.Ready = rows, len(rows) > 0
	if !d.Ready {
		return s.respond(w, r, "automations", p)
	}
	if ok {
		if err := p.computed(st, nil); err != nil {
			return err
		}
	} else {
		p.Refresh = true
		p.setJSON("computing", true)
	}
	at := p.addTable(&Table{ID: "automations", Caption: "Automations in this period",
		Cols: []Col{{Label: "Journey"}, {Label: "Version", Num: true}, {Label: "Enabled"}, {Label: "Runs", Num: true}, {Label: "Sends", Num: true},
			{Label: "Suppressed: holdout", Num: true}, {Label: "Suppressed: no consent", Num: true}, {Label: "Suppressed: frequency cap", Num: true},
			{Label: "Waiting: unverified address", Num: true}, {Label: "Held: new-recipient limit", Num: true}}})
	lt := liftTable(p, p.Range)
	if !ok {
		lt.Empty = liftComputing
	}
	ct := &Table{ID: "lift-chart", Caption: "Conversion rate, treated vs holdout, " + runsPhrase(p.Range), Hidden: true,
		Cols: []Col{{Label: "Journey"}, {Label: "Treated", Num: true}, {Label: "Holdout", Num: true}}}
	ch := &Chart{ID: "lift-chart", Kind: "bar", Title: "Conversion rate (%), treated vs holdout, " + runsPhrase(p.Range), Table: ct}
	var tr, ho []float64
	anyRuns := false
	for _, row := range rows {
		href := "/automations/" + row.Name
		en := "no"
		if row.Enabled {
			en = "yes"
		}
		st := row.Stats
		at.Rows = append(at.Rows, []Cell{{Text: row.Name, Href: p.Link(href)}, num(int64(row.Version)), txt(en), num(st.Runs), num(st.Sent), num(st.Holdout), num(st.NoConsent), num(st.Capped), num(st.Unverified), num(st.OverLimit)})
		rep := row.Report
		if rep == nil {
			continue
		}
		addLiftRows(lt, Cell{Text: row.Name, Href: p.Link(href)}, p.Range, rep, row.All, p.Currency)
		if rep.Treated.Runs+rep.Holdout.Runs > 0 {
			anyRuns = true
			ch.X = append(ch.X, row.Name)
			tr = append(tr, rep.Treated.Rate*100)
			ho = append(ho, rep.Holdout.Rate*100)
			t, h := rep.Treated.Rate, rep.Holdout.Rate
			ct.Rows = append(ct.Rows, []Cell{txt(row.Name), pctCell(&t), pctCell(&h)})
		}
	}
	if anyRuns {
		ch.Series = []Series{{Name: "Treated", Data: tr}, {Name: "Holdout", Data: ho}}
		p.addChart(ch)
	}
	return s.respond(w, r, "automations", p)
}

func (s *server) automation(w http.ResponseWriter, r *http.Request) error {
	return s.automationView(w, r, nil, nil)
}

// automationView is one journey's page; typed and costErrs keep a refused cost form.
func (s *server) automationView(w http.ResponseWriter, r *http.Request, typed, costErrs map[string]string) error {
	r = s.withWaitBudget(r)
	ctx := r.Context()
	name := r.PathValue("name")
	p := s.newPage(r, "/automations", "Automation "+name)
	d := &automationsData{Name: name, Applied: r.URL.Query().Get("applied"), CostSaved: r.URL.Query().Get("costs") == "saved", CostError: len(costErrs) > 0}
	p.Data = d
	if ok, err := s.hasTable(ctx, "journeys"); err != nil || !ok {
		return errors.Join(err, s.notFound(w, r))
	}
	det, err := journey.Show(ctx, s.db, name)
	if err != nil {
		// Show fails for an unknown name; a listed journey that fails is a real error.
		list, lerr := journey.List(ctx, s.db)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		for _, j := range list {
			if j.Name == name {
				return err
			}
		}
		return s.notFound(w, r)
	}
	d.Ready, d.Enabled, d.Version = true, det.Enabled, det.Version
	if d.Costs, err = s.journeyCostFields(r, name, typed, costErrs); err != nil {
		return err
	}
	lifts, lst, err := s.liftsFor(ctx, p.Range, []string{name})
	lt := liftTable(p, p.Range)
	switch {
	case errors.Is(err, errComputing):
		lt.Empty = liftComputing
		p.Refresh = true
		p.setJSON("computing", true)
	case err != nil:
		return err
	default:
		if err := p.computed(lst, nil); err != nil {
			return err
		}
		l := lifts[name]
		d.Report = l.period
		addLiftRows(lt, txt(name), p.Range, l.period, l.all, p.Currency)
	}
	cols := []Col{{Label: "#", Num: true}, {Label: "Step"}, {Label: "Waiting here", Num: true}, {Label: "Sent", Num: true},
		{Label: "Opened", Num: true}, {Label: "Clicked", Num: true}, {Label: "Suppressed", Num: true}}
	preview := p.Can(string(auth.PermReadPersonal)) // a preview shows a customer's data
	if preview {
		cols = append(cols, Col{Label: "Message"})
	}
	st := p.addTable(&Table{ID: "steps", Caption: fmt.Sprintf("Steps of version %d, with counts over all runs", det.Version), Empty: "This journey has no steps.", Cols: cols})
	for _, sc := range det.Steps {
		// Sends is keyed by status; pending and failed sends are neither sent nor suppressed.
		sent, sup := sc.Sends["sent"], int64(0)
		for _, n := range sc.Suppressed {
			sup += n
		}
		// The step in words: a message's template syntax is for its preview, not the list.
		text := sc.Words
		if sc.ID != "" {
			text = sc.ID + ": " + text
		}
		row := []Cell{num(int64(sc.Index + 1)), txt(text), num(sc.Waiting), num(sent), num(sc.Opened), num(sc.Clicked), num(sup)}
		if preview {
			c := txt("")
			if n := det.Plan.Nodes[sc.Index]; n.Send != nil && n.Send.Channel != "webhook" && n.Send.Channel != "profile" {
				c = Cell{Text: "Preview", Href: automationPath(name) + "/preview?step=" + strconv.Itoa(sc.Index+1)}
			}
			row = append(row, c)
		}
		st.Rows = append(st.Rows, row)
	}
	decs, err := journey.Decisions(ctx, s.db, name, 0, 20)
	if err != nil {
		return err
	}
	dt := p.addTable(&Table{ID: "decisions", Caption: "Latest sending decisions", Empty: "No channel or send-time decisions yet.",
		Cols: []Col{{Label: "When"}, {Label: "Run", Num: true}, {Label: "Step", Num: true}, {Label: "Kind"}, {Label: "Decision"}}})
	loc := s.location(ctx)
	for _, dc := range decs {
		dt.Rows = append(dt.Rows, []Cell{txt(dc.At.In(loc).Format("2006-01-02 15:04")), num(dc.RunID), num(int64(dc.Step)), txt(dc.Kind), txt(dc.Text)})
	}
	return s.respond(w, r, "automation", p)
}

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/omniroi/omniroi/internal/journey"
)

// automationStats is one journey's activity in the period: runs started, messages sent
// and sends the guardrails suppressed, by reason.
type automationStats struct {
	Runs, Sent, Holdout, Consent, Cap int64
}

type automationRow struct {
	journey.Summary
	Stats  automationStats
	Report *journey.Report
}

type automationsData struct {
	Ready bool // the journey tables exist and at least one journey is applied
	Rows  []automationRow
	Name  string // detail view
}

func (s *server) automationPeriodStats(ctx context.Context, rg Range) (map[string]*automationStats, error) {
	out := map[string]*automationStats{}
	get := func(n string) *automationStats {
		if out[n] == nil {
			out[n] = &automationStats{}
		}
		return out[n]
	}
	from, to := rg.FromMS(), rg.ToMS()
	rows, err := s.db.Query(ctx, `SELECT journey, COUNT(*) FROM journey_runs WHERE started_at >= ? AND started_at < ? GROUP BY journey`, from, to)
	if err != nil {
		return nil, fmt.Errorf("automation runs: %w", err)
	}
	for rows.Next() {
		var n string
		var c int64
		if err := rows.Scan(&n, &c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("automation runs: %w", err)
		}
		get(n).Runs = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("automation runs: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT journey, status, reason, COUNT(*) FROM journey_sends WHERE created_at >= ? AND created_at < ? AND status IN ('sent', 'suppressed') GROUP BY journey, status, reason`, from, to)
	if err != nil {
		return nil, fmt.Errorf("automation sends: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, st, reason string
		var c int64
		if err := rows.Scan(&n, &st, &reason, &c); err != nil {
			return nil, fmt.Errorf("automation sends: %w", err)
		}
		a := get(n)
		switch {
		case st == "sent":
			a.Sent += c
		case reason == "holdout":
			a.Holdout += c
		case reason == "no consent":
			a.Consent += c
		case reason == "frequency cap":
			a.Cap += c
		}
	}
	return out, rows.Err()
}

// automationRows lists every journey with its period activity and its holdout report.
// Measure covers all runs of a journey (the lift needs every run, not the period's).
func (s *server) automationRows(ctx context.Context, rg Range) ([]automationRow, error) {
	list, err := journey.List(ctx, s.db)
	if err != nil {
		return nil, err
	}
	stats, err := s.automationPeriodStats(ctx, rg)
	if err != nil {
		return nil, err
	}
	out := make([]automationRow, 0, len(list))
	for _, j := range list {
		rep, err := journey.Measure(ctx, s.db, j.Name, journey.ReportOptions{})
		if err != nil {
			return nil, fmt.Errorf("measure journey %s: %w", j.Name, err)
		}
		row := automationRow{Summary: j, Report: rep}
		if st := stats[j.Name]; st != nil {
			row.Stats = *st
		}
		out = append(out, row)
	}
	return out, nil
}

func rateCI(g journey.Group) Cell {
	if g.Runs == 0 {
		return Cell{Text: "–"}
	}
	return Cell{Text: fmt.Sprintf("%s (%s–%s)", fmtPct(g.Rate), fmtPct(g.RateCI[0]), fmtPct(g.RateCI[1])),
		Raw: strconv.FormatFloat(g.Rate*100, 'f', 2, 64)}
}

func (s *server) automations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := s.newPage(r, "/automations", "Automations")
	d := &automationsData{}
	p.Data = d
	if ok, err := s.hasTable(ctx, "journeys"); err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "automations", p))
	}
	key := "automations|" + p.Range.Query().Encode()
	rows, err := cached(s.cache, key, s.opt.Now(), func() ([]automationRow, error) { return s.automationRows(ctx, p.Range) })
	if err != nil {
		return err
	}
	d.Rows, d.Ready = rows, len(rows) > 0
	if !d.Ready {
		return s.respond(w, r, "automations", p)
	}
	at := p.addTable(&Table{ID: "automations", Caption: "Automations in this period",
		Cols: []Col{{Label: "Journey"}, {Label: "Version", Num: true}, {Label: "Enabled"}, {Label: "Runs", Num: true}, {Label: "Sends", Num: true},
			{Label: "Suppressed: holdout", Num: true}, {Label: "Suppressed: no consent", Num: true}, {Label: "Suppressed: frequency cap", Num: true}}})
	lt := p.addTable(&Table{ID: "lift", Caption: "Treated vs holdout (all runs; an order within the window after entry converts a run)",
		Cols: []Col{{Label: "Journey"}, {Label: "Window"}, {Label: "Treated runs", Num: true}, {Label: "Holdout runs", Num: true},
			{Label: "Treated conversion (95% CI)", Num: true}, {Label: "Holdout conversion (95% CI)", Num: true},
			{Label: "Treated revenue per run", Num: true}, {Label: "Holdout revenue per run", Num: true},
			{Label: "Incremental revenue", Num: true}, {Label: "ROI", Num: true}, {Label: "Lift"}}})
	ct := &Table{ID: "lift-chart", Caption: "Conversion rate, treated vs holdout", Hidden: true,
		Cols: []Col{{Label: "Journey"}, {Label: "Treated", Num: true}, {Label: "Holdout", Num: true}}}
	ch := &Chart{ID: "lift-chart", Kind: "bar", Title: "Conversion rate (%), treated vs holdout", Table: ct}
	var tr, ho []float64
	anyRuns := false
	for _, row := range rows {
		href := "/automations/" + row.Name
		en := "no"
		if row.Enabled {
			en = "yes"
		}
		st := row.Stats
		at.Rows = append(at.Rows, []Cell{{Text: row.Name, Href: p.Link(href)}, num(int64(row.Version)), txt(en), num(st.Runs), num(st.Sent), num(st.Holdout), num(st.Consent), num(st.Cap)})
		rep := row.Report
		cur := rep.Currency
		if cur == "" {
			cur = p.Currency
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
		lt.Rows = append(lt.Rows, []Cell{{Text: row.Name, Href: p.Link(href)}, txt(rep.Window), num(rep.Treated.Runs), num(rep.Holdout.Runs),
			rateCI(rep.Treated), rateCI(rep.Holdout), amountF(rep.Treated.RevenuePerRun, cur), amountF(rep.Holdout.RevenuePerRun, cur),
			amountF(rep.Incremental, cur), roi, txt(verdict)})
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
	ctx := r.Context()
	name := r.PathValue("name")
	p := s.newPage(r, "/automations", "Automation "+name)
	p.NoRange = true
	d := &automationsData{Name: name}
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
	d.Ready = true
	st := p.addTable(&Table{ID: "steps", Caption: fmt.Sprintf("Steps of version %d, with counts over all runs", det.Version), Empty: "This journey has no steps.",
		Cols: []Col{{Label: "#", Num: true}, {Label: "Step"}, {Label: "Waiting here", Num: true}, {Label: "Sent", Num: true},
			{Label: "Opened", Num: true}, {Label: "Clicked", Num: true}, {Label: "Suppressed", Num: true}}})
	for _, sc := range det.Steps {
		// Sends is keyed by status; pending and failed sends are neither sent nor suppressed.
		sent, sup := sc.Sends["sent"], int64(0)
		for _, n := range sc.Suppressed {
			sup += n
		}
		text := sc.Text
		if sc.ID != "" {
			text = sc.ID + ": " + text
		}
		st.Rows = append(st.Rows, []Cell{num(int64(sc.Index)), txt(text), num(sc.Waiting), num(sent), num(sc.Opened), num(sc.Clicked), num(sup)})
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

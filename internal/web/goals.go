package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/goals"
)

// The Goals page: each goal with what is counted so far, what the forecast expects by
// its date and how likely the target is; a form to add one (roles that may edit
// journeys and experiments); how the period's revenue is spread over channels; and the
// shop's email, SMS and conversion rates beside broad industry averages. Every figure
// comes from internal/goals (Track, ResilienceOf); this file formats.

type goalsData struct {
	Statuses   []goals.Status
	Error      string
	Form       url.Values
	Metrics    []string
	Resilience *goals.Resilience
	ResError   string
}

func (d *goalsData) FormValue(k string) string {
	if d.Form == nil {
		return ""
	}
	return d.Form.Get(k)
}

func (s *server) goalsPage(w http.ResponseWriter, r *http.Request) error {
	return s.goalsView(w, r, &goalsData{})
}

func (s *server) goalsView(w http.ResponseWriter, r *http.Request, d *goalsData) error {
	ctx := r.Context()
	p := s.newPage(r, "/goals", "Goals")
	d.Metrics = goals.Metrics
	p.Data = d
	now := s.opt.Now()
	gs, err := goals.List(ctx, s.db)
	if err != nil {
		return err
	}
	// Forecasts take up to a second per goal and the revenue dependency reads a month of
	// journeys: both are built in the background like the other analyses, once per data
	// version and day (the key has every goal, so a change shows at once).
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return err
	}
	ver += "|" + now.In(s.location(ctx)).Format(time.DateOnly)
	key := "goals|"
	for _, g := range gs {
		key += fmt.Sprintf("%s/%s/%d/%s/%s|", g.Name, g.Metric, g.Target, g.From.Format(time.DateOnly), g.By.Format(time.DateOnly))
	}
	sts, at, stale, err := computed(s.compute, key, ver, func(ctx context.Context) ([]goals.Status, error) { return goals.Track(ctx, s.db, gs, now) })
	if err := p.computed(stamp{at, stale}, err); err != nil {
		return err
	}
	d.Statuses = sts
	t := p.addTable(&Table{ID: "goals", Caption: "Goals and how likely they are", Empty: "No goals yet.",
		Cols: []Col{{Label: "Goal"}, {Label: "Metric"}, {Label: "From"}, {Label: "By"}, {Label: "So far", Num: true}, {Label: "Target", Num: true},
			{Label: "Expected by the date (80 % interval)", Num: true}, {Label: "Chance of reaching it", Num: true}, {Label: "Status"}}})
	for _, st := range d.Statuses {
		exp, prob := "–", st.Chance()
		if st.Expected > 0 {
			exp = fmt.Sprintf("%s (%s to %s)", goalAmount(st, st.Expected), goalAmount(st, st.Low), goalAmount(st, st.High))
		}
		t.Rows = append(t.Rows, []Cell{txt(st.Name), txt(st.Metric), txt(st.FromDay), txt(st.ByDay),
			{Text: goalAmount(st, st.Actual), Raw: fmt.Sprintf("%.2f", st.Actual)}, {Text: goalAmount(st, st.Target), Raw: fmt.Sprintf("%.2f", st.Target)},
			txt(exp), txt(prob), txt(st.Status)})
	}

	// The period of the page's range (all time: the last 30 days of orders).
	rg := p.Range
	from, to := rg.From, rg.To
	if from.IsZero() {
		from, to = time.Time{}, time.Time{}
	} else {
		// Calendar days of the range, as ROI reads them (UTC midnights).
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	}
	res, _, _, err := computed(s.compute, fmt.Sprintf("resilience|%d|%d", from.Unix(), to.Unix()), ver, func(ctx context.Context) (goals.Resilience, error) {
		return goals.ResilienceOf(ctx, s.db, from, to)
	})
	if errors.Is(err, errComputing) {
		p.Computing = true
		return s.respond(w, r, "goals", p)
	}
	if err != nil {
		d.ResError = err.Error()
		return s.respond(w, r, "goals", p)
	}
	d.Resilience = &res
	ct := p.addTable(&Table{ID: "revenue-dependency", Caption: fmt.Sprintf("Revenue by channel, %s to %s (%s credit)", res.From, res.To, res.Diversification.Model),
		Empty: "No revenue credited to a channel in the period.",
		Cols:  []Col{{Label: "Channel"}, {Label: "Revenue", Num: true}, {Label: "Share", Num: true}}})
	for _, c := range res.Diversification.Channels {
		ct.Rows = append(ct.Rows, []Cell{txt(c.Channel), {Text: goals.FormatMoney(c.Revenue, res.Diversification.Currency), Raw: fmt.Sprintf("%.2f", c.Revenue)},
			{Text: fmt.Sprintf("%.1f %%", c.Share*100), Raw: fmt.Sprintf("%.4f", c.Share)}})
	}
	bt := p.addTable(&Table{ID: "benchmarks", Caption: "This shop beside broad industry averages",
		Cols: []Col{{Label: "Measure"}, {Label: "This shop", Num: true}, {Label: "Industry average", Num: true}, {Label: "What the average covers"}, {Label: "Source"}}})
	for _, c := range res.Benchmarks {
		own := Cell{Text: "no data"}
		if c.Own != nil {
			own = Cell{Text: fmt.Sprintf("%.1f %%", *c.Own*100), Raw: fmt.Sprintf("%.4f", *c.Own)}
			if c.Basis != "" {
				own.Text += " (" + c.Basis + ")"
			}
		}
		bt.Rows = append(bt.Rows, []Cell{txt(c.Label), own, txt(c.BenchmarkValue()), txt(c.Scope),
			{Text: fmt.Sprintf("%s, %d", c.Source, c.Year), Href: c.URL}})
	}
	return s.respond(w, r, "goals", p)
}

// goalAmount writes a value of a goal's metric: money in whole units, or a count.
func goalAmount(st goals.Status, v float64) string {
	if st.Money() {
		return goals.FormatMoney(v, st.Currency)
	}
	return formatInt(int64(v + 0.5))
}

// addGoal (POST /goals) stores a goal from the form.
func (s *server) addGoal(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := r.PostForm
	ctx := r.Context()
	n := s.opt.Now().In(s.location(ctx))
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	g, err := goals.Parse(ctx, s.db, goals.Input{Name: f.Get("name"), Metric: f.Get("metric"), Target: f.Get("target"), From: f.Get("from"), By: f.Get("by")}, today)
	if err == nil {
		err = goals.Add(ctx, s.db, g, audit.ActorFrom(ctx))
	}
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return s.goalsView(w, r, &goalsData{Error: err.Error(), Form: f})
	}
	http.Redirect(w, r, "/goals", http.StatusSeeOther)
	return nil
}

// removeGoal (POST /goals/{name}/remove) deletes a goal.
func (s *server) removeGoal(w http.ResponseWriter, r *http.Request) error {
	err := goals.Remove(r.Context(), s.db, r.PathValue("name"), audit.ActorFrom(r.Context()))
	if errors.Is(err, goals.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/goals", http.StatusSeeOther)
	return nil
}

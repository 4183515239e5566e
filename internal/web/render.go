package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/quality"
)

type navItem struct {
	Path, Label string
	Active      bool
	Href        string
}

var navPages = []struct{ Path, Label string }{
	{"/", "Overview"},
	{"/attribution", "Attribution"},
	{"/paths", "Paths"},
	{"/automations", "Automations"},
	{"/experiments", "Experiments"},
	{"/customers", "Customers"},
	{"/leads", "Leads"},
	{"/clienteling", "Clienteling"},
	{"/segments", "Segments"},
	{"/spend", "Spend"},
	{"/budget", "Budget"},
	{"/goals", "Goals"},
	{"/sources", "Sources"},
	{"/users", "Users"},
	{"/tokens", "API tokens"},
	{"/audit", "Audit log"},
	{"/settings", "Settings"},
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      []navItem
	Path     string
	User     auth.User
	CSRF     string
	Range    Range
	RangeErr string
	Presets  []preset
	Currency string
	Message  string
	NoRange  bool   // pages where the period does not apply
	Q        string // search text kept by the period form
	Model    string // attribution model kept by the period form (Overview)
	Home     string // where the brand links: the overview, or the role's first page (staff)

	Computing  bool   // a background analysis is still running: show a notice that reloads
	ComputedAt string // when the page's models were computed
	Stale      bool
	Refresh    bool // part of the page is still being computed: reload in a few seconds

	Tables []*Table
	Charts []*Chart
	Data   any

	// Coverage of the period's data, on ROI and attribution pages: base.html shows a
	// banner when it is low, and ?format=json carries it as "coverage".
	Coverage *quality.Coverage

	// JSON holds extra top-level fields of ?format=json (the Overview's "effect").
	JSON map[string]any
}

// setJSON adds a top-level field to the page's ?format=json answer.
func (p *page) setJSON(k string, v any) {
	if p.JSON == nil {
		p.JSON = map[string]any{}
	}
	p.JSON[k] = v
}

func (s *server) newPage(r *http.Request, active, title string) *page {
	sess := sessionFrom(r)
	ctx := r.Context()
	p := &page{Title: title, Path: r.URL.Path, User: sess.User, CSRF: sess.CSRF, Presets: presets, Currency: defaultCurrency}
	loc := s.location(ctx)
	rg, err := s.parseRange(ctx, r.URL.Query(), loc)
	if err != nil {
		p.RangeErr = err.Error()
	}
	p.Range = rg
	if c, err := s.businessCurrency(ctx); err == nil {
		p.Currency = c
	}
	rq := p.Range.Query().Encode()
	for _, n := range navPages {
		if !s.canOpen(sess.User.Role, n.Path) {
			continue // the bar shows what the user's role may open
		}
		href := n.Path
		if rq != "" {
			href += "?" + rq
		}
		p.Nav = append(p.Nav, navItem{Path: n.Path, Label: n.Label, Active: n.Path == active, Href: href})
	}
	p.Home = p.Link("/")
	if h := s.landing(sess.User.Role, "/"); h != "/" {
		p.Home = h
	}
	return p
}

// Can reports whether the user's role has a permission (auth.Permission names), so that
// templates show forms and links only to those who may use them.
func (p *page) Can(perm string) bool { return p.User.Role.Can(auth.Permission(perm)) }

// Link returns path with the current period (and extra query pairs) kept.
func (p *page) Link(path string, kv ...string) string {
	q := p.Range.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	if e := q.Encode(); e != "" {
		return path + "?" + e
	}
	return path
}

// addTable registers a table for CSV/JSON download and gives it its CSV link.
func (p *page) addTable(t *Table) *Table {
	t.CSVHref = p.Link(p.Path, "format", "csv", "table", t.ID)
	p.Tables = append(p.Tables, t)
	return t
}

// addChart registers a chart and its fallback table.
func (p *page) addChart(c *Chart) *Chart {
	if c.Table != nil {
		p.addTable(c.Table)
	}
	p.Charts = append(p.Charts, c)
	return c
}

// Table finds a registered table by id, for templates.
func (p *page) Table(id string) *Table {
	for _, t := range p.Tables {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Chart finds a registered chart by id, for templates.
func (p *page) Chart(id string) *Chart {
	for _, c := range p.Charts {
		if c.ID == id {
			return c
		}
	}
	return nil
}

var pageNames = []string{"login", "message", "overview", "sources", "customers", "customer", "spend", "attribution", "paths", "segments", "automations", "automation", "users", "invite", "audit", "privacy_erase", "experiments", "experiment", "budget", "clienteling", "clienteling_card", "leads", "personalisation", "goals", "settings", "tokens", "automation_apply", "automation_preview"}

func (s *server) parseTemplates() error {
	funcs := template.FuncMap{
		"money":        formatMoney,
		"moneyShort":   formatMoneyShort,
		"int":          formatInt,
		"lower":        strings.ToLower,
		"pct":          fmtPct,
		"ratio":        fmtRatio,
		"oneword":      oneWord,
		"term":         term,
		"terms":        terms,
		"glossaryText": func() map[string]string { return glossary },
	}
	base, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html")
	if err != nil {
		return fmt.Errorf("parse base template: %w", err)
	}
	s.tmpl = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.tmpl[name] = t
	}
	return nil
}

// execute renders into a buffer first, so a template error becomes a clean 500.
func (s *server) execute(w http.ResponseWriter, name string, p *page) error {
	t, ok := s.tmpl[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base.html", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := buf.WriteTo(w)
	return err
}

// respond renders the page, or one of its tables as CSV, or all its tables as JSON.
func (s *server) respond(w http.ResponseWriter, r *http.Request, name string, p *page) error {
	switch r.URL.Query().Get("format") {
	case "csv":
		id := r.URL.Query().Get("table")
		var t *Table
		if id == "" && len(p.Tables) > 0 {
			t = p.Tables[0]
		} else {
			t = p.Table(id)
		}
		if t == nil {
			http.Error(w, "no table "+url.QueryEscape(id)+" on this page", http.StatusNotFound)
			return nil
		}
		return writeCSV(w, t, csvName(p, t))
	case "json":
		out := map[string]any{"period": map[string]string{"from": p.Range.FromDate(), "to": p.Range.ToDate()}, "currency": p.Currency}
		tables := map[string]any{}
		for _, t := range p.Tables {
			tables[t.ID] = t.jsonRows()
		}
		out["tables"] = tables
		if p.Coverage != nil {
			out["coverage"] = p.Coverage
		}
		for k, v := range p.JSON {
			out[k] = v
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return s.execute(w, name, p)
}

func csvName(p *page, t *Table) string {
	from := p.Range.FromDate()
	if from == "" {
		from = "start"
	}
	return fmt.Sprintf("omniroi-%s-%s-to-%s.csv", t.ID, from, p.Range.ToDate())
}

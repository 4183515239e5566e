package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/workspace"
)

// What a marketer does to journeys in the browser, with the functions `omniroi journey`
// calls: enable and disable (journey.SetEnabled), apply a built-in journey with its
// settings (journey.ApplyTemplate), preview a step's message for one customer
// (journey.PreviewStep) and set what a message of the journey costs
// (journey.SetJourneyCost). Every change is in the audit log, as done by the user.

// journeyChanged makes the automation reports rebuild after a change (compute.go epoch).
func (s *server) journeyChanged() {
	s.compute.epoch.Add(1)
}

func automationPath(name string) string { return "/automations/" + url.PathEscape(name) }

func (s *server) setJourneyEnabled(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := journey.SetEnabled(r.Context(), s.db, name, on); err != nil {
			if errors.Is(err, journey.ErrNotFound) {
				return errNotFound
			}
			return err
		}
		s.journeyChanged()
		to := automationPath(name)
		if r.PostFormValue("back") == "list" {
			to = "/automations"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
}

type templateField struct {
	journey.TemplateSetting
	Value string // what the form shows: the default, or what was typed
	Error string
}

type applyData struct {
	Template    journey.Template
	Fields      []templateField
	Error       string
	Document    string // the template's document, for those who read YAML
	Description string
}

func (s *server) applyForm(w http.ResponseWriter, r *http.Request) error {
	return s.renderApply(w, r, nil, nil, "", http.StatusOK)
}

func (s *server) renderApply(w http.ResponseWriter, r *http.Request, typed, fieldErrs map[string]string, msg string, code int) error {
	name := r.FormValue("template")
	var tpl *journey.Template
	for _, t := range journey.Templates() {
		if t.Name == name {
			tpl = &t
			break
		}
	}
	if tpl == nil {
		return errNotFound
	}
	st, err := journey.TemplateSettings(name)
	if err != nil {
		return err
	}
	d := &applyData{Template: *tpl, Error: msg, Document: string(tpl.Source), Description: tpl.Description}
	for _, f := range st {
		v, ok := typed[f.Key]
		if !ok {
			v = f.Default
		}
		d.Fields = append(d.Fields, templateField{TemplateSetting: f, Value: v, Error: fieldErrs[f.Key]})
	}
	p := s.newPage(r, "/automations", "Apply the "+name+" journey")
	p.NoRange = true
	p.Data = d
	if wantsJSON(r) {
		writeJSON(w, code, map[string]any{"template": name, "settings": d.Fields, "error": msg})
		return nil
	}
	w.WriteHeader(code)
	return s.execute(w, "automation_apply", p)
}

func (s *server) applyTemplate(w http.ResponseWriter, r *http.Request) error {
	name := r.FormValue("template")
	st, err := journey.TemplateSettings(name)
	if errors.Is(err, journey.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	values := map[string]string{}
	for _, f := range st {
		if v, ok := r.PostForm[f.Key]; ok && len(v) > 0 {
			values[f.Key] = v[0]
		}
	}
	a, fields, err := journey.ApplyTemplate(r.Context(), s.db, name, values)
	if err != nil {
		return s.renderApply(w, r, values, nil, err.Error(), http.StatusUnprocessableEntity)
	}
	if len(fields) > 0 {
		return s.renderApply(w, r, values, fields, "Some settings were refused; see beside each field.", http.StatusUnprocessableEntity)
	}
	s.journeyChanged()
	state := "applied"
	if !a.Changed {
		state = "unchanged"
	}
	http.Redirect(w, r, automationPath(a.Name)+"?"+url.Values{"applied": {state}, "version": {strconv.Itoa(a.Version)}}.Encode(), http.StatusSeeOther)
	return nil
}

type previewData struct {
	Journey   string
	Steps     []previewStep
	Step      int
	Customer  string // as typed: a customer number, email or user id
	Error     string
	Preview   *journey.Preview
	HasHTML   bool
	FrameSrc  string // the email's HTML on its own, for the sandboxed frame
	Subject   string
	EventFrom string
}

type previewStep struct {
	Index    int
	Label    string
	Selected bool
}

// customerFor finds a customer by number, or by an identifier (email, user id, phone).
func (s *server) customerFor(r *http.Request, q string) (int64, error) {
	q = strings.TrimSpace(q)
	if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	var id int64
	err := s.db.QueryRow(r.Context(), `SELECT customer_id FROM identities WHERE value = ? OR value = ? ORDER BY customer_id LIMIT 1`, q, strings.ToLower(q)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("no customer is known as %q: give a customer number (from the Customers page) or an email address", q)
	}
	return id, nil
}

func (s *server) previewPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	det, err := journey.Show(ctx, s.db, name)
	if errors.Is(err, journey.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	d := &previewData{Journey: name, Step: -1, Customer: r.URL.Query().Get("customer")}
	if v, err := strconv.Atoi(r.URL.Query().Get("step")); err == nil {
		d.Step = v - 1 // steps are numbered from 1 on the page
	}
	for i, n := range det.Plan.Nodes {
		if n.Send == nil || n.Send.Channel == "webhook" || n.Send.Channel == "profile" {
			continue
		}
		if d.Step < 0 {
			d.Step = i
		}
		d.Steps = append(d.Steps, previewStep{Index: i + 1, Label: fmt.Sprintf("Step %d (%s): %s", i+1, n.ID, det.Plan.StepWords(i)), Selected: i == d.Step})
	}
	code := http.StatusOK
	if d.Customer != "" {
		id, err := s.customerFor(r, d.Customer)
		if err == nil {
			d.Preview, err = journey.PreviewStep(ctx, s.db, name, d.Step, id)
		}
		switch {
		case errors.Is(err, journey.ErrNotFound):
			d.Error, code = err.Error(), http.StatusNotFound
		case err != nil && d.Preview == nil && strings.HasPrefix(err.Error(), "no customer"):
			d.Error, code = err.Error(), http.StatusNotFound
		case err != nil:
			d.Error, code = err.Error(), http.StatusUnprocessableEntity
		default:
			d.HasHTML = d.Preview.Message.HTML != ""
		}
	}
	if r.URL.Query().Get("part") == "html" {
		if d.Preview == nil || !d.HasHTML {
			return errNotFound
		}
		// The email's HTML alone, for the preview page's sandboxed frame: its own origin
		// (CSP sandbox), no scripts, no requests but images; framed only by this site.
		hd := w.Header()
		// A sandboxed document's own origin is opaque: the framing site is named.
		scheme := "http"
		if isSecure(r) {
			scheme = "https"
		}
		hd.Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors "+scheme+"://"+r.Host)
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		_, err := w.Write([]byte(d.Preview.Message.HTML))
		return err
	}
	p := s.newPage(r, "/automations", "Preview: "+name)
	p.NoRange = true
	p.Data = d
	if d.HasHTML {
		d.FrameSrc = automationPath(name) + "/preview?" + url.Values{"step": {strconv.Itoa(d.Step + 1)}, "customer": {d.Customer}, "part": {"html"}}.Encode()
	}
	if wantsJSON(r) {
		writeJSON(w, code, map[string]any{"preview": d.Preview, "error": d.Error})
		return nil
	}
	w.WriteHeader(code)
	return s.execute(w, "automation_preview", p)
}

type costField struct {
	Channel, Label string
	Value          string // the journey's own cost, or what was typed
	Setting        string // the journeys.cost.* setting it falls back to
	Error          string
}

// journeyCostFields lists the journey's message costs for its form.
func (s *server) journeyCostFields(r *http.Request, name string, typed, errs map[string]string) ([]costField, error) {
	own, err := journey.JourneyCosts(r.Context(), s.db, name)
	if err != nil {
		return nil, err
	}
	var out []costField
	for _, ch := range journey.CostChannels() {
		set, err := workspace.Get(r.Context(), s.db, workspace.MessageCostKeys[ch].Name)
		if err != nil {
			return nil, err
		}
		v, ok := typed[ch]
		if !ok {
			v = own[ch]
		}
		out = append(out, costField{Channel: ch, Label: map[string]string{"email": "One email", "sms": "One text message"}[ch], Value: v, Setting: set, Error: errs[ch]})
	}
	return out, nil
}

func (s *server) saveJourneyCosts(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	typed, errs := map[string]string{}, map[string]string{}
	for _, ch := range journey.CostChannels() {
		v, ok := r.PostForm["cost:"+ch]
		if !ok || len(v) == 0 {
			continue
		}
		typed[ch] = strings.TrimSpace(v[0])
	}
	// Every value is checked before any is saved: a refused one changes nothing.
	for ch, v := range typed {
		if v == "" {
			continue
		}
		if _, err := workspace.MessageCostKeys[ch].Check(v); err != nil {
			errs[ch] = err.Error()
		}
	}
	if len(errs) == 0 {
		for _, ch := range journey.CostChannels() {
			v, ok := typed[ch]
			if !ok {
				continue
			}
			if err := journey.SetJourneyCost(r.Context(), s.db, name, ch, v); err != nil {
				if errors.Is(err, journey.ErrNotFound) {
					return errNotFound
				}
				return err
			}
		}
		s.journeyChanged()
	}
	if len(errs) > 0 {
		w.WriteHeader(http.StatusUnprocessableEntity)
		return s.automationView(w, r, typed, errs)
	}
	http.Redirect(w, r, automationPath(name)+"?costs=saved", http.StatusSeeOther)
	return nil
}

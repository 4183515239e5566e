package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/recommend"
)

// The Leads page: people who have not bought yet, by the probability that they place a
// first order soon (recommend.ScoreLeads, the function behind `omniroi leads`), each
// with the top reasons of their score, and how well the score did on an earlier period.

const leadsLimit = 100

type leadsData struct {
	Note       string
	AsOf       string
	Validation *recommend.LeadValidation
}

func (s *server) leadsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := s.newPage(r, "/leads", "Leads")
	p.NoRange = true
	d := &leadsData{}
	p.Data = d
	t := p.addTable(&Table{ID: "leads", Caption: "People who have not bought yet, most likely to buy first",
		Cols:  []Col{{Label: "Person"}, {Label: "Email"}, {Label: "Chance of a first order in 30 days", Num: true}, {Label: "Why"}, {Label: "Last active"}, {Label: "Active days", Num: true}},
		Empty: "No one to score."})
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return err
	}
	rep, at, stale, err := computed(s.compute, "leads", ver, func(ctx2 context.Context) (recommend.LeadReport, error) {
		return recommend.ScoreLeads(ctx2, s.db, recommend.LeadOptions{}, leadsLimit)
	})
	switch {
	case errors.Is(err, errComputing):
		p.Computing = true
		return s.respond(w, r, "leads", p)
	case errors.Is(err, recommend.ErrTooFewLeads):
		d.Note = "Not enough people yet to fit a lead score: " + err.Error() + "."
		return s.respond(w, r, "leads", p)
	case err != nil:
		return err
	}
	p.ComputedAt, p.Stale = at.In(p.Range.Loc).Format("2 Jan 15:04"), stale
	d.AsOf = rep.AsOf
	d.Validation = &rep.Validation
	for _, l := range rep.Leads {
		href := p.Link("/customers/" + strconv.FormatInt(l.CustomerID, 10))
		name := l.Name
		if name == "" {
			name = "#" + strconv.FormatInt(l.CustomerID, 10)
		}
		why := ""
		for i, x := range l.Reasons {
			if i > 0 {
				why += "; "
			}
			why += x
		}
		t.Rows = append(t.Rows, []Cell{{Text: name, Raw: strconv.FormatInt(l.CustomerID, 10), Href: href}, txt(l.Email),
			{Text: fmtPct(l.Score), Raw: strconv.FormatFloat(l.Score, 'f', 4, 64)}, txt(why), txt(l.LastActive), num(int64(l.ActiveDays))})
	}
	vt := p.addTable(&Table{ID: "reliability", Caption: "Calibration on the earlier period: predicted against observed",
		Cols: []Col{{Label: "Predicted chance"}, {Label: "People", Num: true}, {Label: "Mean predicted", Num: true}, {Label: "Share who bought", Num: true}}})
	for _, b := range rep.Validation.Reliability {
		vt.Rows = append(vt.Rows, []Cell{txt(b.Bin), num(int64(b.People)), {Text: fmtPct(b.Predicted), Raw: fmt.Sprint(b.Predicted)}, {Text: fmtPct(b.Observed), Raw: fmt.Sprint(b.Observed)}})
	}
	return s.respond(w, r, "leads", p)
}

type personalisationData struct {
	Models   []recommend.ModelCard
	By       string
	ByErr    string
	Fairness *recommend.FairnessReport
	Note     string
}

// personalisationPage lists, for owners, what each model behind recommendations, next
// best actions and lead scores uses and never uses (recommend.ModelCards), and the
// fairness check across the groups the shop chooses (?by=segment or trait:NAME).
func (s *server) personalisationPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := s.newPage(r, "", "What personalisation uses")
	p.NoRange = true
	d := &personalisationData{Models: recommend.ModelCards(), By: strings.TrimSpace(r.URL.Query().Get("by"))}
	if d.By == "" {
		d.By = "segment"
	}
	p.Data = d
	ft := p.addTable(&Table{ID: "fairness", Caption: "Fairness check: recommendations and lead scores per group",
		Cols: []Col{{Label: "Group"}, {Label: "Customers", Num: true}, {Label: "Opted out", Num: true}, {Label: "Recommendations from their history", Num: true},
			{Label: "Products shown", Num: true}, {Label: "Mean price shown", Num: true}, {Label: "Leads", Num: true}, {Label: "Mean lead score", Num: true}},
		Empty: "No customers yet."})
	if d.By != "segment" && (!strings.HasPrefix(d.By, "trait:") || len(d.By) == len("trait:")) {
		d.ByErr = "Group by segment, or by a trait: trait:region, trait:customer_type."
		return s.respond(w, r, "personalisation", p)
	}
	snap, err := s.personalFor(ctx)
	switch {
	case errors.Is(err, errComputing):
		d.Note = "The fairness check is being worked out; this page reloads itself."
		p.Refresh = true
		return s.respond(w, r, "personalisation", p)
	case err != nil:
		d.Note = "No fairness check yet: " + err.Error()
		return s.respond(w, r, "personalisation", p)
	}
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return err
	}
	rep, _, _, err := computed(s.compute, "fairness:"+d.By, ver, func(ctx context.Context) (recommend.FairnessReport, error) {
		return s.rec.Fairness(ctx, snap.model, d.By)
	})
	switch {
	case errors.Is(err, errComputing):
		d.Note = "The fairness check is being worked out; this page reloads itself."
		p.Refresh = true
		return s.respond(w, r, "personalisation", p)
	case err != nil:
		return err
	}
	d.Fairness = &rep
	for _, g := range rep.Groups {
		score := Cell{Text: "–"}
		if g.MeanLeadScore >= 0 {
			score = Cell{Text: fmtPct(g.MeanLeadScore), Raw: fmt.Sprint(g.MeanLeadScore)}
		}
		ft.Rows = append(ft.Rows, []Cell{txt(g.Group), num(int64(g.Customers)), {Text: fmtPct(g.OptedOut), Raw: fmt.Sprint(g.OptedOut)},
			{Text: fmtPct(g.PersonalisedRecs), Raw: fmt.Sprint(g.PersonalisedRecs)}, num(int64(g.DistinctProducts)), amount(g.MeanPriceMinor, p.Currency),
			num(int64(g.Leads)), score})
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"models": d.Models, "fairness": d.Fairness})
		return nil
	}
	return s.respond(w, r, "personalisation", p)
}

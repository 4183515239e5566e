package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/omniroi/omniroi/internal/audit"
)

// auditPageSize is how many entries a page of the audit log shows.
const auditPageSize = 50

type auditData struct {
	Action string // the filter, kept in the form and the paging link
	Older  string // link to the next (older) page, "" on the last
	Newest string // link back to the newest entries, "" on the first page
}

// auditPage shows the audit log, newest first, a page at a time (?before=ID).
func (s *server) auditPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p := s.newPage(r, "/audit", "Audit log")
	p.NoRange = true
	d := &auditData{Action: q.Get("action")}
	p.Data = d
	f := audit.Filter{Action: d.Action, Limit: auditPageSize}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			s.renderStatus(w, r, http.StatusBadRequest, "Audit log", "before must be an entry number.")
			return nil
		}
		f.Before = n
	}
	es, err := audit.List(ctx, s.db, f)
	if err != nil {
		return err
	}
	loc := s.location(ctx)
	t := p.addTable(&Table{ID: "audit", Caption: "Who did what, newest first",
		Cols:  []Col{{Label: "#", Num: true}, {Label: "When"}, {Label: "Who"}, {Label: "What"}, {Label: "Target"}, {Label: "Details"}},
		Empty: "Nothing recorded yet."})
	for _, e := range es {
		detail := ""
		if len(e.Detail) > 0 {
			b, _ := json.Marshal(e.Detail)
			detail = string(b)
		}
		t.Rows = append(t.Rows, []Cell{num(e.ID), {Text: e.At.In(loc).Format("2006-01-02 15:04:05"), Raw: e.At.UTC().Format("2006-01-02T15:04:05.000Z")},
			txt(e.Actor), txt(e.Action), txt(e.Target), txt(detail)})
	}
	link := func(before int64) string {
		v := url.Values{}
		if d.Action != "" {
			v.Set("action", d.Action)
		}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return "/audit"
		}
		return "/audit?" + v.Encode()
	}
	if len(es) == auditPageSize {
		d.Older = link(es[len(es)-1].ID)
	}
	if f.Before > 0 {
		d.Newest = link(0)
	}
	cv := url.Values{"format": {"csv"}, "table": {"audit"}}
	if d.Action != "" {
		cv.Set("action", d.Action)
	}
	if f.Before > 0 {
		cv.Set("before", strconv.FormatInt(f.Before, 10))
	}
	t.CSVHref = "/audit?" + cv.Encode()
	return s.respond(w, r, "audit", p)
}

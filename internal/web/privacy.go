package web

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/privacy"
)

// A person's rights on the customer page (docs/privacy.md): owners and admins
// (auth.PermPrivacy, in the route table) can download everything held about a customer
// and erase it, after a confirmation step.

type eraseData struct {
	ID            int64
	Name, Email   string
	Orders        int64
	Touchpoints   int64
	Identifiers   int64
	Runs, Sends   int64
	Reason, Error string
	Done          *privacy.EraseReport
	Deleted       []trait // table: rows, for the result page
}

func customerID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

func (s *server) eraseConfirm(w http.ResponseWriter, r *http.Request) error {
	id, err := customerID(r)
	if err != nil {
		return err
	}
	return s.erasePage(w, r, id, &eraseData{}, http.StatusOK)
}

func (s *server) erasePage(w http.ResponseWriter, r *http.Request, id int64, d *eraseData, code int) error {
	ctx := r.Context()
	c, err := identity.GetCustomer(ctx, s.db, id)
	if errors.Is(err, identity.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	d.ID, d.Name, d.Email = c.ID, c.Name, c.Email
	for _, q := range []struct {
		dst *int64
		sql string
	}{
		{&d.Orders, `SELECT COUNT(*) FROM orders WHERE customer_id = ?`},
		{&d.Touchpoints, `SELECT COUNT(*) FROM activity WHERE customer_id = ?`},
		{&d.Identifiers, `SELECT COUNT(*) FROM identities WHERE customer_id = ?`},
		{&d.Runs, `SELECT COUNT(*) FROM journey_runs WHERE customer_id = ?`},
		{&d.Sends, `SELECT COUNT(*) FROM journey_sends WHERE customer_id = ?`},
	} {
		if err := s.db.QueryRow(ctx, q.sql, id).Scan(q.dst); err != nil {
			return fmt.Errorf("erase summary: %w", err)
		}
	}
	p := s.newPage(r, "/customers", fmt.Sprintf("Erase customer #%d", id))
	p.NoRange = true
	p.Data = d
	w.WriteHeader(code)
	return s.execute(w, "privacy_erase", p)
}

func (s *server) erasePost(w http.ResponseWriter, r *http.Request) error {
	id, err := customerID(r)
	if err != nil {
		return err
	}
	d := &eraseData{Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if strings.TrimSpace(strings.TrimPrefix(r.PostFormValue("confirm"), "#")) != strconv.FormatInt(id, 10) {
		d.Error = fmt.Sprintf("Type the customer number %d to confirm.", id)
		return s.erasePage(w, r, id, d, http.StatusUnprocessableEntity)
	}
	rep, err := privacy.Erase(r.Context(), s.db, privacy.Query{ID: id}, privacy.EraseOptions{Actor: audit.ActorFrom(r.Context()), Reason: d.Reason})
	if errors.Is(err, privacy.ErrNoSubject) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	d.ID, d.Done = id, rep
	for _, k := range sortedKeys(rep.Deleted) {
		if n := rep.Deleted[k]; n > 0 {
			d.Deleted = append(d.Deleted, trait{Key: k, Value: formatInt(n)})
		}
	}
	p := s.newPage(r, "/customers", fmt.Sprintf("Customer #%d erased", id))
	p.NoRange = true
	p.Data = d
	return s.execute(w, "privacy_erase", p)
}

// exportCustomer downloads everything held about a customer as JSON.
func (s *server) exportCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := customerID(r)
	if err != nil {
		return err
	}
	doc, err := privacy.Export(r.Context(), s.db, privacy.Query{ID: id}, audit.ActorFrom(r.Context()))
	if errors.Is(err, privacy.ErrNoSubject) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="customer-%d-export.json"`, id))
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/catalog"
	"github.com/omniroi/omniroi/internal/workspace"
)

// settingsGroup is the settings of one group, in the registry's order.
type settingsGroup struct {
	Name, Title string
	Values      []workspace.Value
}

// categoryMargin is one catalogue category and its margin setting ("" when unset).
type categoryMargin struct {
	Category, Margin string
	Field            string // the form field: "margin:" + category
	ID               string // the input's id (categories may hold spaces)
}

type settingsData struct {
	Groups     []settingsGroup
	Categories []categoryMargin
	Notice     string
	Error      string
	ErrorKey   string // the setting the error is about, to keep the typed value beside it
	Typed      string
}

// groupTitles names the registry's groups for people; unknown groups show their name.
var groupTitles = map[string]string{
	"business":  "Business",
	"economics": "Margins and message costs",
	"dashboard": "Dashboard",
	"security":  "Security and links",
	"privacy":   "Privacy",
	"limits":    "Limits",
	"journeys":  "Journeys",
}

// groupOrder puts the business first; other groups follow in the registry's order.
var groupOrder = []string{"business", "economics", "dashboard", "security", "privacy", "limits"}

func (s *server) settingsPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderSettings(w, r, &settingsData{}, http.StatusOK)
}

func (s *server) renderSettings(w http.ResponseWriter, r *http.Request, d *settingsData, code int) error {
	ctx := r.Context()
	p := s.newPage(r, "/settings", "Settings")
	p.NoRange = true
	p.Data = d
	vals, err := workspace.All(ctx, s.db)
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		writeJSON(w, code, map[string]any{"settings": vals, "error": d.Error})
		return nil
	}
	byGroup := map[string]*settingsGroup{}
	var order []string
	for _, v := range vals {
		g := byGroup[v.Group]
		if g == nil {
			t := groupTitles[v.Group]
			if t == "" {
				t = strings.ToUpper(v.Group[:1]) + v.Group[1:]
			}
			g = &settingsGroup{Name: v.Group, Title: t}
			byGroup[v.Group] = g
			order = append(order, v.Group)
		}
		g.Values = append(g.Values, v)
	}
	for _, name := range groupOrder {
		if g := byGroup[name]; g != nil {
			d.Groups = append(d.Groups, *g)
			delete(byGroup, name)
		}
	}
	for _, name := range order {
		if g := byGroup[name]; g != nil {
			d.Groups = append(d.Groups, *g)
		}
	}
	// Margins per category: the catalogue's categories, and those set for categories the
	// catalogue no longer has (kept, so that nothing set disappears from view).
	cat, err := catalog.Load(ctx, s.db)
	if err != nil {
		return err
	}
	cur, err := workspace.Get(ctx, s.db, workspace.MarginCategoriesKey.Name)
	if err != nil {
		return err
	}
	set, _ := workspace.ParseCategoryMargins(cur)
	seen := map[string]bool{}
	add := func(c string) {
		if seen[c] {
			return
		}
		seen[c] = true
		m := ""
		if f, ok := set[c]; ok {
			m = workspace.FormatCategoryMargins(map[string]float64{"x": f})[2:]
		}
		d.Categories = append(d.Categories, categoryMargin{Category: c, Margin: m, Field: "margin:" + c, ID: fmt.Sprintf("margin-%d", len(d.Categories))})
	}
	for _, c := range cat.Categories() {
		add(c)
	}
	for c := range set {
		add(c)
	}
	w.WriteHeader(code)
	return s.execute(w, "settings", p)
}

// saveSetting sets (or, with action=reset, resets) one setting; a refused value comes
// back on the page in words, next to the field, with what was typed.
func (s *server) saveSetting(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key := r.PostFormValue("key")
	actor := audit.UserActor(sessionFrom(r).User.Email)
	if _, ok := workspace.Lookup(key); !ok {
		return s.renderSettings(w, r, &settingsData{Error: "There is no setting called " + quoteName(key) + "."}, http.StatusUnprocessableEntity)
	}
	if r.PostFormValue("action") == "reset" {
		if err := workspace.Reset(ctx, s.db, actor, key); err != nil {
			return err
		}
		return s.renderSettings(w, r, &settingsData{Notice: key + " is back to its default."}, http.StatusOK)
	}
	value := r.PostFormValue("value")
	nv, err := workspace.Set(ctx, s.db, actor, key, value)
	if err != nil {
		if isSettingRefusal(err) {
			return s.renderSettings(w, r, &settingsData{Error: err.Error(), ErrorKey: key, Typed: value}, http.StatusUnprocessableEntity)
		}
		return err
	}
	return s.renderSettings(w, r, &settingsData{Notice: key + " is now " + nv + "."}, http.StatusOK)
}

// saveMargins stores the per-category margins of the form in margin.categories; an empty
// field removes that category's margin (the default applies to it again).
func (s *server) saveMargins(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	actor := audit.UserActor(sessionFrom(r).User.Email)
	cur, err := workspace.Get(ctx, s.db, workspace.MarginCategoriesKey.Name)
	if err != nil {
		return err
	}
	m, _ := workspace.ParseCategoryMargins(cur)
	if m == nil {
		m = map[string]float64{}
	}
	var parts []string
	for field, vs := range r.PostForm {
		c, ok := strings.CutPrefix(field, "margin:")
		if !ok || len(vs) == 0 {
			continue
		}
		delete(m, c)
		if v := strings.TrimSpace(vs[0]); v != "" {
			parts = append(parts, c+"="+v)
		}
	}
	for c, f := range m {
		parts = append(parts, workspace.FormatCategoryMargins(map[string]float64{c: f}))
	}
	value := strings.Join(parts, ",")
	if value == "" {
		if err := workspace.Reset(ctx, s.db, actor, workspace.MarginCategoriesKey.Name); err != nil {
			return err
		}
		return s.renderSettings(w, r, &settingsData{Notice: "No category has a margin of its own now; the default margin applies to all."}, http.StatusOK)
	}
	nv, err := workspace.Set(ctx, s.db, actor, workspace.MarginCategoriesKey.Name, value)
	if err != nil {
		if isSettingRefusal(err) {
			return s.renderSettings(w, r, &settingsData{Error: err.Error(), ErrorKey: workspace.MarginCategoriesKey.Name, Typed: value}, http.StatusUnprocessableEntity)
		}
		return err
	}
	return s.renderSettings(w, r, &settingsData{Notice: "Margins per category are now " + nv + "."}, http.StatusOK)
}

// isSettingRefusal tells a refused value (the user's to fix) from a failure of the store.
func isSettingRefusal(err error) bool {
	var refusal *workspace.RefusedError
	return errors.As(err, &refusal)
}

func quoteName(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return "“" + s + "”"
}

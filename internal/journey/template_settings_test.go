package journey

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestTemplateSettings: every built-in lists its name, holdout and waits with the
// template's values as defaults; the defaults compile to the template's own plan; chosen
// values change the plan; refused values come back by setting, in the compiler's words.
func TestTemplateSettings(t *testing.T) {
	t.Parallel()
	for _, tp := range Templates() {
		st, err := TemplateSettings(tp.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) < 3 || st[0].Key != "name" || st[0].Default != tp.Name || st[1].Key != "holdout" {
			t.Errorf("%s: settings %+v", tp.Name, st)
		}
		for _, s := range st {
			if s.Label == "" || s.Default == "" || s.Help == "" {
				t.Errorf("%s: setting %+v lacks a label, default or help", tp.Name, s)
			}
		}
		doc, fields, err := TemplateDocument(tp.Name, nil)
		if err != nil || len(fields) > 0 {
			t.Fatalf("%s defaults: %v %v", tp.Name, fields, err)
		}
		want, _ := Compile(tp.Source)
		got, err := Compile(doc)
		if err != nil {
			t.Fatal(err)
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if string(wj) != string(gj) {
			t.Errorf("%s: the defaults compile to another plan:\n%s\n%s", tp.Name, gj, wj)
		}
	}
	st, _ := TemplateSettings("abandoned-cart")
	var keys []string
	for _, s := range st {
		keys = append(keys, s.Key+"="+s.Default)
	}
	if got := strings.Join(keys, " "); got != "name=abandoned-cart holdout=10% steps[0].wait.timeout=1h steps[2].wait=24h" {
		t.Errorf("abandoned-cart settings: %s", got)
	}

	doc, fields, err := TemplateDocument("abandoned-cart", map[string]string{"name": "cart-eu", "holdout": "25%", "steps[0].wait.timeout": "2h", "steps[2].wait": "2d"})
	if err != nil || len(fields) > 0 {
		t.Fatal(fields, err)
	}
	p, err := Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "cart-eu" || p.Holdout != 0.25 || p.Nodes[0].Timeout != 2*time.Hour || p.Nodes[2].Wait != 48*time.Hour {
		t.Errorf("plan: name %s holdout %v timeout %v wait %v", p.Name, p.Holdout, p.Nodes[0].Timeout, p.Nodes[2].Wait)
	}

	_, fields, err = TemplateDocument("abandoned-cart", map[string]string{"name": "Cart EU", "holdout": "150%", "steps[2].wait": "soon", "steps[0].wait.timeout": ""})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"name": "lower-case letters", "holdout": "below 100%", "steps[2].wait": "not a duration", "steps[0].wait.timeout": "required"} {
		if !strings.Contains(fields[k], want) {
			t.Errorf("%s: %q, want it to say %q (all: %v)", k, fields[k], want, fields)
		}
	}
	if _, _, err := TemplateDocument("abandoned-cart", map[string]string{"colour": "red"}); err == nil || !strings.Contains(err.Error(), "no setting colour") {
		t.Errorf("unknown setting: %v", err)
	}
	if _, _, err := TemplateDocument("no-such", nil); err == nil {
		t.Error("unknown template: no error")
	}
}

// TestApplyTemplate: the defaults apply the same journey as the template's own document
// (Apply finds it unchanged); a refused value applies nothing.
func TestApplyTemplate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		src, _ := TemplateSource("welcome")
		if _, err := Apply(ctx, db, src); err != nil {
			t.Fatal(err)
		}
		a, fields, err := ApplyTemplate(ctx, db, "welcome", map[string]string{"holdout": "10%"})
		if err != nil || fields != nil || a.Changed || a.Version != 1 {
			t.Fatalf("defaults: %+v %v %v", a, fields, err)
		}
		if _, fields, _ := ApplyTemplate(ctx, db, "welcome", map[string]string{"holdout": "x"}); fields["holdout"] == "" {
			t.Errorf("bad holdout accepted")
		}
		a, _, err = ApplyTemplate(ctx, db, "welcome", map[string]string{"holdout": "20%"})
		if err != nil || !a.Changed || a.Version != 2 {
			t.Fatalf("new holdout: %+v %v", a, err)
		}
		d, err := Show(ctx, db, "welcome")
		if err != nil || d.Plan.Holdout != 0.2 {
			t.Fatalf("show: %v %v", d, err)
		}
	})
}

package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestGlossary checks that every {{term "X"}} in the templates has an explanation, that
// headings mark the terms they contain (the longest first, case aside, whole words
// only) and escape the rest, and that a rendered page explains its column headings.
func TestGlossary(t *testing.T) {
	used := regexp.MustCompile(`\{\{term "([^"]+)"\}\}`)
	n := 0
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			n++
			if _, ok := glossaryLower[strings.ToLower(m[1])]; !ok {
				t.Errorf("%s: {{term %q}} has no explanation in the glossary", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("only %d terms marked in the templates", n)
	}
	for in, want := range map[string]string{
		"ROAS (Markov)":  `<abbr class="term" title="Return on ad spend: `,
		"LTV:CAC":        `<abbr class="term" title="Predicted value of a new customer divided`,
		"90 % interval":  `90 % <abbr class="term" title="The range the true figure`,
		"Churn risk":     `<abbr class="term" title="How likely the customer has stopped buying`,
		"Spend <script>": `Spend &lt;script&gt;`,
	} {
		if got := string(terms(in)); !strings.Contains(got, want) {
			t.Errorf("terms(%q) = %s, want it to contain %s", in, got, want)
		}
	}
	for _, in := range []string{"Heroic", "Androids", "Macaque"} { // "ROI" in a word is no term
		if got := string(terms(in)); strings.Contains(got, "<abbr") {
			t.Errorf("terms(%q) = %s: marks a term inside a word", in, got)
		}
	}
	if got := string(terms("LTV:CAC")); strings.Count(got, "<abbr") != 1 {
		t.Errorf("terms(LTV:CAC) = %s, want one term", got)
	}

	db := storetest.SQLite(t)
	seed(t, db)
	ts := newTestServer(t, db, Options{})
	c, _ := ts.loggedIn(t)
	_, body := get(t, c, ts.URL+"/?range=all&view=credit") // the ROAS table is the credit view's
	if !regexp.MustCompile(`<th scope="col" class="num"><abbr class="term" title="Return on ad spend[^"]*">ROAS</abbr>`).MatchString(body) {
		t.Error("the Overview's ROAS heading carries no explanation")
	}
}

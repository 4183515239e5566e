package journey

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzCompile: a journey document (YAML or JSON) either compiles to a plan the engine
// can run and the database can store, or is refused with every problem on a line.
func FuzzCompile(f *testing.F) {
	for _, tm := range Templates() {
		f.Add(tm.Source)
	}
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		doc, _, _ := strings.Cut(string(b), "\n----\n")
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"name":"n","entry":{"event":"E"},"holdout":"NaN","steps":[{"split":[{"percent":"NaN"},{"percent":50}]}]}`))
	f.Add([]byte("name: a\nentry: &e {event: E}\nexit: *e\nsteps: [{wait: 1e300d}, {wait: -1h}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile(src)
		if err != nil {
			var de *DocError
			if errors.As(err, &de) {
				if len(de.Errs) == 0 {
					t.Fatal("a DocError without problems")
				}
				for _, fe := range de.Errs {
					if fe.Line <= 0 || fe.Path == "" || fe.Msg == "" {
						t.Fatalf("problem %q has no line, path or message (document %q)", fe.Error(), src)
					}
				}
			} else if !strings.HasPrefix(err.Error(), "parse journey document: ") {
				t.Fatalf("refusal %q does not say what it refused", err)
			}
			return
		}
		checkPlan(t, p, src)
		// What the database stores and the engine loads is the plan as JSON.
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("a compiled plan cannot be stored: %v\n%s", err, src)
		}
		var back Plan
		if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(&back, p) {
			t.Fatalf("the stored plan reads back differently (%v):\n%s\n%+v\n%+v", err, js, back, *p)
		}
		if p.String() == "" {
			t.Fatal("a plan that prints as nothing")
		}
	})
}

func checkPlan(t *testing.T, p *Plan, src []byte) {
	if !validName(p.Name) || reservedName[p.Name] {
		t.Fatalf("name %q accepted", p.Name)
	}
	if !(p.Holdout >= 0 && p.Holdout < 1) {
		t.Fatalf("holdout %v accepted", p.Holdout)
	}
	if p.Purpose != "marketing" && p.Purpose != "transactional" {
		t.Fatalf("purpose %q accepted", p.Purpose)
	}
	if len(p.Nodes) == 0 {
		t.Fatal("a plan without steps")
	}
	ids := map[string]bool{}
	forward := func(i, to int, what string) {
		if to != End && (to <= i || to >= len(p.Nodes)) {
			t.Fatalf("step %d %s goes to %d (of %d): %s", i, what, to, len(p.Nodes), src)
		}
	}
	positive := func(d int64, what string) {
		if d <= 0 {
			t.Fatalf("%s of %d accepted: %s", what, d, src)
		}
	}
	for i, n := range p.Nodes {
		if n.ID == "" || ids[n.ID] {
			t.Fatalf("step %d has id %q (empty or repeated)", i, n.ID)
		}
		ids[n.ID] = true
		forward(i, n.Next, "next")
		switch n.Kind {
		case "wait":
			positive(int64(n.Wait), "a wait")
		case "wait_until":
			positive(int64(n.Timeout), "a timeout")
			forward(i, n.OnEvent, "on_event")
		case "condition":
			forward(i, n.Then, "then")
			forward(i, n.Else, "else")
		case "split":
			sum := 0.0
			for _, b := range n.Split {
				if !(b.Percent > 0) {
					t.Fatalf("split branch of %v%%: %s", b.Percent, src)
				}
				sum += b.Percent
				forward(i, b.Goto, "a split branch")
			}
			if math.Abs(sum-100) > 0.01 {
				t.Fatalf("split percentages add up to %v: %s", sum, src)
			}
		case "send":
			if n.Send == nil {
				t.Fatalf("send step %d without an action", i)
			}
		case "goto":
		default:
			t.Fatalf("step %d of kind %q", i, n.Kind)
		}
	}
	if c := p.Policy.Cap; c != nil {
		positive(int64(c.Per), "a frequency cap period")
	}
	if p.ReEntry.Mode == "cooldown" {
		positive(int64(p.ReEntry.Cooldown), "a cooldown")
	}
}

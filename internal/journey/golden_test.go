package journey

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden compiles each testdata/*.txt document and compares the plan (or the
// validation errors) with the part after the ---- line.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, want, ok := strings.Cut(string(raw), "\n----\n")
			if !ok {
				t.Fatalf("%s: no ---- separator", f)
			}
			var got string
			if p, err := Compile([]byte(doc)); err != nil {
				got = "error:\n" + err.Error() + "\n"
			} else {
				got = p.String()
			}
			if *update {
				if err := os.WriteFile(f, []byte(doc+"\n----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: compiled plan differs (run with -update to accept)\n--- got\n%s--- want\n%s", f, got, want)
			}
		})
	}
}

func TestTemplatesCompile(t *testing.T) {
	t.Parallel()
	ts := Templates()
	if len(ts) < 4 {
		t.Fatalf("want at least 4 built-in journeys, got %d", len(ts))
	}
	for _, tm := range ts {
		p, err := Compile(tm.Source)
		if err != nil {
			t.Errorf("template %s: %v", tm.Name, err)
			continue
		}
		if p.Name != tm.Name {
			t.Errorf("template file %s names journey %q", tm.Name, p.Name)
		}
	}
}

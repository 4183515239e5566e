package channel

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected half of testdata/*.txt golden files")

// Golden files: testdata/*.txt. Above the "----" line, one touch per line as
// key=value pairs (values with spaces in Go quotes; # comments and blank lines
// are skipped). Below it, one classified Result per touch, in the same order.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata")
	}
	rules := Default()
	total := 0
	hit := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(data), "\n----\n")
			if !ok && !*update {
				t.Fatalf("%s: no ---- separator", file)
			}
			var inputs []string
			var got []string
			for n, line := range strings.Split(in, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				touch, err := parseTouchLine(line)
				if err != nil {
					t.Fatalf("%s:%d: %v", file, n+1, err)
				}
				inputs = append(inputs, line)
				res := rules.Classify(touch)
				hit[res.Rule] = true
				got = append(got, res.String())
			}
			total += len(inputs)
			if *update {
				out := strings.TrimRight(in, "\n") + "\n----\n" + strings.Join(got, "\n") + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantLines := strings.Split(strings.TrimRight(want, "\n"), "\n")
			if len(wantLines) != len(got) {
				t.Fatalf("%s: %d touches but %d expected results (run go test -update to regenerate, then review the diff)", file, len(got), len(wantLines))
			}
			for i := range got {
				if got[i] != strings.TrimSpace(wantLines[i]) {
					t.Errorf("%s case %d\n  input: %s\n   want: %s\n    got: %s", file, i+1, inputs[i], wantLines[i], got[i])
				}
			}
		})
	}
	if *update {
		return
	}
	if total < 60 {
		t.Errorf("only %d golden cases; the suite promises at least 60", total)
	}
	// Every default rule should be exercised by some golden case.
	for _, name := range rules.RuleNames() {
		if !hit[name] {
			t.Errorf("default rule %q is not reached by any golden case", name)
		}
	}
}

// parseTouchLine reads key=value pairs. Keys: type event source medium
// campaign term content url ref hint location own (comma-separated hosts).
func parseTouchLine(line string) (Touch, error) {
	var t Touch
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			return t, fmt.Errorf("want key=value at %q", s)
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return t, fmt.Errorf("bad quoted value for %s: %w", key, err)
			}
			val, _ = strconv.Unquote(q)
			s = rest[len(q):]
		} else {
			val, s, _ = strings.Cut(rest, " ")
		}
		switch key {
		case "type":
			t.Type = val
		case "event":
			t.Event = val
		case "source":
			t.Source = val
		case "medium":
			t.Medium = val
		case "campaign":
			t.Campaign = val
		case "term":
			t.Term = val
		case "content":
			t.Content = val
		case "url":
			t.PageURL = val
		case "ref":
			t.Referrer = val
		case "hint":
			t.Hint = val
		case "location":
			t.Location = val
		case "own":
			t.OwnHosts = strings.Split(val, ",")
		default:
			return t, fmt.Errorf("unknown key %q", key)
		}
	}
	return t, nil
}

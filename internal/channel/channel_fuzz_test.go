package channel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenTouches reads the touches of the golden files, the fuzz tests' seeds.
func goldenTouches(f *testing.F) []Touch {
	files, _ := filepath.Glob("testdata/*.txt")
	var out []Touch
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		in, _, _ := strings.Cut(string(data), "\n----\n")
		for _, line := range strings.Split(in, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			tc, err := parseTouchLine(line)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, tc)
		}
	}
	return out
}

// checkResult: a classification names a channel of the rule set, a rule, and a source,
// medium and campaign, every time the same.
func checkResult(t *testing.T, r *Rules, tc Touch) {
	res := r.Classify(tc)
	if !slices.Contains(r.Channels(), res.Channel) {
		t.Fatalf("channel %q is not one of the rule set's %v (touch %+v)", res.Channel, r.Channels(), tc)
	}
	if res.Rule != "(no rule matched)" && !slices.Contains(r.RuleNames(), res.Rule) {
		t.Fatalf("rule %q is not in the rule set", res.Rule)
	}
	if res.Source == "" || res.Medium == "" || res.Campaign == "" {
		t.Fatalf("result without a source, medium or campaign: %+v (touch %+v)", res, tc)
	}
	if again := r.Classify(tc); again != res {
		t.Fatalf("the same touch classified twice: %+v, then %+v", res, again)
	}
}

// touchJSON renders a touch as the Segment event FromSegment reads.
func touchJSON(tc Touch) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": tc.Type, "event": tc.Event,
		"properties": map[string]any{"channel": tc.Hint, "location": tc.Location},
		"context": map[string]any{
			"campaign": map[string]any{"source": tc.Source, "medium": tc.Medium, "name": tc.Campaign, "term": tc.Term, "content": tc.Content},
			"page":     map[string]any{"url": tc.PageURL, "referrer": tc.Referrer},
		},
	})
	return b
}

// FuzzClassifyEvent: any event body gives a classification of the default rules into one
// of their channels, by one of their rules, every time the same. (FuzzFromSegment checks
// the Touch itself against encoding/json.)
func FuzzClassifyEvent(f *testing.F) {
	for _, tc := range goldenTouches(f) {
		f.Add(touchJSON(tc))
	}
	f.Add([]byte(`{"TYPE":"track","type":null,"context":{"campaign":{"source":"a"}},"context":{"page":{"url":"https://x.example/?utm_source=b"}}}`))
	f.Add([]byte(`{"type":"page","properties":{"url":7,"referrer":true,"campaign_name":"c\u00e9"},"context":"nope"}`))
	rules := Default()
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkResult(t, rules, FromSegment(raw))
	})
}

// FuzzRules: a rules file either compiles to a rule set that classifies every golden
// touch into one of its channels, or is refused with a message that says so, with the
// line when the problem sits on one.
func FuzzRules(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("rules:\n  - name: till\n    channel: In Store\n    when: {hint: [pos, till]}\nappend_default_rules: true\n"))
	f.Add([]byte("version: 1\nlists:\n  paid: [cpc, ppc]\nrules:\n  - name: paid\n    channel: Paid\n    when: {medium: {in_list: paid}}\n"))
	f.Add([]byte("rules:\n  - name: a\n    channel: A\n    when: {source: {matches: \"(\"}}\n"))
	f.Add([]byte("rules: &r [*r]\n"))
	touches := goldenTouches(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "channel rules: ") {
				t.Fatalf("refusal %q does not say it is about the channel rules", msg)
			}
			return
		}
		if len(r.RuleNames()) == 0 {
			t.Fatal("a rule set without rules")
		}
		for _, tc := range touches {
			checkResult(t, r, tc)
		}
	})
}

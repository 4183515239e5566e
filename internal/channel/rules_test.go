package channel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestDefaultParses(t *testing.T) {
	r, err := parse(defaultYAML, nil)
	if err != nil {
		t.Fatalf("embedded default rules: %v", err)
	}
	if Default().parseErr != nil {
		t.Fatal(Default().parseErr)
	}
	// Every channel the default rules produce is a built-in channel, and the
	// list ends with the catch-all.
	for _, ru := range r.rules {
		if !slices.Contains(channelNames, ru.channel) {
			t.Errorf("default rule %q uses channel %q, not in Channels()", ru.name, ru.channel)
		}
	}
	if last := r.rules[len(r.rules)-1]; last.channel != Unassigned || len(last.all)+len(last.any) != 0 {
		t.Errorf("last default rule should be an unconditional Unassigned, got %q", last.name)
	}
	if got := len(Channels()); got != 23 {
		t.Errorf("Channels() has %d names, want 19 GA4 + 4 offline", got)
	}
	// Every built-in channel except Unassigned is produced by some default rule.
	produced := map[string]bool{}
	for _, ru := range r.rules {
		produced[ru.channel] = true
	}
	for _, c := range Channels() {
		if !produced[c] {
			t.Errorf("no default rule produces channel %q", c)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"bad regex", `
rules:
  - name: broken
    channel: Paid Search
    all:
      - {field: medium, regex: '^(cpc'}
`, []string{`rules[0] ("broken")`, "bad regex", "line 6"}},
		{"unknown field", `
rules:
  - name: ok
    channel: Direct
  - name: typo
    channel: Email
    all:
      - {field: sorce, equals: email}
`, []string{`rules[1] ("typo").all[0]`, `unknown field "sorce"`, "source_category"}},
		{"unknown operator", `
rules:
  - name: op
    channel: Email
    any:
      - {field: medium, matches: email}
`, []string{`rules[0] ("op").any[0]`, `unknown operator "matches"`, "regex"}},
		{"missing channel", `
rules:
  - name: nochannel
    all:
      - {field: medium, equals: email}
`, []string{`rules[0] ("nochannel")`, "missing channel name"}},
		{"missing name", `
rules:
  - channel: Email
`, []string{"rules[0]", "missing name"}},
		{"two operators", `
rules:
  - name: two
    channel: Email
    all:
      - {field: medium, equals: email, prefix: e}
`, []string{`rules[0] ("two")`, "two operators"}},
		{"missing operator", `
rules:
  - name: none
    channel: Email
    all:
      - {field: medium}
`, []string{`rules[0] ("none")`, "missing operator"}},
		{"misspelt channel", `
rules:
  - name: lower
    channel: paid search
`, []string{`rules[0] ("lower")`, `did you mean "Paid Search"`}},
		{"duplicate name", `
rules:
  - {name: a, channel: Direct}
  - {name: a, channel: Email}
`, []string{`rules[1]`, `name "a" already used by rules[0]`}},
		{"unknown list", `
rules:
  - name: l
    channel: Email
    all:
      - {field: source, in_list: nosuch}
`, []string{`rules[0] ("l")`, `no list named "nosuch"`}},
		{"unknown top-level key", `
rulez: []
`, []string{`unknown top-level key "rulez"`}},
		{"no rules section", `
version: 1
`, []string{"missing rules section"}},
		{"bad version", `
version: 2
rules: [{name: a, channel: Direct}]
`, []string{`unsupported version "2"`}},
		{"exists not bool", `
rules:
  - name: e
    channel: Email
    all:
      - {field: hint, exists: maybe}
`, []string{`rules[0] ("e").all[0].exists`, "true or false"}},
		{"unknown rule key", `
rules:
  - name: k
    channel: Email
    when: []
`, []string{`rules[0] ("k")`, `unknown key "when"`}},
		{"duplicate source token", `
sources:
  social: {facebook: [fb]}
  search: {fbsearch: [fb]}
rules: [{name: a, channel: Direct}]
`, []string{`"alias fb"`, "social.facebook", "search.fbsearch"}},
		{"not yaml", "rules: [unclosed", []string{"channel rules"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil {
				t.Fatal("Parse accepted the file")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// A user file replaces the default rules: the same touch gets the user's
// channel, and sections the file omits (sources) still come from the defaults.
func TestUserRulesOverrideDefaults(t *testing.T) {
	touch := Touch{PageURL: "https://bakery.example/?utm_source=instagram&utm_medium=paid_social&utm_campaign=croissants"}
	if got := Default().Classify(touch); got.Channel != PaidSocial {
		t.Fatalf("default: got %v, want Paid Social", got)
	}
	user := `
version: 1
lists:
  meta: [facebook, instagram]
rules:
  - name: all-meta
    channel: Meta Ads
    all:
      - {field: source, in_list: meta}
      - {field: medium, regex: '^PAID'}
  - name: social-sites
    channel: Social
    all:
      - {field: source_category, equals: social}
  - name: market-stall
    channel: Events
    all:
      - {field: query.stall, exists: true}
    set: {source: saturday_market, medium: offline}
  - name: rest
    channel: Other
`
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(user), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(tc Touch, channel, rule, source string) {
		t.Helper()
		got := r.Classify(tc)
		if got.Channel != channel || got.Rule != rule || got.Source != source {
			t.Errorf("Classify(%+v) = %v; want channel %q rule %q source %q", tc, got, channel, rule, source)
		}
	}
	check(touch, "Meta Ads", "all-meta", "instagram")
	// Sources were not in the user file: the default table still knows x.com.
	check(Touch{PageURL: "https://bakery.example/", Referrer: "https://x.com/"}, "Social", "social-sites", "x")
	check(Touch{PageURL: "https://bakery.example/?stall=3"}, Events, "market-stall", "saturday_market")
	check(Touch{PageURL: "https://bakery.example/"}, "Other", "rest", DirectSource)
	if got := r.Channels(); !slices.Contains(got, "Meta Ads") || !slices.Contains(got, "Other") || got[0] != Direct {
		t.Errorf("Rules.Channels() = %v", got)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

// append_default_rules puts the defaults after the user's rules, so a user
// adds a channel without copying the whole file.
func TestAppendDefaultRules(t *testing.T) {
	r, err := Parse([]byte(`
append_default_rules: true
rules:
  - name: ai-channel
    channel: AI Assistant
    all:
      - {field: source_category, equals: ai}
  - name: coupon-qr
    channel: Direct Mail
    all:
      - {field: query.coupon, prefix: mail}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Classify(Touch{PageURL: "https://bike.example/", Referrer: "https://chatgpt.com/"}); got.Channel != "AI Assistant" {
		t.Errorf("chatgpt referral: %v", got)
	}
	if got := r.Classify(Touch{PageURL: "https://bike.example/?coupon=MAIL10"}); got.Channel != DirectMail || got.Rule != "coupon-qr" {
		t.Errorf("coupon: %v", got)
	}
	// Default rules still apply after the user's.
	if got := r.Classify(Touch{PageURL: "https://bike.example/?gclid=x"}); got.Channel != PaidSearch {
		t.Errorf("gclid with appended defaults: %v", got)
	}
	if n := len(r.RuleNames()); n != len(Default().RuleNames())+2 {
		t.Errorf("%d rules, want defaults + 2", n)
	}
	if _, err := Parse([]byte("append_default_rules: true\nrules: [{name: direct, channel: Direct}]")); err == nil ||
		!strings.Contains(err.Error(), `"direct"`) {
		t.Errorf("clash with a default rule name: err = %v", err)
	}
}

func TestUserSourcesAndClickIDs(t *testing.T) {
	r, err := Parse([]byte(`
sources:
  search: {kagi: [kagi.com]}
  local: {townguide: [townguide.example, tg]}
click_ids:
  - {param: myclid, source: townguide, medium: cpc}
rules:
  - name: local-paid
    channel: Paid Other
    all:
      - {field: source_category, equals: local}
      - {field: click_id, equals: myclid}
  - name: local
    channel: Referral
    all:
      - {field: referrer_category, equals: local}
  - name: search
    channel: Organic Search
    all:
      - {field: medium, equals: organic}
  - name: rest
    channel: Unassigned
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Classify(Touch{PageURL: "https://bakery.example/?MyClid=1"}); got.Rule != "local-paid" || got.Source != "townguide" || got.Medium != "cpc" {
		t.Errorf("custom click id: %v", got)
	}
	if got := r.Classify(Touch{Referrer: "https://www.townguide.example/bakeries"}); got.Rule != "local" {
		t.Errorf("custom source host: %v", got)
	}
	// google is not in this user's sources, so it is an ordinary referral.
	if got := r.Classify(Touch{Referrer: "https://www.google.com/"}); got.Rule != "rest" || got.Medium != "referral" || got.Source != "google.com" {
		t.Errorf("source table replaced: %v", got)
	}
	if got := r.Classify(Touch{Referrer: "https://kagi.com/search"}); got.Rule != "search" || got.Source != "kagi" {
		t.Errorf("user search engine: %v", got)
	}
}

func TestConditionOperators(t *testing.T) {
	r, err := Parse([]byte(`
rules:
  - {name: not-exists, channel: A, all: [{field: term, exists: false}, {field: content, exists: true}]}
  - {name: suffix, channel: B, all: [{field: page_path, suffix: /thanks}]}
  - {name: negated, channel: C, all: [{field: event, not: true, in: [page viewed, order completed]}, {field: type, equals: track}]}
  - {name: upper-regex, channel: D, all: [{field: campaign, regex: 'BLACK ?FRIDAY'}]}
  - {name: hint-fold, channel: E, all: [{field: hint, equals: "Call Centre"}]}
  - {name: rest, channel: Unassigned}
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		touch Touch
		rule  string
	}{
		{Touch{Content: "banner_a"}, "not-exists"},
		{Touch{Content: "banner_a", Term: "bikes"}, "rest"},
		{Touch{PageURL: "https://x.example/Order/THANKS?x=1"}, "suffix"},
		{Touch{Type: "track", Event: "Signed Up"}, "negated"},
		{Touch{Type: "track", Event: "Order Completed"}, "rest"},
		{Touch{Campaign: "Black Friday 2026"}, "upper-regex"},
		{Touch{Hint: " call-centre "}, "hint-fold"},
	}
	for _, c := range cases {
		if got := r.Classify(c.touch); got.Rule != c.rule {
			t.Errorf("Classify(%+v).Rule = %q, want %q", c.touch, got.Rule, c.rule)
		}
	}
}

func TestZeroRules(t *testing.T) {
	var zero Rules
	got := zero.Classify(Touch{PageURL: "https://b.example/?gclid=1", Referrer: "https://google.com/"})
	if got.Channel != Unassigned || got.Source != "google.com" {
		t.Errorf("zero Rules: %v", got)
	}
	var nilRules *Rules
	if got := nilRules.Classify(Touch{}); got.Channel != Unassigned {
		t.Errorf("nil Rules: %v", got)
	}
}

func TestNoRuleMatched(t *testing.T) {
	r, err := Parse([]byte(`rules: [{name: only-email, channel: Email, all: [{field: medium, equals: email}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	got := r.Classify(Touch{PageURL: "https://x.example/?utm_source=a&utm_medium=b"})
	want := Result{Channel: Unassigned, Campaign: NoCampaign, Source: "a", Medium: "b", Rule: "(no rule matched)"}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestFromSegment(t *testing.T) {
	cases := []struct {
		name, json string
		want       Touch
	}{
		{"page with context.campaign", `{"type":"page","properties":{"url":"https://b.example/p"},
			"context":{"campaign":{"name":"Spring","source":"Newsletter","medium":"email","term":"t","content":"c"},
			"page":{"url":"https://b.example/?utm_source=x","referrer":"https://mail.google.com/"}}}`,
			Touch{Type: "page", Source: "Newsletter", Medium: "email", Campaign: "Spring", Term: "t", Content: "c",
				PageURL: "https://b.example/?utm_source=x", Referrer: "https://mail.google.com/"}},
		{"mobile referrer and utm_ keys", `{"type":"screen","context":{"campaign":{"utm_source":"ig","utm_medium":"paid_social"},"referrer":{"url":"https://l.instagram.com/"}}}`,
			Touch{Type: "screen", Source: "ig", Medium: "paid_social", Referrer: "https://l.instagram.com/"}},
		{"till order", `{"type":"track","event":"Order Completed","properties":{"channel":"In Store","location":"store","total":12.5},"context":{"channel":"server"}}`,
			Touch{Type: "track", Event: "Order Completed", Hint: "In Store", Location: "store"}},
		{"shopify source_name", `{"type":"track","event":"Order Completed","properties":{"source_name":"pos"}}`,
			Touch{Type: "track", Event: "Order Completed", Location: "pos"}},
		{"email spec campaign_name", `{"type":"track","event":"Email Link Clicked","properties":{"campaign_name":"Welcome","link_url":"https://b.example/"}}`,
			Touch{Type: "track", Event: "Email Link Clicked", Campaign: "Welcome"}},
		{"odd types tolerated", `{"type":"track","event":"Order Completed","properties":{"location":{"lat":1},"channel":7},"context":{"campaign":"oops","page":null}}`,
			Touch{Type: "track", Event: "Order Completed", Hint: "7"}},
		{"properties not an object", `{"type":"track","event":"X","properties":"nope"}`,
			Touch{Type: "track", Event: "X"}},
		{"not json", `{"type":`, Touch{}},
		{"empty", ``, Touch{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromSegment([]byte(c.json))
			if !touchEqual(got, c.want) {
				t.Errorf("FromSegment:\n got  %+v\n want %+v", got, c.want)
			}
		})
	}
	// End to end: a raw Segment event classified by the defaults.
	res := Default().Classify(FromSegment([]byte(`{"type":"page","context":{"page":{"url":"https://b.example/?gclid=Cj0K","referrer":"https://www.google.com/"}}}`)))
	if res.Channel != PaidSearch || res.Source != "google" || res.Medium != "cpc" {
		t.Errorf("segment gclid page: %v", res)
	}
}

func touchEqual(a, b Touch) bool {
	return a.Type == b.Type && a.Event == b.Event && a.Source == b.Source && a.Medium == b.Medium &&
		a.Campaign == b.Campaign && a.Term == b.Term && a.Content == b.Content && a.PageURL == b.PageURL &&
		a.Referrer == b.Referrer && a.Hint == b.Hint && a.Location == b.Location && slices.Equal(a.OwnHosts, b.OwnHosts)
}

func TestHostLookup(t *testing.T) {
	src := Default().src
	cases := map[string]string{
		"google.com": "google", "news.google.co.uk": "google", "www.google.com.au": "google",
		"mail.google.com": "gmail", "gemini.google.com": "gemini", "google.example.com": "",
		"l.facebook.com": "facebook", "notfacebook.com": "", "facebook.com.evil.example": "",
		"uk.pinterest.com": "pinterest", "com.google.android.gm": "gmail", "t.co": "x", "co": "",
	}
	for host, want := range cases {
		got := ""
		if si := src.lookupHost(host); si != nil {
			got = si.name
		}
		if got != want {
			t.Errorf("lookupHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// Classify is called from many goroutines by the ingest pipeline; -race checks
// that it shares no mutable state and that results do not depend on timing.
func TestClassifyConcurrent(t *testing.T) {
	touches := benchTouches()
	r := Default()
	want := make([]Result, len(touches))
	for i, tc := range touches {
		want[i] = r.Classify(tc)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, tc := range touches {
				if got := r.Classify(tc); got != want[i] {
					t.Errorf("touch %d: concurrent result %v != %v", i, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestClassifyAllocs(t *testing.T) {
	r := Default()
	tc := Touch{PageURL: "https://bakery.example/?utm_source=ig&utm_medium=paid_social&utm_campaign=croissant_week", Referrer: "https://l.instagram.com/"}
	if n := testing.AllocsPerRun(100, func() { r.Classify(tc) }); n != 0 {
		t.Errorf("Classify of a lower-case touch allocates %v times", n)
	}
}

// Appended base rules that read query.<param> fields are re-indexed into the
// user's rule set (the user's own query fields take the first slots).
func TestAppendRebindsQueryFields(t *testing.T) {
	base, err := parse([]byte(strings.Replace(string(defaultYAML), "rules:\n", `rules:
  - name: base-ref
    channel: Referral
    all:
      - {field: query.ref, equals: partner}
`, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parse([]byte(`
append_default_rules: true
rules:
  - {name: coupon, channel: Direct Mail, all: [{field: query.coupon, exists: true}]}
`), base)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Classify(Touch{PageURL: "https://b.example/?ref=partner"}); got.Rule != "base-ref" {
		t.Errorf("?ref=partner: %v", got)
	}
	if got := r.Classify(Touch{PageURL: "https://b.example/?coupon=1"}); got.Rule != "coupon" {
		t.Errorf("?coupon=1: %v", got)
	}
	if got := r.Classify(Touch{PageURL: "https://b.example/?gclid=1"}); got.Rule != "paid-search" {
		t.Errorf("?gclid=1: %v", got)
	}
}

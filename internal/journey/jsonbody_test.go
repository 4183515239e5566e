package journey

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store/storetest"
)

// A trait is attacker-controlled; in a JSON webhook body it must stay a string value.
func TestWebhookBodyValuesCannotChangeJSON(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, Options{})
	f.apply(`name: crm
purpose: transactional
entry: {event: Signed Up}
holdout: 0
steps:
  - webhook:
      url: "https://crm.example/hook"
      body: '{"name": "{{.Profile.Traits.nickname}}", "role": "customer", "plan": {{.Event.plan}}}'
`)
	u := f.customer(1, map[string]any{"nickname": `x", "admin": true, "y": "`})
	f.track(u, "Signed Up", map[string]any{"plan": `1, "admin": true`})
	hooks := f.sink.byChannel("webhook")
	if len(hooks) != 1 {
		t.Fatalf("webhooks = %d (send status %v)", len(hooks), f.sends("1 = 1"))
	}
	var body map[string]any
	if err := json.Unmarshal(hooks[0].Data, &body); err != nil {
		t.Fatalf("body %s: %v", hooks[0].Data, err)
	}
	if _, ok := body["admin"]; ok || len(body) != 3 {
		t.Fatalf("a trait changed the body's structure: %s", hooks[0].Data)
	}
	if body["name"] != `x", "admin": true, "y": "` || body["plan"] != `1, "admin": true` || body["role"] != "customer" {
		t.Fatalf("values not kept as strings: %s", hooks[0].Data)
	}
}

func TestJSONBodyEscaping(t *testing.T) {
	t.Parallel()
	data := &renderData{Profile: Profile{Name: `Ann "the </script> baker"` + "\n\u0000"},
		Event: map[string]any{"total": 12.5, "items": []any{"a", map[string]any{"b": true}}, "note": "line\nbreak", "tag": `x\`}}
	for _, c := range []struct{ src, want string }{
		{`{"name": "{{.Profile.Name}}"}`, `{"name":"Ann \"the </script> baker\"\n\u0000"}`},
		{`{"total": {{.Event.total}}, "items": {{.Event.items}}, "none": {{.Event.missing}}}`, `{"total":12.5,"items":["a",{"b":true}],"none":null}`},
		{`{"name": {{.Profile.Name}}}`, `{"name":"Ann \"the </script> baker\"\n\u0000"}`},
		{`{"items": {{json .Event.items}}, "s": "{{.Event.tag}}"}`, `{"items":["a",{"b":true}],"s":"x\\"}`},
		{`{"q": "say \"{{.Event.note}}\""}`, `{"q":"say \"line\nbreak\""}`},
		{`{"v": {{if .Event.total}}"{{.Event.total}}"{{else}}"none"{{end}}, "r": [{{range $i, $x := .Event.items}}{{if $i}},{{end}}"{{$x}}"{{end}}]}`, `{"v":"12.5","r":["a","map[b:true]"]}`},
		{`{"link": "{{link "https://shop.example/x?a=1&b=2"}}"}`, `{"link":"https://shop.example/x?a=1&b=2"}`},
	} {
		got, err := renderJSON("body", c.src, data, nil)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		var v, want any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("%s rendered invalid JSON %s: %v", c.src, got, err)
			continue
		}
		if err := json.Unmarshal([]byte(c.want), &want); err != nil {
			t.Fatalf("bad want %s: %v", c.want, err)
		}
		gb, _ := json.Marshal(v)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", c.src, gb, wb)
		}
	}
	for _, bad := range []string{
		`{"a": "{{json .Event.total}}"}`,                // json inside a string
		`{"a": {{if .Event.total}}"{{end}}x"}`,          // a quote in one branch only
		`{"a": [{{range .Event.items}}"{{.}}{{end}}"]}`, // a range that opens a string
		`{"a": "\{{.Event.tag}}"}`,                      // a value right after a backslash
		`{"a": "{{.Event.tag}}}`,                        // unterminated string
		`{{define "x"}}{}{{end}}{{template "x"}}`,       // sub-templates
	} {
		if _, err := parseJSONBody("body", bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	doc := "name: x\nentry: {event: A}\nsteps:\n  - webhook: {url: \"https://crm.example\", body: '{\"a\": \"{{json .Event.x}}\"}'}\n"
	if _, err := Compile([]byte(doc)); err == nil || !strings.Contains(err.Error(), "steps[0].webhook.body") {
		t.Errorf("journey with a bad body: %v", err)
	}
}

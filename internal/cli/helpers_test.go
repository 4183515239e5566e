package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseSub(t *testing.T) {
	want := map[string][]int{"add": {1}, "list": {0}, "search": {0, 1}}
	for _, tc := range []struct {
		args    []string
		sub     string
		pos     []string
		limit   int
		wantErr error // nil, ErrUsage, or errFlag for a flag parse error
	}{
		{args: []string{"add", "shop"}, sub: "add", pos: []string{"shop"}},
		{args: []string{"add", "--limit", "3", "shop"}, sub: "add", pos: []string{"shop"}, limit: 3},
		{args: []string{"add", "shop", "--limit", "4"}, sub: "add", pos: []string{"shop"}, limit: 4},
		{args: []string{"list"}, sub: "list"},
		{args: []string{"search"}, sub: "search"},
		{args: []string{"search", "ana", "--limit=2"}, sub: "search", pos: []string{"ana"}, limit: 2},
		{args: nil, wantErr: ErrUsage},
		{args: []string{"add"}, wantErr: ErrUsage},
		{args: []string{"add", "a", "b"}, wantErr: ErrUsage},
		{args: []string{"list", "x"}, wantErr: ErrUsage},
		{args: []string{"search", "a", "b"}, wantErr: ErrUsage},
		{args: []string{"frob"}, wantErr: ErrUsage},
		{args: []string{"--limit", "3"}, wantErr: ErrUsage}, // the first word is the subcommand
		// A bad flag is reported as such, even on an unknown subcommand.
		{args: []string{"frob", "--nope"}, wantErr: errFlag},
		{args: []string{"add", "shop", "--limit", "x"}, wantErr: errFlag},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limit := fs.Int("limit", 0, "")
		sub, pos, err := parseSub(fs, tc.args, want)
		switch {
		case tc.wantErr == errFlag:
			if err == nil || errors.Is(err, ErrUsage) {
				t.Errorf("%q: err %v, want a flag error", tc.args, err)
			}
		case !errors.Is(err, tc.wantErr):
			t.Errorf("%q: err %v, want %v", tc.args, err, tc.wantErr)
		case err == nil && (sub != tc.sub || !slices.Equal(pos, tc.pos) || *limit != tc.limit):
			t.Errorf("%q: sub %q pos %q limit %d, want %q %q %d", tc.args, sub, pos, *limit, tc.sub, tc.pos, tc.limit)
		}
	}
}

var errFlag = errors.New("flag error")

func TestParseNoArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true}, {[]string{"--json"}, true}, {[]string{"x"}, false}, {[]string{"--json", "x"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Bool("json", false, "")
		err := parseNoArgs(fs, tc.args)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUsage)) {
			t.Errorf("%q: err %v", tc.args, err)
		}
	}
}

func TestPrintRows(t *testing.T) {
	t.Parallel()
	type row struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	show := func(asJSON bool, rows []row) string {
		var out bytes.Buffer
		env := &Env{Stdout: &out}
		if err := printRows(env, asJSON, rows, "NAME\tN", func(w io.Writer, r row) { fmt.Fprintf(w, "%s\t%d\n", r.Name, r.N) }); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := show(true, nil); got != "[]\n" {
		t.Errorf("JSON of no rows = %q, want an empty list", got)
	}
	if got := show(true, []row{{"a", 1}}); got != "[\n  {\n    \"name\": \"a\",\n    \"n\": 1\n  }\n]\n" {
		t.Errorf("JSON = %q", got)
	}
	if got, want := show(false, []row{{"bakery", 12}, {"b", 3}}), "NAME    N\nbakery  12\nb       3\n"; got != want {
		t.Errorf("table = %q, want %q", got, want)
	}
	if got := show(false, nil); got != "NAME  N\n" {
		t.Errorf("table of no rows = %q, want the header only", got)
	}
}

// TestTokenCommand drives token add, list and revoke, which no other test runs.
func TestTokenCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append(args, "--data", data)...)
	}
	code, out, errs := run("token", "add", "reporting")
	if code != 0 || !strings.Contains(out, `API token "reporting" (role analyst) created.`) {
		t.Fatalf("token add: exit %d\n%s%s", code, out, errs)
	}
	secret := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "keep it): ", 2)[1], "\n", 2)[0])
	if code, out, errs := run("token", "add", "automation", "--write"); code != 0 || !strings.Contains(out, `API token "automation" (role marketer) created.`) {
		t.Fatalf("token add --write: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := run("token", "add", "board", "--role", "viewer", "--json"); code != 0 || !strings.Contains(out, `"role": "viewer"`) || !strings.Contains(out, `"scope": "read"`) {
		t.Fatalf("token add --role viewer: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run("token", "add", "x", "--role", "root"); code != 1 || !strings.Contains(errs, "unknown role") {
		t.Fatalf("token add --role root: exit %d %s", code, errs)
	}
	if code, _, errs := run("token", "add", "x", "--role", "viewer", "--write"); code != 1 || !strings.Contains(errs, "--write means --role marketer") {
		t.Fatalf("token add --role viewer --write: exit %d %s", code, errs)
	}
	if code, out, _ := run("token", "list"); code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "reporting") || strings.Contains(out, secret) ||
		!regexp.MustCompile(`reporting\s+\S+\s+analyst\s`).MatchString(out) || !regexp.MustCompile(`automation\s+\S+\s+marketer\s`).MatchString(out) {
		t.Fatalf("token list: exit %d\n%s", code, out)
	}
	for _, name := range []string{"automation", "board"} {
		if code, _, _ := run("token", "revoke", name); code != 0 {
			t.Fatalf("token revoke %s: exit %d", name, code)
		}
	}
	if code, _, _ := run("token", "list", "extra"); code != 2 {
		t.Errorf("token list extra: exit %d, want usage (2)", code)
	}
	if code, out, _ := run("token", "revoke", "reporting"); code != 0 || out != "API token \"reporting\" revoked\n" {
		t.Fatalf("token revoke: exit %d %q", code, out)
	}
	if code, out, _ := run("token", "list", "--json"); code != 0 || out != "[]\n" {
		t.Errorf("token list --json after revoke: exit %d %q, want []", code, out)
	}
	if code, _, _ := run("token", "revoke", "reporting"); code != 1 {
		t.Errorf("revoking a revoked token: exit %d, want 1", code)
	}
}

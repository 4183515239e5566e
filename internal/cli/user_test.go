package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/store"
)

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(stdin)}
		code := Run(context.Background(), env, append(args, "--data", dir))
		return code, out.String(), errb.String()
	}
	if code, _, errs := run("", "user", "add", "owner@example.com"); code != 1 || !strings.Contains(errs, "no password") {
		t.Fatalf("empty stdin: %d %s", code, errs)
	}
	if code, out, errs := run("a long password\n", "user", "add", "owner@example.com", "--password-stdin"); code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	if code, _, errs := run("another password\n", "user", "add", "owner@example.com"); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate: %d %s", code, errs)
	}
	if code, out, _ := run("", "user", "list", "--json"); code != 0 || !strings.Contains(out, `"email": "owner@example.com"`) {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, _, errs := run("changed password\n", "user", "passwd", "owner@example.com"); code != 0 {
		t.Fatalf("passwd: %d %s", code, errs)
	}
	db, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := auth.Authenticate(context.Background(), db, "owner@example.com", "changed password"); err != nil {
		t.Fatalf("the changed password does not log in: %v", err)
	}
	if code, _, _ := run("", "user", "frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: %d, want usage (2)", code)
	}
}

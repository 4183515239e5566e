package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/store"
)

// TestStoredEscapesNotPrinted: names, emails, campaigns and source names holding terminal
// escape sequences (sent by anyone with the public write key) come out of the CLI escaped,
// never as raw control bytes.
func TestStoredEscapesNotPrinted(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	const evil = "\x1b]0;pwned\x07\x1b[2J\u009b31mEve\u202e"
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	identitytest.Load(t, db, "web\x1b[31m", at,
		map[string]any{"type": "identify", "userId": "u-evil\x1b[1m", "timestamp": at.Format(time.RFC3339),
			"traits": map[string]any{"name": evil, "email": "eve@example.com", "note": "line1\r\x1b[Aline2"}},
		map[string]any{"type": "track", "userId": "u-evil\x1b[1m", "event": "Order Completed\x1b[5m", "timestamp": at.Add(time.Minute).Format(time.RFC3339),
			"properties": map[string]any{"order_id": "o-\x1b[8m1", "revenue": 10, "currency": "EUR", "location": "web\x1b[0m"},
			"context":    map[string]any{"campaign": map[string]any{"source": "news\x1b[1m", "medium": "email", "name": "spring\x1b]8;;http://evil.example\x07"}}},
	)
	db.Close()

	for _, args := range [][]string{
		{"customer", "show", "eve@example.com"},
		{"customer", "search", "eve"},
		{"source", "list"},
		{"stats"},
	} {
		code, out, errs := runCLI(t, append(args, "--data", data)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return r == 0x1b || r == 0x07 || r == '\r' || r == 0x9b || r == 0x202e }); i >= 0 {
			t.Errorf("%v printed a raw control character at %d: %q", args, i, out)
		}
		if args[0] == "customer" && !strings.Contains(out, `\x1b]0;pwned`) {
			t.Errorf("%v: the escaped name is missing: %s", args, out)
		}
	}
}

// TestTermSafe: the terminal writer escapes controls, keeps tabs, newlines and text,
// including runes split across writes.
func TestTermSafe(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := &termSafe{w: &b}
	in := "a\tb\n\x1b[2Jü\u009b\u202ex\r"
	raw := []byte(in)
	for i := range raw { // one byte per write: every rune split
		if _, err := w.Write(raw[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if want := "a\tb\n\\x1b[2Jü\\u{9B}\\u{202E}x\\x0d"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

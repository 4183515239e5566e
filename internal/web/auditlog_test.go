package web

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// TestAuditPage pages through the audit log 50 entries at a time and filters it.
func TestAuditPage(t *testing.T) {
	db := storetest.SQLite(t)
	ts := newTestServer(t, db, Options{})
	ctx := context.Background()
	for i := range 60 {
		a := "journey.enable"
		if i%3 == 0 {
			a = "token.add"
		}
		if err := audit.Record(ctx, db, audit.Entry{Actor: "cli", Action: a, Target: fmt.Sprintf("n:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := ts.loggedIn(t)
	rows := regexp.MustCompile(`<td>(journey\.enable|token\.add|user\.add)</td>`)
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next">Older entries</a>`)
	_, body := get(t, c, ts.URL+"/audit")
	if n := len(rows.FindAllString(body, -1)); n != 50 {
		t.Fatalf("first page: %d entries, want 50", n)
	}
	m := older.FindStringSubmatch(body)
	if m == nil || strings.Contains(body, "Newest entries") {
		t.Fatalf("first page: no link to older entries, or one to the newest")
	}
	_, body = get(t, c, ts.URL+html.UnescapeString(m[1]))
	// 60 recorded here and the owner's user.add from the fixture: 11 on the second page.
	if n := len(rows.FindAllString(body, -1)); n != 11 || older.MatchString(body) || !strings.Contains(body, "Newest entries") || !strings.Contains(body, "n:0") {
		t.Fatalf("second page: %d entries\n%.300s", n, body)
	}
	_, body = get(t, c, ts.URL+"/audit?action=token")
	if n := len(rows.FindAllString(body, -1)); n != 20 || strings.Contains(body, "journey.enable") || older.MatchString(body) {
		t.Fatalf("filtered: %d entries", n)
	}
	if resp, _ := get(t, c, ts.URL+"/audit?before=x"); resp.StatusCode != 400 {
		t.Errorf("before=x: %d", resp.StatusCode)
	}
	resp, csv := get(t, c, ts.URL+"/audit?action=token&format=csv&table=audit")
	if resp.StatusCode != 200 || strings.Count(csv, "token.add") != 20 {
		t.Errorf("CSV: %d, %d rows", resp.StatusCode, strings.Count(csv, "token.add"))
	}
}

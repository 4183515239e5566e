package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestListFilterAndPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if got := audit.ActorFrom(ctx); got != audit.ActorSystem {
			t.Errorf("actor of a bare context: %q", got)
		}
		actx := audit.WithActor(ctx, audit.TokenActor("ops"))
		for _, a := range []string{"user.invite", "user.role", "users_x.y", "userx", "user", "journey.apply", "privacy.erase"} {
			if err := audit.Record(actx, db, audit.Entry{Actor: audit.ActorFrom(actx), Action: a, Target: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		names := func(f audit.Filter) string {
			es, err := audit.List(ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				if e.Actor != "token:ops" {
					t.Errorf("actor %q", e.Actor)
				}
				out = append(out, e.Action)
			}
			return strings.Join(out, " ")
		}
		for f, want := range map[string]string{
			"user":        "user user.role user.invite",
			"user.":       "user user.role user.invite",
			"user.role":   "user.role",
			"user_":       "", // _ is a character, not a LIKE wildcard
			"privacy":     "privacy.erase",
			"":            "privacy.erase journey.apply user userx users_x.y user.role user.invite",
			"%":           "",
			"journey.app": "",
		} {
			if got := names(audit.Filter{Action: f}); got != want {
				t.Errorf("action %q: %q, want %q", f, got, want)
			}
		}
		// Paging: two at a time, each page older than the last entry of the previous one.
		var all []string
		var before int64
		for range 10 {
			es, err := audit.List(ctx, db, audit.Filter{Limit: 2, Before: before})
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				break
			}
			for _, e := range es {
				all = append(all, e.Action)
			}
			before = es[len(es)-1].ID
		}
		if got := strings.Join(all, " "); got != names(audit.Filter{}) {
			t.Errorf("pages: %q", got)
		}
	})
}

package workspace_test

import (
	"context"
	"testing"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/workspace"
)

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if v, _ := workspace.Currency(ctx, db); v != "EUR" {
			t.Fatalf("default currency %q", v)
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "currency", "jpy"); err != nil {
			t.Fatal(err)
		}
		if v, _ := workspace.Currency(ctx, db); v != "JPY" {
			t.Fatalf("currency after set %q, want JPY", v)
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "timezone", "Mars/Olympus"); err == nil {
			t.Fatal("an unknown time zone was accepted")
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "nope", "1"); err == nil {
			t.Fatal("an undeclared key was accepted")
		}
		if _, err := workspace.Set(ctx, db, audit.ActorCLI, "shop_url", "javascript:alert(1)"); err == nil {
			t.Fatal("a javascript: shop URL was accepted")
		}
		// A value stored behind the registry's back that fails its check reads as the default.
		if err := db.Write(ctx, func(tx *store.Tx) error { return store.SetSetting(ctx, tx, "timezone", "Nowhere/Land") }); err != nil {
			t.Fatal(err)
		}
		if loc, err := workspace.Location(ctx, db); err != nil || loc.String() != "UTC" {
			t.Fatalf("bad stored zone read as %v, %v", loc, err)
		}
		if err := workspace.Reset(ctx, db, "user:a@b.c", "currency"); err != nil {
			t.Fatal(err)
		}
		if v, _ := workspace.Currency(ctx, db); v != "EUR" {
			t.Fatalf("currency after reset %q", v)
		}
		es, err := audit.List(ctx, db, audit.Filter{Action: "settings."})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 || es[0].Action != "settings.reset" || es[0].Actor != "user:a@b.c" || es[1].Detail["value"] != "JPY" {
			t.Fatalf("audit entries %+v", es)
		}
	})
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "24h": "24h0m0s", "0": "0s"} {
		d, err := workspace.ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, in := range []string{"-1d", "x", "-5h"} {
		if _, err := workspace.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

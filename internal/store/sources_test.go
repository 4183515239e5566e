package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestSourceKinds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		web, _, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if web.Kind != store.KindClient || web.Trusted() {
			t.Fatalf("source add's default: kind %q trusted %v, want client and untrusted", web.Kind, web.Trusted())
		}
		back, _, err := db.CreateSourceKind(ctx, "back end", "Server")
		if err != nil || back.Kind != store.KindServer || !back.Trusted() {
			t.Fatalf("server source: %+v %v", back, err)
		}
		if _, _, err := db.CreateSourceKind(ctx, "x", "browser"); err == nil || !strings.Contains(err.Error(), "unknown source kind") {
			t.Fatalf("unknown kind: %v", err)
		}
		imp, err := db.EnsureSource(ctx, "import")
		if err != nil || imp.Kind != store.KindServer {
			t.Fatalf("importer source: %+v %v", imp, err)
		}
		// EnsureSource leaves an existing source's kind alone.
		if got, err := db.EnsureSource(ctx, "web"); err != nil || got.Kind != store.KindClient || got.ID != web.ID {
			t.Fatalf("EnsureSource(web) = %+v %v", got, err)
		}
		kinds, err := db.SourceKindsByID(ctx)
		if err != nil || kinds[web.ID] != "client" || kinds[back.ID] != "server" || kinds[imp.ID] != "server" {
			t.Fatalf("kinds by id %v %v", kinds, err)
		}
		if _, err := db.SetSourceKind(ctx, "web", "server", nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SourceByName(ctx, "web"); got.Kind != "server" {
			t.Fatalf("after set kind: %+v", got)
		}
	})
}

func TestRotateRevoke(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		src, key, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		gen0, err := db.KeyGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recorded := 0
		rec := func(ctx context.Context, tx *store.Tx, s store.Source) error { recorded++; return nil }
		rot, key2, err := db.RotateSourceKey(ctx, "web", rec)
		if err != nil {
			t.Fatal(err)
		}
		if key2 == key || rot.ID != src.ID || rot.RotatedAt.IsZero() || !strings.HasPrefix(key2, rot.KeyHint) {
			t.Fatalf("rotated %+v key %s (old %s)", rot, key2, key)
		}
		if _, err := db.SourceByKey(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old key after rotation: %v", err)
		}
		if got, err := db.SourceByKey(ctx, key2); err != nil || got.ID != src.ID {
			t.Fatalf("new key: %+v %v", got, err)
		}
		if _, err := db.RevokeSourceKey(ctx, "web", rec); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SourceByKey(ctx, key2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked key: %v", err)
		}
		if _, err := db.RevokeSourceKey(ctx, "web", rec); err == nil {
			t.Fatal("revoking twice succeeded")
		}
		if _, err := db.RevokeSourceKey(ctx, "nope", rec); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown source: %v", err)
		}
		// Rotating a revoked source gives it a live key again.
		_, key3, err := db.RotateSourceKey(ctx, "web", rec)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.SourceByKey(ctx, key3); err != nil || got.Revoked() {
			t.Fatalf("key after revoke+rotate: %+v %v", got, err)
		}
		gen, err := db.KeyGeneration(ctx)
		if err != nil || gen != gen0+3 || recorded != 3 {
			t.Fatalf("key generation %d (from %d), %d records; want +3 and 3", gen, gen0, recorded)
		}
	})
}

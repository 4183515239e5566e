package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func TestEventsAppendDedupeAndRead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		src, key, err := db.CreateSource(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.SourceByKey(ctx, key); err != nil || got.ID != src.ID {
			t.Fatalf("SourceByKey = %v, %v; want source %d", got, err, src.ID)
		}
		if _, err := db.SourceByKey(ctx, key+"x"); err != store.ErrNotFound {
			t.Fatalf("wrong key: err = %v, want ErrNotFound", err)
		}
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var evs []event.Event
		for i := 0; i < 450; i++ {
			evs = append(evs, event.Event{SourceID: src.ID, MessageID: fmt.Sprintf("m%d", i), Type: "track", Name: "Viewed",
				AnonymousID: "a1", Timestamp: now.Add(time.Duration(i) * time.Second), ReceivedAt: now, Body: []byte(`{}`)})
		}
		insert := func(evs []event.Event) int {
			var n int
			err := db.Write(ctx, func(tx *store.Tx) error {
				if err := store.LockEventLog(ctx, tx); err != nil {
					return err
				}
				var err error
				n, err = store.InsertEvents(ctx, tx, evs)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := insert(evs); n != 450 {
			t.Fatalf("first insert stored %d, want 450", n)
		}
		// A retry of the same messages plus 10 new ones stores only the new ones.
		more := append(evs[:300:300], event.Event{SourceID: src.ID, MessageID: "new", Type: "track", Name: "X", UserID: "u", Timestamp: now, ReceivedAt: now, Body: []byte(`{}`)})
		if n := insert(more); n != 1 {
			t.Fatalf("retry stored %d, want 1", n)
		}
		got, err := db.ReadEvents(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 451 {
			t.Fatalf("read %d events, want 451", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq {
				t.Fatalf("seq not increasing at %d", i)
			}
		}
		if !got[5].Timestamp.Equal(now.Add(5 * time.Second)) {
			t.Fatalf("timestamp round trip: %v", got[5].Timestamp)
		}
		page, err := db.ReadEvents(ctx, got[99].Seq, 10)
		if err != nil || len(page) != 10 || page[0].Seq != got[100].Seq {
			t.Fatalf("paging after seq: %d events, err %v", len(page), err)
		}
	})
}

func TestLeases(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ok, err := db.AcquireLease(ctx, "processor", "a", time.Minute)
		if err != nil || !ok {
			t.Fatalf("a acquires: %v %v", ok, err)
		}
		ok, err = db.AcquireLease(ctx, "processor", "b", time.Minute)
		if err != nil || ok {
			t.Fatalf("b must not take a live lease: %v %v", ok, err)
		}
		if ok, err = db.AcquireLease(ctx, "processor", "a", time.Minute); err != nil || !ok {
			t.Fatalf("a renews: %v %v", ok, err)
		}
		if err := db.ReleaseLease(ctx, "processor", "a"); err != nil {
			t.Fatal(err)
		}
		if ok, err = db.AcquireLease(ctx, "processor", "b", time.Minute); err != nil || !ok {
			t.Fatalf("b after release: %v %v", ok, err)
		}
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		db, err := store.Open(context.Background(), store.Config{DataDir: dir})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		db.Close()
	}
}

package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func jsonlEvents(n int, bad bool) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"type":"track","event":"A","userId":"u%d","messageId":"c-%d","timestamp":"2024-03-01T10:00:00Z"}`+"\n", i, i)
	}
	if bad {
		b.WriteString(`{"type":"track","userId":"u"}` + "\n") // no event name
	}
	return b.String()
}

func countEvents(t *testing.T, db *store.DB) int64 {
	t.Helper()
	n, err := db.MaxEventSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestChunkedImportAllOrNothing: a file many chunks long with one bad row at its end
// writes nothing; the same file without it is written in many transactions.
func TestChunkedImportAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		opt := Options{Kind: KindEvents, chunkEvents: 10, chunkPause: time.Millisecond}
		rep, err := Import(ctx, db, strings.NewReader(jsonlEvents(200, true)), "e.jsonl", opt)
		if !errors.Is(err, ErrBadRows) || rep.Imported != 0 || rep.Rejected != 1 {
			t.Fatalf("bad last row: %v %+v", err, rep)
		}
		if n := countEvents(t, db); n != 0 {
			t.Fatalf("a file with a bad row left %d events", n)
		}
		rep, err = Import(ctx, db, strings.NewReader(jsonlEvents(200, false)), "e.jsonl", opt)
		if err != nil || rep.Imported != 200 {
			t.Fatalf("good file: %v %+v", err, rep)
		}
		if n := countEvents(t, db); n != 200 {
			t.Fatalf("stored %d events", n)
		}
	})
}

// TestInterruptedImportResumes: an import stopped between chunks says how far it got,
// and running it again finishes it (the events already there count as duplicates).
func TestInterruptedImportResumes(t *testing.T) {
	db := storetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if n, _ := db.MaxEventSeq(context.Background()); n >= 300 {
				cancel()
				return
			}
		}
	}()
	opt := Options{Kind: KindEvents, chunkEvents: 100, chunkPause: 20 * time.Millisecond}
	file := jsonlEvents(3000, false)
	rep, err := Import(ctx, db, strings.NewReader(file), "e.jsonl", opt)
	if err == nil || !strings.Contains(err.Error(), "import the same file again") || rep.Imported == 0 || rep.Imported >= 3000 {
		t.Fatalf("interrupted import: %v %+v", err, rep)
	}
	first := rep.Imported
	rep, err = Import(context.Background(), db, strings.NewReader(file), "e.jsonl", opt)
	if err != nil || rep.Imported != 3000-first || rep.Duplicates != first {
		t.Fatalf("second run: %v %+v (first run stored %d)", err, rep, first)
	}
	if n := countEvents(t, db); n != 3000 {
		t.Fatalf("stored %d events", n)
	}
}

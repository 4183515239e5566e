package experiment_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// BenchmarkAssignHandler is the CPU cost of one GET /v1/experiments with five running
// experiments, in process (no network). `omniroi bench experiments` measures latency
// over TCP at a fixed rate.
func BenchmarkAssignHandler(b *testing.B) {
	db := storetest.SQLite(b)
	ctx := context.Background()
	_, key, err := db.CreateSource(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for i := range 5 {
		e := experiment.Experiment{Name: fmt.Sprintf("bench-%d", i), Variants: []experiment.Variant{{Key: "control", Weight: 1}, {Key: "b", Weight: 1}},
			Metric: experiment.Metric{Kind: "revenue"}}
		if _, err := experiment.Create(ctx, db, audit.ActorCLI, e); err != nil {
			b.Fatal(err)
		}
		if _, err := experiment.Start(ctx, db, audit.ActorCLI, e.Name, time.Now().Add(-time.Minute), 0); err != nil {
			b.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	experiment.NewServer(db, experiment.ServeOptions{}).Register(mux)
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v1/experiments?writeKey=%s&anonymousId=visitor-%d", key, i), nil)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, reqs[0])
	if w.Code != 200 {
		b.Fatalf("%d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

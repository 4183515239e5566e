package goqitebench

import (
	"context"
	"flag"
	"testing"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// -goqite.runs shrinks the journey benchmark: goqite's runner on PostgreSQL is too slow
// for 20,000 runs in a session.
var benchRuns = flag.Int("goqite.runs", 20000, "runs per BenchmarkGoqiteJourney iteration")

var dbs = []struct {
	name string
	open func(testing.TB) *store.DB
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

// BenchmarkGoqiteJourney: go test -run XXX -bench GoqiteJourney -benchtime 1x ./internal/journey/internal/goqitebench/
// (postgres too when OMNIROI_TEST_PG is set). Compare with BenchmarkJourneyRuns in
// internal/journey, run at the same moment.
func BenchmarkGoqiteJourney(b *testing.B) {
	// Batched at two sizes: goqite claims one message per statement, and each claim
	// walks past the batch's earlier, still-undeleted claims, so big batches cost more
	// per message.
	cases := []struct {
		name           string
		mode           Mode
		batch, workers int
	}{{"batched-2000", Batched, 2000, 0}, {"batched-200", Batched, 200, 0}, {"permessage", PerMessage, 0, 16}, {"permessage-1", PerMessage, 0, 1}}
	for _, d := range dbs {
		for _, c := range cases {
			b.Run(d.name+"/"+c.name, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					db := d.open(b)
					b.StartTimer()
					res, err := Journey(context.Background(), db, Options{Runs: *benchRuns, Mode: c.mode, Batch: c.batch, Workers: c.workers})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.RunsPerMinute, "runs/min")
					b.ReportMetric(res.Entry.Seconds(), "entry-s")
					b.ReportMetric(res.Timers.Seconds(), "timers-s")
					b.ReportMetric(res.Dispatch.Seconds(), "dispatch-s")
					b.ReportMetric(float64(res.QueueErrors), "queue-errors")
				}
			})
		}
	}
}

// BenchmarkGoqiteRaw: go test -run XXX -bench GoqiteRaw -benchtime 1x ./internal/journey/internal/goqitebench/
// goqite's own ceiling: send, receive, delete with no work in between.
func BenchmarkGoqiteRaw(b *testing.B) {
	cases := []struct {
		name           string
		mode           Mode
		batch, workers int
	}{{"batched-2000", Batched, 2000, 0}, {"batched-200", Batched, 200, 0}, {"permessage", PerMessage, 0, 16}, {"permessage-1", PerMessage, 0, 1}}
	for _, d := range dbs {
		for _, c := range cases {
			b.Run(d.name+"/"+c.name, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					db := d.open(b)
					b.StartTimer()
					res, err := Raw(context.Background(), db, RawOptions{Messages: 20000, Mode: c.mode, Batch: c.batch, Workers: c.workers})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(res.MsgsPerSecond, "msgs/s")
					b.ReportMetric(float64(res.Messages)/res.Send.Seconds(), "sends/s")
					b.ReportMetric(float64(res.Messages)/res.ReceiveDelete.Seconds(), "recv+del/s")
					b.ReportMetric(float64(res.Retries), "retries")
				}
			})
		}
	}
}

func TestJourneySmall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, mode := range []Mode{Batched, PerMessage} {
			// Fresh database per mode: Journey creates goqite's table and seeds customers.
			if mode == PerMessage {
				if db.Dialect == store.Postgres {
					db = storetest.Postgres(t)
				} else {
					db = storetest.SQLite(t)
				}
			}
			// goqite claims SERIALIZABLE without SKIP LOCKED: concurrent consumers on
			// PostgreSQL collide (SQLSTATE 40001), which the benchmark measures and this
			// correctness test must not trip on.
			workers := 4
			if mode == PerMessage && db.Dialect == store.Postgres {
				workers = 1
			}
			res, err := Journey(context.Background(), db, Options{Runs: 150, Batch: 40, Workers: workers, Mode: mode})
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if res.Sends != 150 || res.RunsPerMinute <= 0 || res.Entry <= 0 || res.Dispatch <= 0 {
				t.Fatalf("%s: %+v", mode, res)
			}
			if mode == Batched && res.Timers <= 0 {
				t.Fatalf("batched timers not measured: %+v", res)
			}
		}
	})
}

func TestRawSmall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, mode := range []Mode{Batched, PerMessage} {
			if mode == PerMessage {
				if db.Dialect == store.Postgres {
					db = storetest.Postgres(t)
				} else {
					db = storetest.SQLite(t)
				}
			}
			workers := 4 // see TestJourneySmall
			if mode == PerMessage && db.Dialect == store.Postgres {
				workers = 1
			}
			res, err := Raw(context.Background(), db, RawOptions{Messages: 300, Batch: 64, Workers: workers, Mode: mode})
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if res.Messages != 300 || res.MsgsPerSecond <= 0 {
				t.Fatalf("%s: %+v", mode, res)
			}
		}
	})
}

func TestJourneyRejectsUnknownMode(t *testing.T) {
	if _, err := Journey(context.Background(), storetest.SQLite(t), Options{Runs: 10, Mode: "bogus"}); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// The end-of-run check is what makes the figures trustworthy: a message left behind or
// a missing event must fail the benchmark.
func TestVerifyCatchesLostWork(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	if _, err := Journey(ctx, db, Options{Runs: 20, Batch: 8}); err != nil {
		t.Fatal(err)
	}
	src, err := db.EnsureSource(ctx, "journeys")
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(ctx, db, src.ID, 20, 20); err != nil {
		t.Fatalf("clean run fails verification: %v", err)
	}
	if err := verify(ctx, db, src.ID, 20, 19); err == nil {
		t.Fatal("a missing send passed verification")
	}
	if _, err := db.Exec(ctx, `INSERT INTO goqite (queue, body) VALUES ('sends', x'00')`); err != nil {
		t.Fatal(err)
	}
	if err := verify(ctx, db, src.ID, 20, 20); err == nil {
		t.Fatal("a message left in the queue passed verification")
	}
}

package importer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

// benchRows is the file size of the import benchmarks; OMNIROI_BENCH_ROWS=1000000 for the
// 1M-row figure in docs/benchmarks.md.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("OMNIROI_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200000
}

func writeBenchFile(b *testing.B, name string, rows int, line func(w *bufio.Writer, i int)) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < rows; i++ {
		line(w, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

func benchImport(b *testing.B, path string, opt Options, rows int, open func(testing.TB) *store.DB) {
	b.Helper()
	var elapsed time.Duration
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := open(b)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		rep, err := ImportFile(context.Background(), db, path, opt)
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		if err != nil || rep.Rejected != 0 {
			b.Fatalf("import: %v %+v", err, rep.Errors)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
	// On a shared machine wall time mostly measures the neighbours; CPU time is steadier.
	b.ReportMetric(float64(rows*b.N)/cpu.Seconds(), "rows/cpu-s")
}

// cpuTime is the CPU time (user+system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkImportEventsJSONL: Segment track calls, one per line, into a fresh SQLite log.
func BenchmarkImportEventsJSONL(b *testing.B) {
	n := benchRows()
	p := writeBenchFile(b, "events.jsonl", n, eventLine)
	benchImport(b, p, Options{Kind: KindEvents}, n, func(t testing.TB) *store.DB { return storetest.SQLite(t) })
}

// BenchmarkImportOrdersCSV: one order per row (two with refunds in ten), into SQLite.
func BenchmarkImportOrdersCSV(b *testing.B) {
	n := benchRows()
	p := writeBenchFile(b, "orders.csv", n, func(w *bufio.Writer, i int) {
		if i == 0 {
			w.WriteString("order_id,customer_id,email,timestamp,total,currency,location,utm_source,utm_medium,utm_campaign,items,status\n")
		}
		status := "completed"
		if i%10 == 0 {
			status = "refunded"
		}
		fmt.Fprintf(w, "O-%d,c%d,c%d@example.com,2024-03-%02dT10:%02d:00Z,%d.%02d,EUR,web,google,cpc,spring,%d,%s\n",
			i, i%40000, i%40000, 1+i%28, i%60, 5+i%200, i%100, 1+i%4, status)
	})
	benchImport(b, p, Options{Kind: KindOrders}, n, func(t testing.TB) *store.DB { return storetest.SQLite(t) })
}

// BenchmarkImportEventsJSONLPostgres: the same file into PostgreSQL (OMNIROI_TEST_PG).
func BenchmarkImportEventsJSONLPostgres(b *testing.B) {
	n := benchRows()
	p := writeBenchFile(b, "events.jsonl", n, eventLine)
	benchImport(b, p, Options{Kind: KindEvents}, n, func(t testing.TB) *store.DB { return storetest.Postgres(t) })
}

// eventLine writes the i-th benchmark event: a track call with a unique messageId.
func eventLine(w *bufio.Writer, i int) {
	fmt.Fprintf(w, `{"type":"track","event":"Product Viewed","userId":"u%d","messageId":"m-%d","timestamp":"2024-03-%02dT10:%02d:%02dZ","properties":{"product_id":"p%d","price":12.5}}`+"\n",
		i%50000, i, 1+i%28, i%60, i%60, i%300)
}

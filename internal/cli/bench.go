package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/server"
)

// benchCommands are the subcommands of `omniroi bench`; each lives in a file of its
// own (bench_<name>.go) and registers with RegisterBench from its init function.
var benchCommands = map[string]*Command{}

// RegisterBench adds a `omniroi bench NAME` subcommand.
func RegisterBench(c *Command) {
	if _, dup := benchCommands[c.Name]; dup {
		panic("cli: duplicate bench " + c.Name)
	}
	benchCommands[c.Name] = c
}

func init() {
	c := &Command{
		Name:    "bench",
		Summary: "measure omniroi on this machine (bench ingest, ...)",
		Usage:   "omniroi bench NAME [flags]   (omniroi bench NAME --help for its flags)",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
			names := make([]string, 0, len(benchCommands))
			for n := range benchCommands {
				names = append(names, n)
			}
			sort.Strings(names)
			if len(args) > 0 {
				fmt.Fprintln(env.Stderr, usageText(c))
			}
			fmt.Fprintln(env.Stderr, "benchmarks:")
			for _, n := range names {
				fmt.Fprintf(env.Stderr, "  %-12s %s\n", n, benchCommands[n].Summary)
			}
			if len(args) == 0 {
				fmt.Fprintln(env.Stderr)
				return ErrUsage // Run prints the usage line after the list
			}
			return nil
		}
		b, ok := benchCommands[args[0]]
		if !ok {
			return fmt.Errorf("unknown benchmark %q: %w", args[0], ErrUsage)
		}
		return b.Run(ctx, env, args[1:])
	}
	Register(c)

	ingest := &Command{
		Name:    "ingest",
		Summary: "HTTP collection throughput and latency: concurrent clients posting /v1/batch over loopback",
		Usage:   "omniroi bench ingest [--clients 8] [--batch 100] [--duration 10s | --events N] [--rate EVENTS/S] [--data DIR | --db DSN] [--json]",
	}
	ingest.Run = func(ctx context.Context, env *Env, args []string) error { return benchIngest(ctx, env, ingest, args) }
	RegisterBench(ingest)
}

// IngestResult is what `omniroi bench ingest --json` prints.
type IngestResult struct {
	Store           string           `json:"store"`
	Clients         int              `json:"clients"`
	Batch           int              `json:"batch"`
	TargetRate      float64          `json:"target_rate,omitempty"`
	Seconds         float64          `json:"seconds"`
	Requests        int64            `json:"requests"`
	Events          int64            `json:"events_acknowledged"`
	EventsPerSec    float64          `json:"events_per_sec"`
	Stored          int64            `json:"events_stored"`
	Commits         int64            `json:"commits"`
	EventsPerCommt  float64          `json:"events_per_commit"`
	P50ms           float64          `json:"p50_ms"`
	P90ms           float64          `json:"p90_ms"`
	P99ms           float64          `json:"p99_ms"`
	Maxms           float64          `json:"max_ms"`
	SlowestCommitMS float64          `json:"slowest_commit_ms"`
	SlowestTailMS   float64          `json:"slowest_tail_checkpoint_ms"`
	LoadAvg         float64          `json:"load_avg_1m,omitempty"` // the machine's, at the end: others' work skews wall-clock figures
	CPUSeconds      float64          `json:"cpu_seconds"`
	CPUPerEventUS   float64          `json:"cpu_us_per_event"`
	Errors          map[string]int64 `json:"errors,omitempty"`
}

func benchIngest(ctx context.Context, env *Env, c *Command, args []string) error {
	fs, sf := storeFlagSet(c, env)
	clients := fs.Int("clients", 8, "concurrent HTTP clients")
	batch := fs.Int("batch", 100, "events per /v1/batch request")
	duration := fs.Duration("duration", 10*time.Second, "how long to send (ignored with --events)")
	maxEvents := fs.Int64("events", 0, "stop after this many events instead of --duration")
	rate := fs.Float64("rate", 0, "target events/s over all clients (0 = as fast as possible)")
	gz := fs.Bool("gzip", false, "gzip request bodies")
	checkpoint := fs.Duration("checkpoint-interval", 0, "SQLite background checkpoint interval (0: the default; negative: checkpoint inside commits)")
	pageSize := fs.Int("sqlite-page-size", 0, "create the temporary SQLite database with this page size (an experiment; store uses SQLite's default)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (server and clients) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clients < 1 || *batch < 1 || *batch > 2500 {
		return fmt.Errorf("--clients must be ≥ 1 and --batch 1..2500: %w", ErrUsage)
	}
	cleanup, err := benchTempData(fs, sf, *pageSize)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := sf.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	src, key, err := db.CreateSource(ctx, fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	s, err := server.New(db, server.Options{Logger: discardLogger(), Collect: collect.Options{CheckpointInterval: *checkpoint}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	served := make(chan error, 1)
	go func() { served <- s.Serve(sctx, ln) }()

	ld := newIngestLoad("http://"+ln.Addr().String()+"/v1/batch", key, *clients, *batch, *maxEvents, *gz)
	ld.deadline = ld.start.Add(*duration)
	if *rate > 0 {
		ld.interval = time.Duration(float64(time.Second) * float64(*batch) * float64(*clients) / *rate)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	cpu0 := processCPU()
	ld.run(ctx)
	elapsed := time.Since(ld.start)
	cpu := processCPU() - cpu0
	stopServer()
	if err := <-served; err != nil {
		return err
	}
	var stored int64
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM events WHERE source_id = ?`, src.ID).Scan(&stored); err != nil {
		return fmt.Errorf("count stored events: %w", err)
	}
	res := ld.result(string(db.Dialect), *rate, elapsed, cpu, stored, s.Collect.Stats())
	if stored < ld.acked.Load() {
		return fmt.Errorf("only %d of %d acknowledged events are stored", stored, ld.acked.Load())
	}
	if sf.JSON {
		return PrintJSON(env.Stdout, res)
	}
	printIngestResult(env, res)
	if res.Events == 0 {
		return errors.New("no request succeeded")
	}
	return nil
}

// benchTempData points the store flags at a temporary data directory (removed by the
// returned cleanup) unless --data, OMNIROI_DATA or --db names a store; with pageSize the
// SQLite database is created with that page size.
func benchTempData(fs *flag.FlagSet, sf *StoreFlags, pageSize int) (func(), error) {
	dataSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			dataSet = true
		}
	})
	if _, ok := os.LookupEnv("OMNIROI_DATA"); ok {
		dataSet = true
	}
	if dataSet || sf.DB != "" {
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "omniroi-bench-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	sf.Data = dir
	if pageSize > 0 {
		if err := createSQLiteWithPageSize(filepath.Join(dir, "omniroi.db"), pageSize); err != nil {
			cleanup()
			return nil, err
		}
	}
	return cleanup, nil
}

// ingestLoad is the load bench ingest sends: clients posting batches of events to the
// collector, until a deadline or a number of events, optionally at a fixed rate.
type ingestLoad struct {
	url, key          string
	clients, batch    int
	maxEvents         int64
	gzip              bool
	start, deadline   time.Time
	interval          time.Duration // between one client's requests at a fixed rate; 0: as fast as possible
	hc                *http.Client
	runID             string
	sent, acked, reqs atomic.Int64 // events claimed by clients; events acknowledged; requests
	errMu             sync.Mutex
	errs              map[string]int64 // failed requests by status, or "transport"
	lat               [][]time.Duration
}

func newIngestLoad(url, key string, clients, batch int, maxEvents int64, gz bool) *ingestLoad {
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, DisableCompression: true}
	return &ingestLoad{url: url, key: key, clients: clients, batch: batch, maxEvents: maxEvents, gzip: gz,
		hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}, runID: strconv.FormatInt(time.Now().UnixNano(), 36),
		errs: map[string]int64{}, lat: make([][]time.Duration, clients), start: time.Now()}
}

// run sends from every client until the load is done.
func (ld *ingestLoad) run(ctx context.Context) {
	var wg sync.WaitGroup
	for ci := range ld.clients {
		wg.Go(func() { ld.client(ctx, ci) })
	}
	wg.Wait()
}

// client sends batches until the deadline or the event budget is reached. At a fixed
// rate, latency counts from the scheduled send: a late sender counts its wait.
func (ld *ingestLoad) client(ctx context.Context, ci int) {
	var buf, zbuf bytes.Buffer
	next := ld.start.Add(time.Duration(ci) * ld.interval / time.Duration(ld.clients))
	for seq := 0; ; seq++ {
		if ctx.Err() != nil {
			return
		}
		if ld.maxEvents > 0 {
			if ld.sent.Add(int64(ld.batch)) > ld.maxEvents {
				return
			}
		} else if time.Now().After(ld.deadline) {
			return
		}
		t0 := time.Now()
		if ld.interval > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			t0 = next
			next = next.Add(ld.interval)
		}
		buildBatch(&buf, ld.runID, ci, seq, ld.batch)
		if failure := ld.post(buf.Bytes(), &zbuf); failure != "" {
			ld.errMu.Lock()
			ld.errs[failure]++
			ld.errMu.Unlock()
			continue
		}
		ld.lat[ci] = append(ld.lat[ci], time.Since(t0))
		ld.acked.Add(int64(ld.batch))
	}
}

// post sends one batch body (gzipped into zbuf when asked) and says what failed: ""
// for a 200, "transport", or the status code.
func (ld *ingestLoad) post(body []byte, zbuf *bytes.Buffer) string {
	req, _ := http.NewRequest(http.MethodPost, ld.url, nil)
	if ld.gzip {
		zbuf.Reset()
		zw := gzipWriter(zbuf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = zbuf.Bytes()
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(ld.key, "")
	res, err := ld.hc.Do(req)
	ld.reqs.Add(1)
	if err != nil {
		return "transport"
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return strconv.Itoa(res.StatusCode)
	}
	return ""
}

// result sums up the run: throughput, latency percentiles, group commits and CPU.
func (ld *ingestLoad) result(store string, rate float64, elapsed, cpu time.Duration, stored int64, st collect.Stats) IngestResult {
	all := slices.Concat(ld.lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	acked := ld.acked.Load()
	res := IngestResult{
		Store: store, Clients: ld.clients, Batch: ld.batch, TargetRate: rate, Seconds: elapsed.Seconds(),
		Requests: ld.reqs.Load(), Events: acked, EventsPerSec: float64(acked) / elapsed.Seconds(),
		Stored: stored, Commits: st.Commits, P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99), Errors: ld.errs,
	}
	res.CPUSeconds = cpu.Seconds()
	res.LoadAvg = loadAvg()
	res.SlowestCommitMS = float64(st.SlowestCommit.Microseconds()) / 1000
	res.SlowestTailMS = float64(st.SlowestTail.Microseconds()) / 1000
	if acked > 0 {
		res.CPUPerEventUS = float64(cpu.Microseconds()) / float64(acked)
	}
	if len(all) > 0 {
		res.Maxms = float64(all[len(all)-1].Microseconds()) / 1000
	}
	if st.Commits > 0 {
		res.EventsPerCommt = float64(st.EventsAccepted) / float64(st.Commits)
	}
	return res
}

// printIngestResult prints bench ingest's result for people.
func printIngestResult(env *Env, res IngestResult) {
	fmt.Fprintf(env.Stdout, "store %s, %d clients × %d events/request, %.1f s\n", res.Store, res.Clients, res.Batch, res.Seconds)
	if res.TargetRate > 0 {
		fmt.Fprintf(env.Stdout, "target rate      %.0f events/s\n", res.TargetRate)
	}
	fmt.Fprintf(env.Stdout, "throughput       %.0f events/s (%d events acknowledged, %d stored, %d requests)\n", res.EventsPerSec, res.Events, res.Stored, res.Requests)
	fmt.Fprintf(env.Stdout, "request latency  p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.P50ms, res.P90ms, res.P99ms, res.Maxms)
	fmt.Fprintf(env.Stdout, "group commit     %d commits, %.0f events per commit, slowest %.1f ms (WAL tail checkpoint: slowest %.1f ms)\n", res.Commits, res.EventsPerCommt, res.SlowestCommitMS, res.SlowestTailMS)
	fmt.Fprintf(env.Stdout, "cpu              %.1f s (server and clients), %.1f µs per event\n", res.CPUSeconds, res.CPUPerEventUS)
	if res.LoadAvg > 0 {
		fmt.Fprintf(env.Stdout, "machine load     %.1f (1-minute average; above the core count, wall-clock figures understate)\n", res.LoadAvg)
	}
	if len(res.Errors) > 0 {
		var parts []string
		for k, v := range res.Errors {
			parts = append(parts, fmt.Sprintf("%s: %d", k, v))
		}
		sort.Strings(parts)
		fmt.Fprintf(env.Stdout, "errors           %s\n", strings.Join(parts, ", "))
	}
}

// buildBatch writes a /v1/batch body of n realistic track events with unique messageIds.
func buildBatch(buf *bytes.Buffer, runID string, client, seq, n int) {
	buf.Reset()
	now := time.Now().UTC()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	b := buf.AvailableBuffer()
	b = append(b, `{"sentAt":"`...)
	b = append(b, ts...)
	b = append(b, `","context":{"library":{"name":"omniroi-bench","version":"1"}},"batch":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		id := (seq*n + i)
		b = append(b, `{"type":"track","event":"Product Viewed","userId":"user-`...)
		b = strconv.AppendInt(b, int64(id%5000), 10)
		b = append(b, `","anonymousId":"anon-`...)
		b = append(b, runID...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(client), 10)
		b = append(b, `","messageId":"`...)
		b = append(b, runID...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(client), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, `","timestamp":"`...)
		b = append(b, ts...)
		b = append(b, `","properties":{"product_id":"sku-`...)
		b = strconv.AppendInt(b, int64(id%300), 10)
		b = append(b, `","price":19.99,"currency":"EUR","category":"bread"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","page":{"path":"/p/sourdough","url":"https://bakery.example/p/sourdough","referrer":"https://www.google.com/"},"campaign":{"source":"google","medium":"cpc","name":"spring"}}}`...)
	}
	b = append(b, "]}"...)
	buf.Write(b)
}

func gzipWriter(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// processCPU is this process's user+system CPU time; on a shared machine it says more
// than wall time about what ingest costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// createSQLiteWithPageSize creates an empty database file with the given page size,
// which SQLite fixes when the file is first written.
func createSQLiteWithPageSize(path string, size int) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA page_size=%d; CREATE TABLE page_size_probe(a); DROP TABLE page_size_probe", size)); err != nil {
		return fmt.Errorf("create database with page size %d: %w", size, err)
	}
	return nil
}

// loadAvg reads the 1-minute load average (Linux); 0 when unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

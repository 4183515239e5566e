package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
)

func init() {
	lg := &Command{
		Name:    "loadgen",
		Summary: "a load generator: concurrent clients posting /v1/batch to a running collector (for ingest-compare)",
		Usage: `omniroi bench loadgen --url http://HOST:PORT --key KEY [--clients 16] [--batch 100] [--duration 20s] [--json]

Posts batches of realistic track events with unique messageIds as fast as the collector
answers, from a process of its own, and prints what was acknowledged.`,
	}
	lg.Run = func(ctx context.Context, env *Env, args []string) error { return benchLoadgen(ctx, env, lg, args) }
	RegisterBench(lg)

	cmp := &Command{
		Name:    "ingest-compare",
		Summary: "sustained ingest through everything serve runs, side by side with the reference collector, under an external load generator",
		Usage: `omniroi bench ingest-compare [--clients 16] [--batch 100] [--duration 20s] [--rounds 2]
       [--journeys] [--cpuprofile-dir DIR] [--json]

Each round runs, one after the other on fresh temporary data directories:
  omniroi    omniroi serve (collection, the event processor, the journey engine, the
             segment feed, the dashboard and API), loaded by omniroi bench loadgen in a
             separate process for --duration; then it waits until the processor has
             processed every acknowledged event (processor_lag 0, as omniroi stats
             reports it) and until the journey engine has read them
  reference  omniroi bench ingest-ref (encoding/json, one SQLite transaction per group of
             requests, WAL, synchronous=FULL) under the same load generator

and reports events per second taken and processed (acknowledged events over the time
until processed; for the reference, over the time until stored), the ratio, the CPU
of each server, the highest processor_lag seen and the machine's load average.
--journeys applies the four built-in journeys first, so the engine has plans to match.`,
	}
	cmp.Run = func(ctx context.Context, env *Env, args []string) error {
		return benchIngestCompare(ctx, env, cmp, args)
	}
	RegisterBench(cmp)
}

// LoadgenResult is what `omniroi bench loadgen --json` prints.
type LoadgenResult struct {
	Clients      int              `json:"clients"`
	Batch        int              `json:"batch"`
	Seconds      float64          `json:"seconds"`
	Requests     int64            `json:"requests"`
	Events       int64            `json:"events_acknowledged"`
	EventsPerSec float64          `json:"events_per_sec"`
	P50ms        float64          `json:"p50_ms"`
	P99ms        float64          `json:"p99_ms"`
	CPUSeconds   float64          `json:"cpu_seconds"`
	Errors       map[string]int64 `json:"errors,omitempty"`
}

func benchLoadgen(ctx context.Context, env *Env, c *Command, args []string) error {
	fs := FlagSet(c, env)
	base := StringFlag(fs, "url", "", "collector base URL, e.g. http://127.0.0.1:8080")
	key := StringFlag(fs, "key", "", "write key")
	clients := fs.Int("clients", 16, "concurrent clients")
	batch := fs.Int("batch", 100, "events per request")
	duration := fs.Duration("duration", 20*time.Second, "how long to send")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *base == "" || *key == "" || *clients < 1 || *batch < 1 {
		return ErrUsage
	}
	url := strings.TrimSuffix(*base, "/") + "/v1/batch"
	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	var acked, reqs atomic.Int64
	var errMu sync.Mutex
	errs := map[string]int64{}
	lat := make([][]time.Duration, *clients)
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	for ci := range *clients {
		wg.Go(func() {
			var buf bytes.Buffer
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				buildBatch(&buf, runID, ci, seq, *batch)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf.Bytes()))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth(*key, "")
				t0 := time.Now()
				res, err := hc.Do(req)
				reqs.Add(1)
				status := "transport"
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					status = strconv.Itoa(res.StatusCode)
				}
				if err != nil || res.StatusCode != http.StatusOK {
					errMu.Lock()
					errs[status]++
					errMu.Unlock()
					continue
				}
				lat[ci] = append(lat[ci], time.Since(t0))
				acked.Add(int64(*batch))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return msOf(all[min(len(all)-1, int(p*float64(len(all))))])
	}
	res := LoadgenResult{Clients: *clients, Batch: *batch, Seconds: elapsed.Seconds(), Requests: reqs.Load(), Events: acked.Load(),
		EventsPerSec: float64(acked.Load()) / elapsed.Seconds(), P50ms: pct(0.5), P99ms: pct(0.99),
		CPUSeconds: (processCPU() - cpu0).Seconds(), Errors: errs}
	if *asJSON {
		return PrintJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "%d clients × %d events: %.0f events/s acknowledged (%d events, %.1f s), p50 %.1f ms, p99 %.1f ms, load generator CPU %.1f s\n",
		res.Clients, res.Batch, res.EventsPerSec, res.Events, res.Seconds, res.P50ms, res.P99ms, res.CPUSeconds)
	if len(errs) > 0 {
		fmt.Fprintf(env.Stdout, "errors: %v\n", errs)
	}
	return nil
}

// CompareRun is one collector's run under the load generator.
type CompareRun struct {
	Collector     string  `json:"collector"` // omniroi or reference
	Acknowledged  int64   `json:"events_acknowledged"`
	Stored        int64   `json:"events_stored"`
	SendSeconds   float64 `json:"send_seconds"`
	DoneSeconds   float64 `json:"processed_seconds"` // load start to everything processed
	EventsPerSec  float64 `json:"events_per_sec"`    // acknowledged / processed_seconds
	AckPerSec     float64 `json:"acknowledged_per_sec"`
	ServerCPU     float64 `json:"server_cpu_seconds"` // from the load's start until processed
	CPUPerEventUS float64 `json:"server_cpu_us_per_event"`
	LoadgenCPU    float64 `json:"loadgen_cpu_seconds"`
	MaxLag        int64   `json:"max_processor_lag,omitempty"`
	FinalLag      int64   `json:"final_processor_lag"`
	P99ms         float64 `json:"p99_ms"`
	LoadAvg       float64 `json:"load_avg_1m"`
}

// CompareResult is what `omniroi bench ingest-compare --json` prints.
type CompareResult struct {
	Machine  string       `json:"machine"`
	Cores    int          `json:"cores"`
	Clients  int          `json:"clients"`
	Batch    int          `json:"batch"`
	Journeys bool         `json:"journeys"`
	Runs     []CompareRun `json:"runs"`
	Ratios   []float64    `json:"ratios"` // omniroi / reference, per round
}

func benchIngestCompare(ctx context.Context, env *Env, c *Command, args []string) error {
	fs := FlagSet(c, env)
	clients := fs.Int("clients", 16, "load generator clients")
	batch := fs.Int("batch", 100, "events per request")
	duration := fs.Duration("duration", 20*time.Second, "how long the load generator sends")
	rounds := fs.Int("rounds", 2, "rounds of omniroi then reference")
	withJourneys := fs.Bool("journeys", false, "apply the four built-in journeys before loading omniroi")
	profDir := StringFlag(fs, "cpuprofile-dir", "", "write omniroi serve's CPU profile of each round here")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *rounds < 1 {
		return ErrUsage
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	res := CompareResult{Machine: machineName(), Cores: runtime.NumCPU(), Clients: *clients, Batch: *batch, Journeys: *withJourneys}
	lg := loadgenSpec{exe: exe, clients: *clients, batch: *batch, duration: *duration}
	for round := range *rounds {
		prof := ""
		if *profDir != "" {
			prof = filepath.Join(*profDir, fmt.Sprintf("serve-%d.pprof", round+1))
		}
		o, err := compareOmniroi(ctx, env, lg, *withJourneys, prof)
		if err != nil {
			return fmt.Errorf("omniroi run: %w", err)
		}
		r, err := compareReference(ctx, lg)
		if err != nil {
			return fmt.Errorf("reference run: %w", err)
		}
		res.Runs = append(res.Runs, o, r)
		ratio := 0.0
		if r.EventsPerSec > 0 {
			ratio = o.EventsPerSec / r.EventsPerSec
		}
		res.Ratios = append(res.Ratios, ratio)
		if !*asJSON {
			fmt.Fprintf(env.Stderr, "round %d: omniroi %.0f, reference %.0f events/s (%.2f×)\n", round+1, o.EventsPerSec, r.EventsPerSec, ratio)
		}
	}
	if *asJSON {
		return PrintJSON(env.Stdout, res)
	}
	w := env.Stdout
	fmt.Fprintf(w, "machine %s, %d cores; load generator: %d clients × %d events, its own process\n", res.Machine, res.Cores, res.Clients, res.Batch)
	if res.Journeys {
		fmt.Fprintln(w, "omniroi runs with the four built-in journeys applied")
	}
	fmt.Fprintf(w, "%-10s %10s %10s %8s %8s %10s %9s %10s %8s %6s\n", "collector", "acked", "events/s", "ack/s", "done s", "server CPU", "µs/event", "max lag", "p99 ms", "load")
	for _, r := range res.Runs {
		fmt.Fprintf(w, "%-10s %10d %10.0f %8.0f %8.1f %10.1f %9.1f %10d %8.0f %6.1f\n", r.Collector, r.Acknowledged, r.EventsPerSec, r.AckPerSec,
			r.DoneSeconds, r.ServerCPU, r.CPUPerEventUS, r.MaxLag, r.P99ms, r.LoadAvg)
	}
	var parts []string
	for _, x := range res.Ratios {
		parts = append(parts, fmt.Sprintf("%.2f×", x))
	}
	fmt.Fprintf(w, "omniroi / reference, events taken and processed per second: %s\n", strings.Join(parts, ", "))
	return nil
}

type loadgenSpec struct {
	exe            string
	clients, batch int
	duration       time.Duration
}

// run starts the load generator against base and returns its result.
func (l loadgenSpec) run(ctx context.Context, base, key string) (LoadgenResult, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, l.exe, "bench", "loadgen", "--url", base, "--key", key, "--clients", strconv.Itoa(l.clients),
		"--batch", strconv.Itoa(l.batch), "--duration", l.duration.String(), "--json")
	cmd.Stdout, cmd.Stderr = &out, &errb
	var res LoadgenResult
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("loadgen: %w: %s", err, errb.String())
	}
	err := json.Unmarshal(out.Bytes(), &res)
	return res, err
}

// child is a server process started by the comparison.
type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(ctx context.Context, exe string, args []string, extraEnv []string) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, append(args, "--addr", addr)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := &child{cmd: cmd, base: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return ch, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			ch.stop()
			return nil, fmt.Errorf("%s did not start listening: %s", strings.Join(args[:2], " "), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpu is the process's user+system CPU time so far (Linux /proc; 0 elsewhere).
func (c *child) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / clockTicks)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on Linux.
const clockTicks = 100

// stop interrupts the process, waits for it and returns its CPU time.
func (c *child) stop() time.Duration {
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

func compareOmniroi(ctx context.Context, env *Env, lg loadgenSpec, withJourneys bool, profile string) (CompareRun, error) {
	run := CompareRun{Collector: "omniroi"}
	dir, err := os.MkdirTemp("", "omniroi-compare-")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		return run, err
	}
	_, key, err := db.CreateSourceKind(ctx, "loadgen", store.KindServer)
	if err == nil && withJourneys {
		err = applyBuiltinJourneys(ctx, db)
	}
	db.Close()
	if err != nil {
		return run, err
	}
	args := []string{"serve", "--data", dir}
	if profile != "" {
		args = append(args, "--cpuprofile", profile)
	}
	ch, err := startChild(ctx, lg.exe, args, nil)
	if err != nil {
		return run, err
	}
	defer ch.stop()
	// Lag is read the way omniroi stats reads it (newest seq less the processor's
	// cursor), through a read-only connection of this process.
	rdb, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		return run, err
	}
	defer rdb.Close()
	start, cpu0 := time.Now(), ch.cpu()
	var maxLag atomic.Int64
	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		for sctx.Err() == nil {
			if lag, _, err := processorLag(sctx, rdb); err == nil && lag > maxLag.Load() {
				maxLag.Store(lag)
			}
			select {
			case <-sctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	lr, err := lg.run(ctx, ch.base, key)
	stopSampling()
	<-sampled
	if err != nil {
		return run, err
	}
	run.SendSeconds, run.Acknowledged, run.LoadgenCPU, run.P99ms = lr.Seconds, lr.Events, lr.CPUSeconds, lr.P99ms
	// Processed: the processor's cursor and the journey engine's have passed every event.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		lag, jlag, err := processorLag(ctx, rdb)
		if err != nil {
			return run, err
		}
		maxLag.Store(max(maxLag.Load(), lag))
		if lag == 0 && jlag == 0 {
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("processor lag still %d (journey engine %d) after 10 minutes", lag, jlag)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run.DoneSeconds = time.Since(start).Seconds()
	run.LoadAvg = loadAvg()
	run.ServerCPU = (ch.cpu() - cpu0).Seconds()
	ch.stop()
	st, err := statsJSON(ctx, lg.exe, dir)
	if err != nil {
		return run, err
	}
	run.FinalLag, run.Stored, run.MaxLag = st.Lag, st.Events, maxLag.Load()
	return finishRun(run)
}

func finishRun(run CompareRun) (CompareRun, error) {
	if run.Stored < run.Acknowledged {
		return run, fmt.Errorf("%s: only %d of %d acknowledged events stored", run.Collector, run.Stored, run.Acknowledged)
	}
	if run.DoneSeconds > 0 {
		run.EventsPerSec = float64(run.Acknowledged) / run.DoneSeconds
	}
	if run.SendSeconds > 0 {
		run.AckPerSec = float64(run.Acknowledged) / run.SendSeconds
	}
	if run.Acknowledged > 0 {
		run.CPUPerEventUS = run.ServerCPU * 1e6 / float64(run.Acknowledged)
	}
	return run, nil
}

// processorLag is omniroi stats' processor_lag, and the journey engine's distance behind
// the processor.
func processorLag(ctx context.Context, db *store.DB) (lag, journeyLag int64, err error) {
	var maxSeq int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&maxSeq); err != nil {
		return 0, 0, err
	}
	cur := map[string]int64{}
	rows, err := db.Query(ctx, `SELECT key, value FROM settings WHERE key IN (?, ?)`, identity.CursorSetting, journey.CursorSetting)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return 0, 0, err
		}
		cur[k], _ = strconv.ParseInt(v, 10, 64)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	p := cur[identity.CursorSetting]
	return max(maxSeq-p, 0), max(p-cur[journey.CursorSetting], 0), nil
}

// statsJSON runs `omniroi stats --json` on the data directory.
func statsJSON(ctx context.Context, exe, dir string) (identity.StatsResult, error) {
	var st identity.StatsResult
	out, err := exec.CommandContext(ctx, exe, "stats", "--json", "--data", dir).Output()
	if err != nil {
		return st, fmt.Errorf("omniroi stats: %w", err)
	}
	return st, json.Unmarshal(out, &st)
}

func compareReference(ctx context.Context, lg loadgenSpec) (CompareRun, error) {
	run := CompareRun{Collector: "reference"}
	dir, err := os.MkdirTemp("", "omniroi-compare-ref-")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	key := "ref-key"
	ch, err := startChild(ctx, lg.exe, []string{"bench", "ingest-ref", "--key", key, "--data", dir}, nil)
	if err != nil {
		return run, err
	}
	defer ch.stop()
	start, cpu0 := time.Now(), ch.cpu()
	lr, err := lg.run(ctx, ch.base, key)
	if err != nil {
		return run, err
	}
	// Acknowledged means committed: stored is processed.
	run.DoneSeconds = time.Since(start).Seconds()
	run.SendSeconds, run.Acknowledged, run.LoadgenCPU, run.P99ms = lr.Seconds, lr.Events, lr.CPUSeconds, lr.P99ms
	run.LoadAvg = loadAvg()
	run.ServerCPU = (ch.cpu() - cpu0).Seconds()
	ch.stop()
	if run.Stored, err = refStored(dir); err != nil {
		return run, err
	}
	return finishRun(run)
}

// applyBuiltinJourneys applies every built-in journey (the ones the demo runs).
func applyBuiltinJourneys(ctx context.Context, db *store.DB) error {
	for _, t := range journey.Templates() {
		if _, err := journey.Apply(audit.WithActor(ctx, audit.ActorCLI), db, t.Source); err != nil {
			return fmt.Errorf("apply %s: %w", t.Name, err)
		}
	}
	return nil
}

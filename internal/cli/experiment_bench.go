package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/server"
)

// ExperimentsBenchResult is what `omniroi bench experiments --json` prints.
type ExperimentsBenchResult struct {
	Target      string           `json:"target"` // "in-process" or the URL
	Experiments int              `json:"experiments"`
	Rate        float64          `json:"target_rate"`
	Seconds     float64          `json:"seconds"`
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	Achieved    float64          `json:"achieved_rate"`
	P50ms       float64          `json:"p50_ms"`
	P90ms       float64          `json:"p90_ms"`
	P99ms       float64          `json:"p99_ms"`
	P999ms      float64          `json:"p999_ms"`
	Maxms       float64          `json:"max_ms"`
	CPUSeconds  float64          `json:"cpu_seconds"` // this process (server and generator when in-process)
	CPUs        int              `json:"cpus"`
	LoadAvg     float64          `json:"load_avg_1m"`
	Errors      map[string]int64 `json:"errors,omitempty"`
}

func init() {
	b := &Command{
		Name:    "experiments",
		Summary: "website assignment endpoint: open-loop GET /v1/experiments at a fixed rate, latency percentiles",
		Usage:   "omniroi bench experiments [--rate 1000] [--duration 20s] [--experiments 5] [--visitors 100000] [--url URL --write-key KEY] [--json]",
	}
	b.Run = func(ctx context.Context, env *Env, args []string) error { return benchExperiments(ctx, env, b, args) }
	RegisterBench(b)
}

// benchExperiments sends requests on a fixed schedule (open loop: a request is due at its
// time whether or not earlier ones have returned) and measures each from when it was
// due, so a stalled server shows in the percentiles instead of slowing the generator.
// Without --url it serves a fresh SQLite store with running experiments in this process.
func benchExperiments(ctx context.Context, env *Env, c *Command, args []string) error {
	fs, sf := storeFlagSet(c, env)
	rate := fs.Float64("rate", 1000, "requests per second")
	duration := fs.Duration("duration", 20*time.Second, "how long to send")
	nexp := fs.Int("experiments", 5, "running visitor experiments to create (in-process only)")
	visitors := fs.Int("visitors", 100_000, "distinct anonymousIds cycled through")
	target := fs.String("url", "", "an omniroi server to measure instead of an in-process one (e.g. http://127.0.0.1:8080)")
	key := fs.String("write-key", "", "with --url: a write key of that server")
	conns := fs.Int("connections", 64, "at most this many requests in flight (keep-alive connections)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *rate <= 0 || *duration <= 0 || *visitors < 1 || *conns < 1 {
		return fmt.Errorf("--rate, --duration, --visitors and --connections must be positive: %w", ErrUsage)
	}
	res := ExperimentsBenchResult{Target: "in-process", Rate: *rate, CPUs: runtime.GOMAXPROCS(0)}
	base := *target
	if base == "" {
		dir, err := os.MkdirTemp("", "omniroi-bench-exp-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sf.Data, sf.DB = dir, ""
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		_, k, err := db.CreateSource(ctx, "bench")
		if err != nil {
			return err
		}
		*key = k
		for i := range *nexp {
			e := experiment.Experiment{Name: fmt.Sprintf("bench-%d", i), Unit: experiment.UnitAnonymous,
				Variants: []experiment.Variant{{Key: "control", Weight: 1}, {Key: "b", Name: "Variant B", Weight: 1}}, Metric: experiment.Metric{Kind: "revenue"}}
			if _, err := experiment.Create(ctx, db, audit.ActorCLI, e); err != nil {
				return err
			}
			if _, err := experiment.Start(ctx, db, audit.ActorCLI, e.Name, time.Now().Add(-time.Minute), 0); err != nil {
				return err
			}
		}
		s, err := server.New(db, server.Options{Logger: discardLogger()})
		if err != nil {
			return err
		}
		experiment.NewServer(db, experiment.ServeOptions{Logger: discardLogger()}).Register(s.Mux)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		sctx, stop := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(sctx, ln) }()
		defer func() { stop(); <-served }()
		base = "http://" + ln.Addr().String()
	} else {
		res.Target = base
		if *key == "" {
			return fmt.Errorf("--url needs --write-key: %w", ErrUsage)
		}
	}
	u := base + "/v1/experiments?writeKey=" + url.QueryEscape(*key) + "&anonymousId="
	tr := &http.Transport{MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	// Warm up: the first request loads the experiments and the key.
	if r, err := hc.Get(u + "warmup"); err != nil {
		return fmt.Errorf("warm-up request: %w", err)
	} else {
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("warm-up request: %s: %s", r.Status, body)
		}
	}

	type sample struct {
		lat  time.Duration
		code string
	}
	jobs := make(chan time.Time, *conns)
	var mu sync.Mutex
	var lat []time.Duration
	errs := map[string]int64{}
	var wg sync.WaitGroup
	var n int64
	cpu0 := processCPU()
	for range *conns {
		wg.Go(func() {
			var buf [16]byte
			for due := range jobs {
				mu.Lock()
				n++
				id := n % int64(*visitors)
				mu.Unlock()
				r, err := hc.Get(u + "v" + string(strconv.AppendInt(buf[:0], id, 10)))
				s := sample{lat: time.Since(due)}
				if err != nil {
					s.code = "transport"
				} else {
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					if r.StatusCode != http.StatusOK {
						s.code = strconv.Itoa(r.StatusCode)
					}
				}
				mu.Lock()
				if s.code == "" {
					lat = append(lat, s.lat)
				} else {
					errs[s.code]++
				}
				mu.Unlock()
			}
		})
	}
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	end := start.Add(*duration)
	var sent int64
	late := int64(0)
	for due := start; due.Before(end); due = due.Add(interval) {
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- due:
		default:
			// Every connection is busy: the request waits for one, and its latency counts
			// from when it was due.
			late++
			jobs <- due
		}
		sent++
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	res.CPUSeconds = (processCPU() - cpu0).Seconds()
	if r, err := hc.Get(u + "count"); err == nil { // how many experiments the server assigns
		var a struct{ Experiments []json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&a)
		r.Body.Close()
		res.Experiments = len(a.Experiments)
	}
	res.Seconds = elapsed.Seconds()
	res.Requests = sent
	res.OK = int64(len(lat))
	res.Achieved = float64(len(lat)) / elapsed.Seconds()
	res.LoadAvg = loadAvg()
	if len(errs) > 0 {
		res.Errors = errs
	}
	if late > 0 {
		if res.Errors == nil {
			res.Errors = map[string]int64{}
		}
		res.Errors["queued_for_a_connection"] = late
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	res.P50ms, res.P90ms, res.P99ms, res.P999ms = pct(0.50), pct(0.90), pct(0.99), pct(0.999)
	if len(lat) > 0 {
		res.Maxms = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	if sf.JSON {
		return PrintJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "target           %s, %d running experiments, %d CPUs\n", res.Target, res.Experiments, res.CPUs)
	fmt.Fprintf(env.Stdout, "schedule         %.0f requests/s for %.1f s (open loop): %d sent, %d ok (%.0f/s)\n", res.Rate, res.Seconds, res.Requests, res.OK, res.Achieved)
	fmt.Fprintf(env.Stdout, "latency          p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n", res.P50ms, res.P90ms, res.P99ms, res.P999ms, res.Maxms)
	fmt.Fprintf(env.Stdout, "cpu              %.1f s in this process\n", res.CPUSeconds)
	fmt.Fprintf(env.Stdout, "machine load     %.2f (1-minute average)\n", res.LoadAvg)
	for k, v := range res.Errors {
		fmt.Fprintf(env.Stdout, "errors           %s: %d\n", k, v)
	}
	if res.OK == 0 {
		return errors.New("no request succeeded")
	}
	return nil
}

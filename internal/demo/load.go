package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/server"
	"github.com/omniroi/omniroi/internal/store"
)

// File names written into the data directory.
const (
	GroundTruthFile = "ground_truth.json"
	SpendFile       = "demo-spend.csv"      // email and SMS, in the spend importer's own columns
	GoogleAdsFile   = "demo-google-ads.csv" // a Google Ads campaign report
	MetaAdsFile     = "demo-meta-ads.csv"   // a Meta Ads Manager daily export
)

// Files lists every file Load writes into the directory.
var Files = []string{GroundTruthFile, SpendFile, GoogleAdsFile, MetaAdsFile}

// LoadOptions configure Load.
type LoadOptions struct {
	Config
	Dir     string // where ground_truth.json and the spend CSV go (the data directory)
	Senders int    // concurrent HTTP senders; default 4
	// Overlap runs the event processor while events arrive (as a server does) instead of
	// only catching up afterwards.
	Overlap bool
	Log     *slog.Logger
}

// Phase is one timed step of a load.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the process's user+system CPU time in the phase: on a shared machine
	// the steadier figure.
	CPUSeconds float64 `json:"cpu_seconds"`
	Note       string  `json:"note,omitempty"`
}

// processCPU is the user+system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadReport is what Load did.
type LoadReport struct {
	Summary         *Summary             `json:"summary"`
	WriteKeys       map[string]string    `json:"write_keys"` // source → key; shown once
	EventsAccepted  int64                `json:"events_accepted"`
	Batches         int64                `json:"batches"`
	Retries         int64                `json:"retries"`
	Spend           []importer.Report    `json:"spend_imports"`
	SpendRows       int                  `json:"spend_rows"`
	SpendMinor      int64                `json:"spend_minor"`
	SpendPaths      []string             `json:"spend_files"`
	GroundTruthPath string               `json:"ground_truth"`
	GroundTruth     *GroundTruth         `json:"-"`
	Stats           identity.StatsResult `json:"stats"`
	Phases          []Phase              `json:"phases"`
}

// ErrNotEmpty is returned when the store already holds data.
var ErrNotEmpty = errors.New("the store is not empty")

// CheckEmpty fails with ErrNotEmpty when db has sources or events.
func CheckEmpty(ctx context.Context, db *store.DB) error {
	var events, sources int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&events); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sources`).Scan(&sources); err != nil {
		return fmt.Errorf("count sources: %w", err)
	}
	if events > 0 || sources > 0 {
		return fmt.Errorf("%w: it holds %d events from %d sources", ErrNotEmpty, events, sources)
	}
	return nil
}

// Load builds the demo world into db the way real data arrives: it creates one source per
// sending system, serves the collection API on a loopback port and posts every event to
// /v1/batch, imports the spend CSV through the spend importer, runs the event processor
// to catch up, and writes ground_truth.json. db must be empty (see CheckEmpty).
func Load(ctx context.Context, db *store.DB, opt LoadOptions) (*LoadReport, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opt.Dir == "" {
		return nil, errors.New("demo: no directory for ground_truth.json and the spend CSV")
	}
	if err := store.EnsurePrivateDir(opt.Dir); err != nil {
		return nil, fmt.Errorf("demo: create %s: %w", opt.Dir, err)
	}
	if err := CheckEmpty(ctx, db); err != nil {
		return nil, err
	}
	rep := &LoadReport{WriteKeys: map[string]string{}}
	cpu0 := processCPU()
	phase := func(name string, start time.Time, note string) {
		cpu := processCPU()
		rep.Phases = append(rep.Phases, Phase{Name: name, Seconds: time.Since(start).Seconds(), CPUSeconds: (cpu - cpu0).Seconds(), Note: note})
		cpu0 = cpu
	}

	for _, name := range Sources {
		_, key, err := db.CreateSourceKind(ctx, name, SourceKinds[name])
		if err != nil {
			return nil, err
		}
		rep.WriteKeys[name] = key
	}
	// The business's currency and time zone: the generator writes euros at a fixed UTC+1
	// (calendar.go), which is "Etc/GMT-1" in the tz database (its sign is inverted).
	if err := db.Write(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, "currency", "EUR"); err != nil {
			return err
		}
		return store.SetSetting(ctx, tx, "timezone", "Etc/GMT-1")
	}); err != nil {
		return nil, fmt.Errorf("demo: settings: %w", err)
	}

	// 1. Generate and send through the real collection API on a loopback listener.
	t0 := time.Now()
	proc := identity.NewProcessor(db, identity.Options{Logger: opt.Log, OwnHosts: []string{"crumbandco.example"}})
	var onCommit func()
	procDone := make(chan error, 1)
	pctx, stopProc := context.WithCancel(ctx)
	defer stopProc()
	if opt.Overlap {
		onCommit = proc.Notify
		go func() { procDone <- proc.Run(pctx) }()
	} else {
		procDone <- nil
	}
	srv, err := server.New(db, server.Options{Logger: opt.Log, OnCommit: onCommit})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen on loopback: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	snd := &Sender{
		BaseURL:     "http://" + ln.Addr().String(),
		Keys:        rep.WriteKeys,
		Concurrency: opt.Senders,
		Client:      &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	var sum *Summary
	sendErr := snd.Send(ctx, func(fn func([]Event) error) error {
		var err error
		sum, err = Generate(ctx, opt.Config, fn)
		return err
	})
	stop()
	serveErr := <-served
	stopProc()
	if err := <-procDone; err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("demo: event processor: %w", err)
	}
	if sendErr != nil {
		return nil, fmt.Errorf("demo: send events: %w", sendErr)
	}
	if serveErr != nil {
		return nil, fmt.Errorf("demo: collection API: %w", serveErr)
	}
	rep.Summary = sum
	rep.EventsAccepted, rep.Batches, rep.Retries = snd.Accepted.Load(), snd.Batches.Load(), snd.Retries.Load()
	if rep.EventsAccepted != sum.Events {
		return nil, fmt.Errorf("demo: generated %d events but the API accepted %d", sum.Events, rep.EventsAccepted)
	}
	phase("generate+send", t0, fmt.Sprintf("%d events in %d batches over HTTP; the generator's %d workers were busy %.1f s in all, the rest is the API and SQLite",
		sum.Events, rep.Batches, sum.Workers, sum.BusySeconds))

	// 2. Spend through the spend importer.
	t0 = time.Now()
	rows := sum.Spend()
	for _, r := range rows {
		rep.SpendMinor += r.AmountMinor
	}
	rep.SpendRows = len(rows)
	// Ad spend arrives as the platforms' own exports (through the importer's presets);
	// email and SMS fees in the generic spend columns.
	var owned []SpendRow
	for _, r := range rows {
		if r.Platform != "google_ads" && r.Platform != "meta_ads" {
			owned = append(owned, r)
		}
	}
	last := sum.End.AddDate(0, 0, -1).Format("January 2, 2006")
	files := []struct {
		name, preset string
		write        func(*os.File) error
	}{
		{GoogleAdsFile, "google-ads", func(f *os.File) error {
			return WriteGoogleAdsCSV(f, rows, sum.Start.Format("January 2, 2006"), last)
		}},
		{MetaAdsFile, "meta-ads", func(f *os.File) error { return WriteMetaAdsCSV(f, rows) }},
		{SpendFile, "", func(f *os.File) error { return WriteSpendCSV(f, owned) }},
	}
	for _, file := range files {
		path := filepath.Join(opt.Dir, file.name)
		if err := writeFile(path, file.write); err != nil {
			return nil, err
		}
		r, err := importer.ImportFile(ctx, db, path, importer.Options{Kind: importer.KindSpend, Format: "csv", Preset: file.preset, Currency: "EUR"})
		if err != nil {
			return nil, fmt.Errorf("demo: import spend from %s: %w", file.name, err)
		}
		rep.Spend = append(rep.Spend, r)
		rep.SpendPaths = append(rep.SpendPaths, path)
	}
	phase("spend import", t0, fmt.Sprintf("%d rows from Google Ads, Meta and generic CSVs", len(rows)))

	// 3. Derive customers, orders and activity.
	t0 = time.Now()
	// Nothing else runs in the process now: trading ~50 MB of heap for fewer collections
	// cut the processor's CPU by ~6% (BenchmarkCatchUpFile, GOGC 200 vs 100; docs/benchmarks.md).
	gc := debug.SetGCPercent(200)
	err = proc.CatchUp(ctx)
	debug.SetGCPercent(gc)
	if err != nil {
		return nil, fmt.Errorf("demo: process events: %w", err)
	}
	phase("process", t0, "")

	// The demo's web test and switchback, as stored experiments (experiments.go).
	if err := StoreExperiments(ctx, db, sum.End); err != nil {
		return nil, err
	}

	// 4. Ground truth.
	t0 = time.Now()
	gt, err := Truth(ctx, opt.Config, rows)
	if err != nil {
		return nil, err
	}
	if gt.Baseline.Conversions != sum.Orders || gt.Baseline.RevenueMinor != sum.Revenue {
		return nil, fmt.Errorf("demo: ground truth baseline (%d orders, %d) differs from the generated world (%d, %d)",
			gt.Baseline.Conversions, gt.Baseline.RevenueMinor, sum.Orders, sum.Revenue)
	}
	rep.GroundTruth = gt
	rep.GroundTruthPath = filepath.Join(opt.Dir, GroundTruthFile)
	b, err := gt.MarshalIndent()
	if err != nil {
		return nil, err
	}
	if err := writeFile(rep.GroundTruthPath, func(f *os.File) error { _, err := f.Write(append(b, '\n')); return err }); err != nil {
		return nil, err
	}
	phase("ground truth", t0, "counterfactual re-simulation")

	if rep.Stats, err = identity.Stats(ctx, db); err != nil {
		return nil, err
	}
	return rep, nil
}

// writeFile writes path atomically (temp file + rename).
func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".demo-*")
	if err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	err = fill(f)
	if err == nil {
		err = f.Chmod(store.FileMode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

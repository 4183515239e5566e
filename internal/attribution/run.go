package attribution

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// StoreOptions configure AttributeStore and RunStoreAttribute.
type StoreOptions struct {
	Journeys    JourneyOptions
	Model       string // "all" (default) or a model name
	Config      Config
	Format      string // table (default), csv or json
	GroundTruth string // ground_truth.json to compare with; "" none
}

// StoreResult is the attribution of the store's journeys.
type StoreResult struct {
	Journeys Summary  `json:"journeys"`
	Results  []Result `json:"results"`
	Skipped  []string `json:"skipped,omitempty"` // models that cannot run on this input, with why
}

// SelectModels returns the named model, or every model for "all" (or "").
func SelectModels(name string, cfg Config) ([]Model, error) {
	if name == "" || name == "all" {
		out := make([]Model, 0, len(ModelNames))
		for _, n := range ModelNames {
			m, err := New(n, cfg)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	m, err := New(name, cfg)
	if err != nil {
		return nil, err
	}
	return []Model{m}, nil
}

// AttributeStore builds the journeys from the store and runs the chosen models on them.
func AttributeStore(ctx context.Context, db *store.DB, opt StoreOptions) (StoreResult, error) {
	models, err := SelectModels(opt.Model, opt.Config)
	if err != nil {
		return StoreResult{}, fmt.Errorf("attribute: %w", err)
	}
	set, sum, err := BuildJourneys(ctx, db, opt.Journeys)
	if err != nil {
		return StoreResult{}, fmt.Errorf("attribute: %w", err)
	}
	out := StoreResult{Journeys: sum, Results: []Result{}}
	if set.Len() == 0 {
		out.Skipped = append(out.Skipped, "no journeys in range: nothing to attribute")
		return out, nil
	}
	if len(models) > 1 {
		kept := models[:0]
		for _, m := range models {
			if m.Name() == "shapley_cr" && len(set.Channels) > maxSetChannels {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s skipped: %d channels, at most %d supported", m.Name(), len(set.Channels), maxSetChannels))
				continue
			}
			kept = append(kept, m)
		}
		models = kept
	}
	if out.Results, err = AttributeAll(set, models); err != nil {
		return out, fmt.Errorf("attribute: %w", err)
	}
	return out, nil
}

// DefaultGroundTruth returns dataDir/ground_truth.json when it exists, else "".
func DefaultGroundTruth(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	p := filepath.Join(dataDir, "ground_truth.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// RunStoreAttribute is `omniroi attribute` on the store: results as a table, CSV (one row
// per model and channel) or JSON, then the ground-truth comparison when a file is given.
func RunStoreAttribute(ctx context.Context, db *store.DB, opt StoreOptions, stdout io.Writer) error {
	format := opt.Format
	if format == "" {
		format = "table"
	}
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("attribute: unknown format %q (table, csv or json)", format)
	}
	res, err := AttributeStore(ctx, db, opt)
	if err != nil {
		return err
	}
	var gt *GroundTruthReport
	if opt.GroundTruth != "" {
		r, err := CompareGroundTruth(res.Results, opt.GroundTruth)
		if err != nil {
			return fmt.Errorf("attribute: %w", err)
		}
		gt = &r
	}
	switch format {
	case "csv":
		return WriteCSV(stdout, res.Results)
	case "json":
		return writeJSONAny(stdout, struct {
			Journeys    Summary            `json:"journeys"`
			Results     []jsonResult       `json:"results"`
			Skipped     []string           `json:"skipped,omitempty"`
			GroundTruth *GroundTruthReport `json:"ground_truth,omitempty"`
		}{res.Journeys, withConventions(res.Results), res.Skipped, gt})
	}
	s := res.Journeys
	fmt.Fprintf(stdout, "journeys: %d conversions (%d with a made-up in-store/phone touch, %d without any touch), %d non-converting, %d touches, %d customers; lookback %s, session timeout %s; built in %s\n\n",
		s.Conversions, s.SynthesizedTouches, s.Unattributed, s.NullJourneys, s.Touches, s.Customers, fmtDur(s.Lookback), fmtDur(s.SessionTimeout), s.Elapsed.Round(1e6))
	if err := WriteTable(stdout, res.Results); err != nil {
		return err
	}
	for _, n := range append(s.Notes, res.Skipped...) {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if gt != nil {
		fmt.Fprintln(stdout)
		return gt.WriteTable(stdout)
	}
	return nil
}

func withConventions(rs []Result) []jsonResult {
	out := make([]jsonResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, jsonResult{Convention: conventions[r.Model], Result: r})
	}
	return out
}

func fmtDur(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s, _ = strings.CutSuffix(s, "m0s")
	if strings.HasSuffix(d.String(), "m0s") {
		s += "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

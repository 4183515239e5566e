package attribution

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes one block per model: channel, conversions, revenue and share of
// conversions, then the model's notes.
func WriteTable(w io.Writer, results []Result) error {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "model: %s\n", r.Model)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "channel\tconversions\trevenue\tshare\t\n")
		for _, c := range r.ByChannel {
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.1f%%\t\n", c.Key, c.Conversions, c.Value, 100*share(c.Conversions, r.TotalConversions))
		}
		fmt.Fprintf(tw, "total\t%.2f\t%.2f\t\t\n", r.TotalConversions, r.TotalValue)
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		for _, n := range r.Notes {
			if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
		}
	}
	return nil
}

func share(x, tot float64) float64 {
	if tot == 0 {
		return 0
	}
	return x / tot
}

// WriteCSV writes one row per model and channel: model,channel,conversions,revenue,share.
func WriteCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"model", "channel", "conversions", "revenue", "share"}); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, r := range results {
		for _, c := range r.ByChannel {
			if err := cw.Write([]string{r.Model, c.Key, f(c.Conversions), f(c.Value), f(share(c.Conversions, r.TotalConversions))}); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// jsonResult adds the convention to a Result for JSON output.
type jsonResult struct {
	Convention string `json:"convention"`
	Result
}

// WriteJSON writes {"results":[...]} with each model's convention.
func WriteJSON(w io.Writer, results []Result) error {
	out := struct {
		Results []jsonResult `json:"results"`
	}{Results: []jsonResult{}}
	for _, r := range results {
		out.Results = append(out.Results, jsonResult{Convention: conventions[r.Model], Result: r})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Options configures RunAttribute (`omniroi attribute`).
type Options struct {
	PathsFile     string        // ChannelAttribution-style path file; "-" is stdin
	Model         string        // "all" (default) or a model name
	Order         int           // markov order, default 1
	Format        string        // table (default), csv or json
	HalfLife      time.Duration // time_decay, default 7 days
	CustomWeights []float64     // custom, default 0.4,0.2,0.4
	IgnoreNulls   bool          // markov: leave out non-converting journeys
	Stdin         io.Reader     // used when PathsFile is "-"; os.Stdin when nil
}

// RunAttribute reads a path file, runs one model or all, and writes the results. With
// "all", models that cannot run on the input (time_decay on a path file) are skipped with
// a note in table output.
func RunAttribute(ctx context.Context, opt Options, stdout io.Writer) error {
	if opt.PathsFile == "" {
		return errors.New("attribute: a path file is required")
	}
	format := opt.Format
	if format == "" {
		format = "table"
	}
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("attribute: unknown format %q (table, csv or json)", format)
	}
	name := opt.Model
	if name == "" {
		name = "all"
	}
	cfg := Config{HalfLife: opt.HalfLife, CustomWeights: opt.CustomWeights, Order: opt.Order, IgnoreNulls: opt.IgnoreNulls}
	var models []Model
	if name == "all" {
		for _, n := range ModelNames {
			m, err := New(n, cfg)
			if err != nil {
				return fmt.Errorf("attribute: %w", err)
			}
			models = append(models, m)
		}
	} else {
		m, err := New(name, cfg)
		if err != nil {
			return fmt.Errorf("attribute: %w", err)
		}
		models = []Model{m}
	}
	var r io.Reader
	if opt.PathsFile == "-" {
		r = opt.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(opt.PathsFile)
		if err != nil {
			return fmt.Errorf("attribute: %w", err)
		}
		defer f.Close()
		r = f
	}
	js, err := ReadPaths(r)
	if err != nil {
		return fmt.Errorf("attribute: %s: %w", opt.PathsFile, err)
	}
	set, err := Compile(js)
	if err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	var skipped []string
	if len(models) > 1 {
		kept := models[:0]
		for _, m := range models {
			switch {
			case m.Name() == "time_decay" && set.Age == nil:
				skipped = append(skipped, fmt.Sprintf("%s skipped: %v", m.Name(), ErrNeedsTimes))
			case m.Name() == "shapley_cr" && len(set.Channels) > maxSetChannels:
				skipped = append(skipped, fmt.Sprintf("%s skipped: %d channels, at most %d supported", m.Name(), len(set.Channels), maxSetChannels))
			default:
				kept = append(kept, m)
			}
		}
		models = kept
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	results, err := AttributeAll(set, models)
	if err != nil {
		return fmt.Errorf("attribute: %w", err)
	}
	switch format {
	case "csv":
		return WriteCSV(stdout, results)
	case "json":
		return WriteJSON(stdout, results)
	}
	if err := WriteTable(stdout, results); err != nil {
		return err
	}
	if len(skipped) > 0 {
		_, err := fmt.Fprintf(stdout, "\n%s\n", strings.Join(skipped, "\n"))
		return err
	}
	return nil
}

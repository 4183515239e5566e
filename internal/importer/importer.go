// Package importer loads CSV and JSONL files into omniroi: events, orders and customers
// become events in the log (through event.Normalize, the API's own path), spend rows are
// upserted into the spend table. Presets read Shopify, Google Ads, Meta Ads and the UCI
// Online Retail layouts. docs/import.md documents every column.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Kinds of import.
const (
	KindEvents    = "events"
	KindOrders    = "orders"
	KindSpend     = "spend"
	KindCustomers = "customers"
)

// Options says what a file holds and how to treat bad rows.
type Options struct {
	Kind         string    // events | orders | spend | customers
	Format       string    // csv | jsonl | "" (by file extension)
	Preset       string    // shopify | google-ads | meta-ads | online-retail | ""
	Source       string    // event source name; default "import"
	Currency     string    // currency when the file has none
	SkipBad      bool      // import the good rows, reject the bad ones (default: all-or-nothing)
	RejectedPath string    // where --skip-bad writes rejected rows; ImportFile defaults it beside the input
	Progress     io.Writer // progress bar target; nil = none
	// MaxFuture is how far past the import's time an event may be dated; 0 reads the
	// limits.max_future setting.
	MaxFuture time.Duration

	chunkEvents int           // events per transaction (tests); 0: defaultChunkEvents
	chunkPause  time.Duration // pause between chunks (tests); 0: the dialect's default
}

// Report is what an import did.
type Report struct {
	Kind         string     `json:"kind"`
	Preset       string     `json:"preset,omitempty"`
	Rows         int        `json:"rows"`                 // data rows read (title lines and footers excluded)
	Imported     int        `json:"imported"`             // events newly stored, or spend rows inserted/changed
	Duplicates   int        `json:"duplicates"`           // events already stored, or spend rows already identical
	Skipped      int        `json:"skipped"`              // rows deliberately not imported (e.g. voided orders)
	Rejected     int        `json:"rejected"`             // bad rows
	Suppressed   int        `json:"suppressed,omitempty"` // rows naming an erased person: dropped (docs/privacy.md)
	Anonymised   int        `json:"anonymised,omitempty"` // events without analytics consent, stored without identifiers
	RejectedPath string     `json:"rejected_path,omitempty"`
	Errors       []RowError `json:"errors,omitempty"` // the first bad rows, in file order
}

// RowError is one bad row.
type RowError struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, column %q: %s", e.Line, e.Column, e.Reason)
}

// maxErrors bounds Report.Errors; Report.Rejected counts them all.
const maxErrors = 100

// ErrBadRows is returned (wrapped) when an all-or-nothing import met bad rows and wrote nothing.
var ErrBadRows = errors.New("bad rows")

// ImportFile imports the file at path. With SkipBad and no RejectedPath, rejected rows go
// beside it: orders.csv → orders.rejected.csv.
func ImportFile(ctx context.Context, db *store.DB, path string, opt Options) (Report, error) {
	if opt.Kind == KindProducts {
		return importProductsFile(ctx, db, path, opt)
	}
	f, err := os.Open(path)
	if err != nil {
		return Report{Kind: opt.Kind}, fmt.Errorf("open input: %w", err)
	}
	defer f.Close()
	if opt.Format == "" {
		if opt.Format, err = formatOf(path); err != nil {
			return Report{Kind: opt.Kind}, err
		}
	}
	if opt.SkipBad && opt.RejectedPath == "" {
		opt.RejectedPath = defaultRejectedPath(path, opt.Format)
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return run(ctx, db, f, filepath.Base(path), size, opt)
}

func defaultRejectedPath(path, format string) string {
	base := strings.TrimSuffix(path, ".gz")
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if format == "jsonl" {
		return base + ".rejected.jsonl"
	}
	return base + ".rejected.csv"
}

// Import imports from r; name is used in messages, for the format when opt.Format is
// empty, and as the origin of rejected_events rows. Rejected rows are written to a file
// only when opt.RejectedPath is set.
func Import(ctx context.Context, db *store.DB, r io.Reader, name string, opt Options) (Report, error) {
	if opt.Kind == KindProducts {
		return importProducts(ctx, db, r, name, opt)
	}
	if opt.Format == "" {
		var err error
		if opt.Format, err = formatOf(name); err != nil {
			return Report{Kind: opt.Kind}, err
		}
	}
	return run(ctx, db, r, filepath.Base(name), 0, opt)
}

// batch is what the reading goroutine hands the writing one.
type batch struct {
	events     []event.Event
	rejections []store.Rejection
}

const batchEvents = 2000

func run(ctx context.Context, db *store.DB, in io.Reader, name string, size int64, opt Options) (Report, error) {
	rep := Report{Kind: opt.Kind, Preset: opt.Preset}
	if opt.Source == "" {
		opt.Source = "import"
	}
	if opt.Format != "csv" && opt.Format != "jsonl" {
		return rep, fmt.Errorf("format %q: want csv or jsonl", opt.Format)
	}
	if opt.Currency != "" {
		c, err := normCurrency(opt.Currency)
		if err != nil {
			return rep, fmt.Errorf("--currency: %w", err)
		}
		opt.Currency = c
	}
	if opt.MaxFuture <= 0 {
		d, err := workspace.MaxFuture(ctx, db)
		if err != nil {
			return rep, err
		}
		opt.MaxFuture = d
	}
	conv, err := newConverter(opt)
	if err != nil {
		return rep, err
	}
	counter := &countingReader{r: in}
	br, err := decode(counter)
	if err != nil {
		return rep, err
	}
	var src source
	if opt.Format == "csv" {
		if src, err = newCSVSource(br, conv.isHeader); err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		src = &jsonlSource{br: br, parse: conv.wantsObjects()}
	}
	var rej *rejectWriter
	if opt.SkipBad && opt.RejectedPath != "" {
		rej = newRejectWriter(opt.RejectedPath, opt.Format)
	}

	srcRow, err := db.EnsureSource(ctx, opt.Source)
	if err != nil {
		return rep, fmt.Errorf("import source: %w", err)
	}
	if !srcRow.Trusted() {
		// Imported contact points and consent count as verified only on a server source;
		// a client source's key is public, so its events never do.
		return rep, fmt.Errorf("source %q is a %s source (its write key is public), so imported contact details and consent would count as unverified: import into a server source (the default --source import, or any new name)", opt.Source, srcRow.Kind)
	}
	now := time.Now().UTC()
	conv.setup(srcRow.ID, now)
	prog := newProgress(opt.Progress, size, counter)

	// One goroutine reads, converts and validates; this one writes, so parsing and the
	// inserts overlap on two cores.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- produce(ctx, src, conv, &rep, opt, rej, batches, name, srcRow.ID, now, prog)
	}()

	var werr error
	var cw *chunkWriter
	var gated gateCounts
	if sc, ok := conv.(*spendConverter); ok {
		werr = writeSpend(ctx, db, sc, batches, readErr, &rep, opt, name, &gated)
	} else {
		cw = newChunkWriter(db, opt)
		werr = writeEvents(ctx, db, cw, batches, readErr, &rep, opt, prog)
		rep.Imported, rep.Duplicates = cw.stored, cw.total-cw.stored
		gated = cw.gated
	}
	if werr != nil {
		cancel()
		for range batches { // let the reader finish before touching what it writes
		}
	}
	prog.done()
	if werr == nil {
		rep.Suppressed, rep.Anonymised = gated.suppressed, gated.anonymised
	}
	var closeErr error
	if rej != nil {
		closeErr = rej.close()
		if rej.n > 0 {
			rep.RejectedPath = opt.RejectedPath
		}
	}
	if werr != nil {
		if errors.Is(werr, ErrBadRows) {
			rep.Imported, rep.Duplicates = 0, 0
			return rep, fmt.Errorf("%w in %s: %d, nothing imported (--skip-bad imports the good ones); first: %v",
				ErrBadRows, name, rep.Rejected, rep.Errors[0])
		}
		if cerr := parent.Err(); cerr != nil {
			// The driver may report a cancelled query as a broken connection; say why.
			werr = cerr
		}
		if cw != nil && cw.committed > 0 {
			return rep, fmt.Errorf("import %s stopped after %d events were committed (%d new): %w; import the same file again to finish (what is already there counts as duplicates)",
				name, cw.total, cw.stored, werr)
		}
		rep.Imported, rep.Duplicates = 0, 0
		return rep, fmt.Errorf("import %s: %w", name, werr)
	}
	if closeErr != nil {
		return rep, fmt.Errorf("imported, but the rejected rows were not all saved: %w", closeErr)
	}
	return rep, nil
}

// produce reads rows, converts them and sends batches; it records bad rows in rep.
func produce(ctx context.Context, src source, conv converter, rep *Report, opt Options, rej *rejectWriter,
	out chan<- batch, name string, sourceID int64, now time.Time, prog *progress) error {
	var cur batch
	send := func() error {
		if len(cur.events) == 0 && len(cur.rejections) == 0 {
			return nil
		}
		select {
		case out <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = batch{events: make([]event.Event, 0, batchEvents)}
		return nil
	}
	var emitErr error
	emit := func(u *unit) {
		if u.skipped {
			rep.Skipped++
			return
		}
		if u.err != nil {
			rep.Rejected++
			if len(rep.Errors) < maxErrors {
				rep.Errors = append(rep.Errors, *u.err)
			}
			if !opt.SkipBad {
				cur.events = cur.events[:0] // nothing will be written; stop building batches
				return
			}
			if rej != nil {
				for _, r := range u.rows {
					if err := rej.write(r, u.err.Error()); err != nil && emitErr == nil {
						emitErr = err
					}
				}
			}
			for _, r := range u.rows {
				cur.rejections = append(cur.rejections, store.Rejection{SourceID: sourceID, ReceivedAt: now,
					Origin: "import " + name, Position: r.line, Reason: u.err.Error(), Body: r.text()})
			}
			return
		}
		if rep.Rejected > 0 && !opt.SkipBad {
			return
		}
		cur.events = append(cur.events, u.events...)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rej != nil && r.hdr != nil && rej.hdr == nil {
			rej.hdr = r.hdr
		}
		if e := extraFields(r); e != nil {
			rep.Rows++
			prog.row()
			emit(&unit{rows: []*row{r}, err: e})
			continue
		}
		if conv.add(r, emit) {
			rep.Rows++
			prog.row()
		}
		if emitErr != nil {
			return emitErr
		}
		if len(cur.events) >= batchEvents || len(cur.rejections) >= batchEvents {
			if err := send(); err != nil {
				return err
			}
		}
	}
	conv.flush(emit)
	if emitErr != nil {
		return emitErr
	}
	// Orders close in the order of their last row; show errors in file order.
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	return send()
}

// extraFields rejects a CSV row with values beyond the header's columns: usually an
// unquoted separator inside a value ("12,30" in a comma file), which would shift columns.
func extraFields(r *row) *RowError {
	if r.hdr == nil || len(r.vals) <= len(r.hdr.names) {
		return nil
	}
	for i := len(r.hdr.names); i < len(r.vals); i++ {
		if strings.TrimSpace(r.vals[i]) != "" {
			return &RowError{Line: r.line, Column: fmt.Sprintf("#%d", i+1),
				Reason: fmt.Sprintf("%d values but the header has %d columns (an unquoted separator inside a value?)", len(r.vals), len(r.hdr.names))}
		}
	}
	return nil
}

package importer

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
)

// rejectWriter writes rejected rows so they can be fixed and imported again: CSV rows
// keep their columns plus an "error" column; JSONL lines become
// {"line":N,"error":"...","record":<the original line>}. The file is created on the
// first rejected row only.
type rejectWriter struct {
	path   string
	format string
	hdr    *header
	f      *os.File
	bw     *bufio.Writer
	cw     *csv.Writer
	n      int
}

func newRejectWriter(path, format string) *rejectWriter {
	return &rejectWriter{path: path, format: format}
}

func (w *rejectWriter) write(r *row, reason string) error {
	if w.f == nil {
		f, err := os.Create(w.path)
		if err != nil {
			return fmt.Errorf("create rejected-rows file: %w", err)
		}
		w.f, w.bw = f, bufio.NewWriter(f)
		if w.format == "csv" {
			w.cw = csv.NewWriter(w.bw)
			if w.hdr != nil {
				if err := w.cw.Write(append(append([]string(nil), w.hdr.names...), "error")); err != nil {
					return fmt.Errorf("write %s: %w", w.path, err)
				}
			}
		}
	}
	w.n++
	if w.cw != nil {
		vals := append([]string(nil), r.vals...)
		if w.hdr != nil {
			for len(vals) < len(w.hdr.names) {
				vals = append(vals, "")
			}
		}
		if err := w.cw.Write(append(vals, reason)); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
		return nil
	}
	rec := json.RawMessage(r.raw)
	if !json.Valid(r.raw) {
		rec, _ = json.Marshal(string(r.raw))
	}
	b, err := json.Marshal(struct {
		Line   int             `json:"line"`
		Error  string          `json:"error"`
		Record json.RawMessage `json:"record"`
	}{r.line, reason, rec})
	if err != nil {
		return err
	}
	if _, err := w.bw.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

func (w *rejectWriter) close() error {
	if w.f == nil {
		return nil
	}
	if w.cw != nil {
		w.cw.Flush()
		if err := w.cw.Error(); err != nil {
			w.f.Close()
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		w.f.Close()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return w.f.Close()
}

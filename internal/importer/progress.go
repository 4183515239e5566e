package importer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws "[#####     ] 12.3/45.6 MB  123,456 rows  61,234 rows/s" on one line,
// at most five times a second. A nil writer draws nothing.
type progress struct {
	w     io.Writer
	total int64
	read  *countingReader
	rows  int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, total int64, read *countingReader) *progress {
	now := time.Now()
	return &progress{w: w, total: total, read: read, start: now, last: now}
}

func (p *progress) row() {
	if p.w == nil {
		return
	}
	p.rows++
	if p.rows%1024 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	n := p.read.n.Load()
	rate := float64(p.rows) / max(now.Sub(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		frac := min(float64(n)/float64(p.total), 1)
		bar := int(frac * 30)
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f/%.1f MB  %d rows  %.0f rows/s ", strings.Repeat("#", bar), strings.Repeat(" ", 30-bar),
			float64(n)/1e6, float64(p.total)/1e6, p.rows, rate)
		return
	}
	fmt.Fprintf(p.w, "\r%.1f MB  %d rows  %.0f rows/s ", float64(n)/1e6, p.rows, rate)
}

func (p *progress) done() {
	if p.w == nil {
		return
	}
	p.draw(time.Now())
	fmt.Fprintln(p.w)
}

// writing says the file was read and checked and its n events are being written.
func (p *progress) writing(n int) {
	if p.w == nil {
		return
	}
	p.draw(time.Now())
	fmt.Fprintf(p.w, "\nread and checked; writing %d events in chunks ", n)
}

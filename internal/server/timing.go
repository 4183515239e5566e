package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// withServerTiming adds a Server-Timing header to every response: the time the handler
// took until it wrote the status line ("app;dur=12.3", milliseconds). Pages render into
// a buffer before writing, so for them it is the whole server time; for a streamed
// answer (a CSV export) it is the time to the first byte. Browsers' developer tools and
// `omniroi bench dashboard` read it to tell server time from the network and the client.
func withServerTiming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &timingWriter{ResponseWriter: w, start: time.Now()}
		h.ServeHTTP(tw, r)
	})
}

type timingWriter struct {
	http.ResponseWriter
	start   time.Time
	written bool
}

func (w *timingWriter) stamp() {
	if w.written {
		return
	}
	w.written = true
	ms := float64(time.Since(w.start).Microseconds()) / 1000
	w.Header().Add("Server-Timing", "app;dur="+strconv.FormatFloat(ms, 'f', 1, 64))
}

func (w *timingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.stamp() // 1xx answers are informational: the final status comes later
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *timingWriter) Write(b []byte) (int, error) {
	w.stamp()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flushing).
func (w *timingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServerTiming reads the app duration a response's Server-Timing header carries
// (withServerTiming), and whether it had one.
func ServerTiming(h http.Header) (time.Duration, bool) {
	for _, v := range h.Values("Server-Timing") {
		for _, metric := range strings.Split(v, ",") {
			params := strings.Split(metric, ";")
			if strings.TrimSpace(params[0]) != "app" {
				continue
			}
			for _, p := range params[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if k != "dur" {
					continue
				}
				if ms, err := strconv.ParseFloat(val, 64); err == nil {
					return time.Duration(ms * float64(time.Millisecond)), true
				}
			}
		}
	}
	return 0, false
}

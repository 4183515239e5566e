package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPlausibleInput(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, raw string
		in        Input
		err       string // "" accepted
	}{
		{"a day ahead", `{"type":"track","event":"x","userId":"u","timestamp":"2026-03-02T11:59:00Z"}`, Input{}, ""},
		{"over a day ahead", `{"type":"track","event":"x","userId":"u","timestamp":"2026-03-02T12:01:00Z"}`, Input{}, "timestamp: 2026-03-02T12:01:00.000Z is more than 24 h ahead"},
		{"setting of an hour", `{"type":"track","event":"x","userId":"u","timestamp":"2026-03-01T14:00:00Z"}`, Input{MaxFuture: time.Hour}, "more than 1h0m0s ahead"},
		{"1990 exactly", `{"type":"track","event":"x","userId":"u","timestamp":"1990-01-01T00:00:00Z"}`, Input{}, ""},
		{"before 1990", `{"type":"track","event":"x","userId":"u","timestamp":"1989-12-31T23:59:59Z"}`, Input{}, "before 1990-01-01"},
		{"year 1", `{"type":"track","event":"x","userId":"u","originalTimestamp":"0001-01-01T00:00:00Z"}`, Input{}, "originalTimestamp: 0001-01-01"},
		{"skew pushes it back", `{"type":"track","event":"x","userId":"u","timestamp":"2026-03-01T12:00:00Z","sentAt":"2099-01-01T00:00:00Z"}`, Input{}, "before 1990"},
		{"an import's own clock", `{"type":"track","event":"x","userId":"u","timestamp":"2026-02-01T00:00:00Z"}`, Input{ReceivedAt: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), Now: now}, ""},
		{"revenue at the limit", `{"type":"track","event":"Order Completed","userId":"u","properties":{"revenue":10000000000000}}`, Input{}, ""},
		{"revenue over", `{"type":"track","event":"Order Completed","userId":"u","properties":{"revenue":10000000000000.01}}`, Input{}, "properties.revenue"},
		{"negative total", `{"type":"track","event":"x","userId":"u","properties":{"total":"-1e16"}}`, Input{}, "properties.total"},
		{"yen", `{"type":"track","event":"x","userId":"u","properties":{"value":1000000000000001,"currency":"JPY"}}`, Input{}, "properties.value"},
		{"text is not money", `{"type":"track","event":"x","userId":"u","properties":{"value":"blue","price":null}}`, Input{}, ""},
		{"product line", `{"type":"track","event":"x","userId":"u","properties":{"products":[{"price":1},{"price":"1e12","quantity":"2000"}]}}`, Input{}, "properties.products[1]"},
		{"products sum", `{"type":"track","event":"x","userId":"u","properties":{"products":[{"price":6e12},{"price":6e12}]}}`, Input{}, "properties.products: the products add up"},
		{"identify is not checked for money", `{"type":"identify","userId":"u","traits":{"revenue":1e30}}`, Input{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			if in.ReceivedAt.IsZero() {
				in.ReceivedAt = now
			}
			_, err := in.Normalize([]byte(c.raw))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
}

func TestTraitKeysCapped(t *testing.T) {
	traits := func(n int) string {
		m := map[string]int{}
		for i := range n {
			m[fmt.Sprintf("k%03d", i)] = i
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	keys := func(t *testing.T, body []byte, path ...string) int {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return len(v.(map[string]any))
	}
	for _, c := range []struct {
		name, raw string
		batchCtx  string
		path      []string
		notice    string
	}{
		{"traits", `{"type":"identify","userId":"u","traits":` + traits(300) + `}`, "", []string{"traits"}, "traits has 300 keys"},
		{"context.traits", `{"type":"track","event":"x","userId":"u","context":{"ip":"1.2.3.4","traits":` + traits(257) + `}}`, "", []string{"context", "traits"}, "context.traits has 257 keys"},
		{"batch context", `{"type":"track","event":"x","userId":"u"}`, `{"traits":` + traits(400) + `}`, []string{"context", "traits"}, "context.traits has 400 keys"},
		{"at the limit", `{"type":"identify","userId":"u","traits":` + traits(256) + `}`, "", []string{"traits"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := Input{ReceivedAt: now}
			if c.batchCtx != "" {
				in.BatchContext = []byte(c.batchCtx)
			}
			ev, err := in.Normalize([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if n := keys(t, ev.Body, c.path...); n != 256 {
				t.Fatalf("%d keys kept", n)
			}
			if c.notice == "" && ev.Notice != "" || !strings.Contains(ev.Notice, c.notice) {
				t.Fatalf("notice %q, want %q", ev.Notice, c.notice)
			}
			if !json.Valid(ev.Body) {
				t.Fatalf("body is not JSON: %s", ev.Body)
			}
		})
	}
}

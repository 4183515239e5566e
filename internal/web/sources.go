package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

type sourcesData struct {
	Waiting   int64  // events stored but not yet turned into customers and orders
	NewKey    string // shown once, right after creating a source
	NewSource string
	Error     string
	Name      string
}

// countCap bounds the event counts of the Sources page.
const countCap = 100_000

// capped shows a count that stopped at countCap as "more than 100,000".
func capped(n int64) Cell {
	if n > countCap {
		return Cell{Text: "more than " + formatInt(countCap), Raw: fmt.Sprintf(">%d", countCap)}
	}
	return num(n)
}

type sourceStat struct {
	src               store.Source
	hour, day, rejDay int64
	lastReceived      int64
}

// sourceStats counts events per source with one index range scan each on
// events(source_id, received_at); cached a few seconds because a busy source can have
// a million events in a day.
func (s *server) sourceStats(ctx context.Context, now time.Time) ([]sourceStat, error) {
	return cached(s.cache, "sources", now, func() ([]sourceStat, error) {
		srcs, err := s.db.Sources(ctx)
		if err != nil {
			return nil, err
		}
		hourAgo, dayAgo := now.Add(-time.Hour).UnixMilli(), now.Add(-24*time.Hour).UnixMilli()
		out := make([]sourceStat, 0, len(srcs))
		for _, src := range srcs {
			st := sourceStat{src: src}
			// Counting stops at countCap: a fresh demo import puts a million events into
			// the last day, and "more than 100,000" says enough.
			err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE source_id = ? AND received_at >= ? LIMIT ?) x`, src.ID, dayAgo, countCap+1).Scan(&st.day)
			if err != nil {
				return nil, fmt.Errorf("count events: %w", err)
			}
			if st.day > 0 {
				if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE source_id = ? AND received_at >= ? LIMIT ?) x`, src.ID, hourAgo, countCap+1).Scan(&st.hour); err != nil {
					return nil, fmt.Errorf("count events: %w", err)
				}
			}
			if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(received_at), 0) FROM events WHERE source_id = ?`, src.ID).Scan(&st.lastReceived); err != nil {
				return nil, fmt.Errorf("last event: %w", err)
			}
			if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM rejected_events WHERE source_id = ? AND received_at >= ?`, src.ID, dayAgo).Scan(&st.rejDay); err != nil {
				return nil, fmt.Errorf("count rejected events: %w", err)
			}
			out = append(out, st)
		}
		return out, nil
	})
}

func (s *server) sources(w http.ResponseWriter, r *http.Request) error {
	return s.sourcesPage(w, r, &sourcesData{})
}

func (s *server) sourcesPage(w http.ResponseWriter, r *http.Request, d *sourcesData) error {
	ctx := r.Context()
	p := s.newPage(r, "/sources", "Sources")
	p.Data = d
	now := s.opt.Now()
	loc := p.Range.Loc
	stats, err := s.sourceStats(ctx, now)
	if err != nil {
		return err
	}
	// Events the processor has not read yet: the pages built on customers and orders lag
	// by that much (both reads are primary-key lookups).
	var maxSeq int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("read event log: %w", err)
	}
	if cur, ok, err := s.db.Setting(ctx, identity.CursorSetting); err != nil {
		return err
	} else if c, _ := strconv.ParseInt(cur, 10, 64); maxSeq > c || !ok {
		d.Waiting = maxSeq - c
	}
	t := p.addTable(&Table{ID: "sources", Caption: "Sources and the events they sent",
		Cols:  []Col{{Label: "Source"}, {Label: "Key starts with"}, {Label: "Events, last hour", Num: true}, {Label: "Events, last 24 h", Num: true}, {Label: "Rejected, last 24 h", Num: true}, {Label: "Last event received"}, {Label: "Created"}},
		Empty: "No sources yet. Create one below to get a write key."})
	for _, st := range stats {
		last := formatTime(st.lastReceived, loc)
		if last == "" {
			last = "never"
		}
		t.Rows = append(t.Rows, []Cell{txt(st.src.Name), txt(st.src.KeyHint + "…"), capped(st.hour), capped(st.day), num(st.rejDay),
			{Text: last, Raw: formatTime(st.lastReceived, loc)}, txt(st.src.CreatedAt.In(loc).Format("2006-01-02"))})
	}

	// Rejected events of the chosen period, newest first, via rejected_events' primary key.
	rt := p.addTable(&Table{ID: "rejected", Caption: "Rejected events (newest 100 in the period)",
		Cols:  []Col{{Label: "Received"}, {Label: "Source"}, {Label: "Where"}, {Label: "Position", Num: true}, {Label: "Reason"}, {Label: "Payload (start)"}},
		Empty: "No rejected events in this period."})
	rows, err := s.db.Query(ctx, `SELECT r.received_at, COALESCE(s.name, ''), r.origin, r.position, r.reason, SUBSTR(r.body, 1, 160)
		FROM rejected_events r LEFT JOIN sources s ON s.id = r.source_id
		WHERE r.received_at >= ? AND r.received_at < ? ORDER BY r.id DESC LIMIT 100`, p.Range.FromMS(), p.Range.ToMS())
	if err != nil {
		return fmt.Errorf("list rejected events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at, pos int64
		var src, origin, reason, body string
		if err := rows.Scan(&at, &src, &origin, &pos, &reason, &body); err != nil {
			return err
		}
		posText := fmt.Sprint(pos)
		if pos < 0 {
			posText = "whole request"
		}
		if !p.Can(string(auth.PermReadPersonal)) {
			body = "(hidden for your role)" // a payload may name a person
		}
		rt.Rows = append(rt.Rows, []Cell{txt(formatTime(at, loc)), txt(src), txt(origin), {Text: posText, Raw: fmt.Sprint(pos)}, txt(reason), txt(body)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.respond(w, r, "sources", p)
}

func (s *server) createSource(w http.ResponseWriter, r *http.Request) error {
	name := r.PostFormValue("name")
	src, key, err := s.db.CreateSource(r.Context(), name)
	d := &sourcesData{Name: name}
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
	} else {
		d.NewKey, d.NewSource = key, src.Name
		d.Name = ""
		s.cache.drop("sources")
	}
	return s.sourcesPage(w, r, d)
}

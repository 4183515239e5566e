package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
)

type sourcesData struct {
	Waiting   int64  // events stored but not yet turned into customers and orders
	NewKey    string // shown once, right after creating or rotating a source's key
	NewSource string
	Rotated   bool   // NewKey replaces an old key
	Revoked   string // a source whose key was just revoked
	Error     string
	Name      string
	Kind      string
	Kinds     []store.SourceKind
	CanManage bool         // owner or admin: may rotate and revoke keys
	Manage    []sourceKey  // the sources, for the rotate and revoke forms
	Held      []heldNotice // messages the new-recipient limits held, last 24 h

	// Setup (sources_connect.go): snippets, connectors, uploads.
	Base         string
	Sites        []siteSnippet
	Connectors   []connectorView
	NewConnector bool   // NewSource is a shop connector just made
	SecretSet    string // a connector whose webhook secret was just replaced
	Upload       *uploadResult
	UploadKinds  []struct{ Kind, Label, Presets string }
	MaxUploadMB  int
}

// sourceKey is one source in the key management list.
type sourceKey struct {
	ID      int64
	Name    string
	Kind    string
	Hint    string
	Revoked bool
}

type heldNotice struct {
	Source string
	Held   int64
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
// events(source_id, received_at). The counts are kept for the event log's version (its
// newest event and newest rejected event) and the minute (the windows slide), at most
// cacheTTL: a repeat load reads two primary keys, and an event that arrives shows on the
// next load.
func (s *server) sourceStats(ctx context.Context, now time.Time, maxSeq int64) ([]sourceStat, error) {
	var maxRejected int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM rejected_events`).Scan(&maxRejected); err != nil {
		return nil, fmt.Errorf("read rejected events: %w", err)
	}
	key := fmt.Sprintf("sources|%d|%d|%d", maxSeq, maxRejected, now.Unix()/60)
	return cached(s.cache, key, now, func() ([]sourceStat, error) {
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
	r = s.withWaitBudget(r)
	ctx := r.Context()
	p := s.newPage(r, "/sources", "Sources")
	p.Data = d
	now := s.opt.Now()
	loc := p.Range.Loc
	// Events the processor has not read yet: the pages built on customers and orders lag
	// by that much (both reads are primary-key lookups).
	var maxSeq int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("read event log: %w", err)
	}
	stats, err := s.sourceStats(ctx, now, maxSeq)
	if err != nil {
		return err
	}
	if cur, ok, err := s.db.Setting(ctx, identity.CursorSetting); err != nil {
		return err
	} else if c, _ := strconv.ParseInt(cur, 10, 64); maxSeq > c || !ok {
		d.Waiting = maxSeq - c
	}
	t := p.addTable(&Table{ID: "sources", Caption: "Sources and the events they sent",
		Cols:  []Col{{Label: "Source"}, {Label: "Kind"}, {Label: "Key starts with"}, {Label: "Events, last hour", Num: true}, {Label: "Events, last 24 h", Num: true}, {Label: "Rejected, last 24 h", Num: true}, {Label: "Last event received"}, {Label: "Created"}},
		Empty: "No sources yet. Create one below to get a write key."})
	d.CanManage = sessionFrom(r).User.Role.Can(auth.PermManageSources)
	d.Kinds = store.SourceKinds()
	d.Manage = d.Manage[:0]
	srcs := make([]store.Source, 0, len(stats))
	for _, st := range stats {
		srcs = append(srcs, st.src)
	}
	if err := s.setupParts(ctx, r, d, srcs); err != nil {
		return err
	}
	for _, st := range stats {
		last := formatTime(st.lastReceived, loc)
		if last == "" {
			last = "never"
		}
		key := Cell{Text: st.src.KeyHint + "…", Raw: st.src.KeyHint}
		if st.src.Revoked() {
			key = Cell{Text: "revoked " + st.src.RevokedAt.In(loc).Format("2006-01-02"), Raw: "revoked"}
		}
		t.Rows = append(t.Rows, []Cell{txt(st.src.Name), txt(st.src.Kind), key, capped(st.hour), capped(st.day), num(st.rejDay),
			{Text: last, Raw: formatTime(st.lastReceived, loc)}, txt(st.src.CreatedAt.In(loc).Format("2006-01-02"))})
		d.Manage = append(d.Manage, sourceKey{ID: st.src.ID, Name: st.src.Name, Kind: st.src.Kind, Hint: st.src.KeyHint, Revoked: st.src.Revoked()})
	}
	// What the public keys' events could not make the shop send (journey.HeldBySource).
	held, err := journey.HeldBySource(ctx, s.db, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	for _, h := range held {
		d.Held = append(d.Held, heldNotice{Source: h.Source, Held: h.Held})
	}

	// The data-quality panel of the chosen period (quality.Measure).
	cov, ok, err := s.coverageFor(ctx, p.Range)
	if err != nil {
		return err
	}
	coverageTable(p, cov, ok)

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
	kind := r.PostFormValue("kind")
	d := &sourcesData{Name: name, Kind: kind}
	if connect.IsConnector(kind) {
		return s.createConnector(w, r, d, name, kind)
	}
	src, key, err := s.db.CreateSourceKind(r.Context(), name, kind)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
	} else {
		d.NewKey, d.NewSource = key, src.Name
		d.Name = ""
		s.cache.dropPrefix("sources|")
	}
	return s.sourcesPage(w, r, d)
}

// rotateSource (POST /sources/{id}/rotate) gives a source a new write key, shown once;
// the old key stops working. Owners and admins only.
func (s *server) rotateSource(w http.ResponseWriter, r *http.Request) error {
	return s.changeKey(w, r, "source.rotate")
}

// revokeSource (POST /sources/{id}/revoke) makes a source's key stop working.
func (s *server) revokeSource(w http.ResponseWriter, r *http.Request) error {
	return s.changeKey(w, r, "source.revoke")
}

func (s *server) changeKey(w http.ResponseWriter, r *http.Request, action string) error {
	sess := sessionFrom(r)
	if !sess.User.Role.Can(auth.PermManageSources) {
		http.Error(w, "Only owners and admins may rotate or revoke write keys.", http.StatusForbidden)
		return nil
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	var name string
	srcs, err := s.db.Sources(r.Context())
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if src.ID == id {
			name = src.Name
		}
	}
	if name == "" {
		return errNotFound
	}
	record := func(ctx context.Context, tx *store.Tx, src store.Source) error {
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.UserActor(sess.User.Email), Action: action,
			Target: fmt.Sprintf("source:%d", src.ID), Detail: map[string]any{"name": src.Name, "key_hint": src.KeyHint}})
	}
	d := &sourcesData{}
	switch action {
	case "source.rotate":
		var key string
		if _, key, err = s.db.RotateSourceKey(r.Context(), name, record); err == nil {
			d.NewKey, d.NewSource, d.Rotated = key, name, true
		}
	default:
		if r.PostFormValue("confirm") != "yes" {
			err = fmt.Errorf("to revoke the key of %q, tick the box that says senders using it will be refused", name)
		} else if _, err = s.db.RevokeSourceKey(r.Context(), name, record); err == nil {
			d.Revoked = name
		}
	}
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	s.cache.dropPrefix("sources|")
	return s.sourcesPage(w, r, d)
}

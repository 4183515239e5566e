package experiment

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// The website side: GET /v1/experiments tells a visitor's browser which variant of each
// running experiment it gets, and GET /v1/experiments.js is the small script that asks,
// applies the variant and sends the exposure.

//go:embed static/experiments.js
var script []byte

var scriptETag = func() string {
	s := sha256.Sum256(script)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}()

// ServeOptions tune the assignment endpoint.
type ServeOptions struct {
	Refresh time.Duration // how stale the running experiments may be; default 5 s
	KeyTTL  time.Duration // how long a write key stays cached; default 60 s
	MaxAge  time.Duration // Cache-Control max-age of an assignment; default 60 s
	Now     func() time.Time
	Logger  *slog.Logger
}

// Server serves assignments to websites. The running experiments and the write keys are
// cached in memory, so a request costs a hash per experiment and no query.
type Server struct {
	db  *store.DB
	opt ServeOptions

	snap    atomic.Pointer[snapshot]
	loadMu  sync.Mutex // one load at a time
	loading atomic.Bool

	keyMu sync.RWMutex
	keys  map[string]keyEntry // by the key's hash: the secret itself is not kept
}

type snapshot struct {
	at   time.Time
	exps []Experiment
}

type keyEntry struct {
	ok  bool
	exp time.Time
}

const maxCachedKeys = 10_000

// NewServer returns the assignment endpoint's handler; Register mounts it.
func NewServer(db *store.DB, opt ServeOptions) *Server {
	if opt.Refresh <= 0 {
		opt.Refresh = 5 * time.Second
	}
	if opt.KeyTTL <= 0 {
		opt.KeyTTL = time.Minute
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Server{db: db, opt: opt, keys: map[string]keyEntry{}}
}

// Register adds GET /v1/experiments and GET /v1/experiments.js to mux. CORS preflights
// (OPTIONS /v1/...) are the collection API's.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/experiments", s.assign)
	mux.HandleFunc("GET /v1/experiments.js", s.script)
}

// Invalidate makes the next request reload the running experiments (after a start or
// stop in this process; other processes' changes show within Refresh).
func (s *Server) Invalidate() { s.snap.Store(nil) }

// Assignment is one experiment's variant for the visitor.
type Assignment struct {
	Experiment    string `json:"experiment_id"`
	Variation     string `json:"variation_id"`
	VariationName string `json:"variation_name"`
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	q := r.URL.Query()
	key := q.Get("writeKey")
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		key = u
	}
	if key == "" {
		writeErr(w, http.StatusUnauthorized, "missing write key: send it as ?writeKey= or as the HTTP basic auth username")
		return
	}
	ok, err := s.checkKey(r.Context(), key)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeErr(w, http.StatusUnauthorized, "unknown write key")
		return
	}
	anon, user := q.Get("anonymousId"), q.Get("userId")
	if anon == "" && user == "" {
		writeErr(w, http.StatusBadRequest, "anonymousId is required (userId too, for experiments on customers)")
		return
	}
	if len(anon) > 200 || len(user) > 200 {
		writeErr(w, http.StatusBadRequest, "anonymousId and userId are at most 200 characters")
		return
	}
	exps, err := s.running(r.Context())
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	now := s.opt.Now()
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"experiments":[`...)
	n := 0
	for _, e := range exps {
		var unit string
		switch e.Unit {
		case UnitAnonymous:
			unit = anon
		case UnitCustomer:
			unit = user
		}
		if unit == "" || !e.Active(now) || (e.Start != nil && now.Before(*e.Start)) {
			continue
		}
		v := e.Variants[e.Assign(unit)]
		if n > 0 {
			buf = append(buf, ',')
		}
		n++
		buf = append(buf, `{"experiment_id":`...)
		buf = strconv.AppendQuote(buf, e.Name)
		buf = append(buf, `,"variation_id":`...)
		buf = strconv.AppendQuote(buf, v.Key)
		buf = append(buf, `,"variation_name":`...)
		buf, _ = appendJSONString(buf, v.Name)
		buf = append(buf, '}')
	}
	buf = append(buf, "]}\n"...)
	h := fnv.New64a()
	_, _ = h.Write(buf)
	etag := `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	hd := w.Header()
	hd.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(s.opt.MaxAge/time.Second)))
	hd.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// appendJSONString appends s as a JSON string (names are free text).
func appendJSONString(buf []byte, s string) ([]byte, error) {
	b, err := json.Marshal(s)
	return append(buf, b...), err
}

func (s *Server) script(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("ETag", scriptETag)
	if r.Header.Get("If-None-Match") == scriptETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(script)
}

// running returns the running experiments, from the cached snapshot while it is fresh.
// A stale snapshot is served while one request reloads it in the background; only the
// very first request waits for the database.
func (s *Server) running(ctx context.Context) ([]Experiment, error) {
	now := s.opt.Now()
	sn := s.snap.Load()
	if sn != nil {
		if now.Sub(sn.at) > s.opt.Refresh && s.loading.CompareAndSwap(false, true) {
			go func() {
				defer s.loading.Store(false)
				if _, err := s.reload(context.Background()); err != nil {
					s.opt.Logger.Error("reload running experiments", "err", err)
				}
			}()
		}
		return sn.exps, nil
	}
	sn, err := s.reload(ctx)
	if err != nil {
		return nil, err
	}
	return sn.exps, nil
}

func (s *Server) reload(ctx context.Context) (*snapshot, error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	exps, err := Running(ctx, s.db)
	if err != nil {
		return nil, err
	}
	sn := &snapshot{at: s.opt.Now(), exps: exps}
	s.snap.Store(sn)
	return sn, nil
}

// checkKey resolves a write key through a short-lived cache (misses are cached for a
// fifth of the time, so a new source works soon after it is added).
func (s *Server) checkKey(ctx context.Context, key string) (bool, error) {
	hash := store.HashKey(key)
	now := s.opt.Now()
	s.keyMu.RLock()
	e, hit := s.keys[hash]
	s.keyMu.RUnlock()
	if hit && now.Before(e.exp) {
		return e.ok, nil
	}
	_, err := s.db.SourceByKey(ctx, key)
	switch {
	case err == nil:
		e = keyEntry{ok: true, exp: now.Add(s.opt.KeyTTL)}
	case errors.Is(err, store.ErrNotFound):
		e = keyEntry{exp: now.Add(s.opt.KeyTTL / 5)}
	default:
		return false, err
	}
	s.keyMu.Lock()
	if len(s.keys) >= maxCachedKeys {
		clear(s.keys)
	}
	s.keys[hash] = e
	s.keyMu.Unlock()
	return e.ok, nil
}

// cors answers like the collection API: any origin may call, with credentials when it
// names itself.
func cors(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	} else {
		hd.Set("Access-Control-Allow-Origin", "*")
	}
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "error": msg})
}

package recommend

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/identity"
)

//go:embed widget.js
var widgetJS []byte

// HandlerOptions tune the web routes.
type HandlerOptions struct {
	KeyCacheTTL      time.Duration // default 30 s
	KeyCheckInterval time.Duration // default 1 s: a revoked key is refused within it
	IdentityTTL      time.Duration // how long an identifier → customer lookup is reused; default 10 s
	Logger           *slog.Logger
}

// Handler serves the routes a shop's web pages call with their (public) write key:
//
//	GET /v1/recommendations?anonymousId=…|userId=…&userHash=…&placement=…&productId=…&location=…&limit=…
//	GET /v1/recommendations/widget.js  the embeddable product strip
//
// The key comes as basic auth (like the collection API) or as writeKey in the query, so
// a page can call without a CORS preflight. Answers are deterministic for a model
// version and cached in memory per request.
type Handler struct {
	svc  *Service
	keys *collect.KeyCache
	opt  HandlerOptions

	mu      sync.Mutex
	version string
	cache   map[string][]byte
	idents  map[string]identEntry
}

type identEntry struct {
	ref customerRef
	exp time.Time
}

const maxCached = 50_000

// NewHandler serves svc's recommendations.
func NewHandler(svc *Service, opt HandlerOptions) *Handler {
	if opt.KeyCacheTTL <= 0 {
		opt.KeyCacheTTL = 30 * time.Second
	}
	if opt.KeyCheckInterval <= 0 {
		opt.KeyCheckInterval = time.Second
	}
	if opt.IdentityTTL <= 0 {
		opt.IdentityTTL = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Handler{svc: svc, keys: collect.NewKeyCache(svc.db, opt.KeyCacheTTL, opt.KeyCheckInterval, nil, opt.Logger), opt: opt,
		cache: map[string][]byte{}, idents: map[string]identEntry{}}
}

// Register mounts the routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/recommendations", h.serve)
	mux.HandleFunc("GET /v1/recommendations/widget.js", h.widget)
	mux.HandleFunc("OPTIONS /v1/recommendations", h.preflight)
}

func cors(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Add("Vary", "Origin")
	} else {
		hd.Set("Access-Control-Allow-Origin", "*")
	}
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization")
	w.Header().Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) widget(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(widgetJS)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"success": false, "error": msg})
	_, _ = w.Write(append(b, '\n'))
}

// Response is the body of GET /v1/recommendations.
type Response struct {
	Placement       string           `json:"placement"`
	Personalised    bool             `json:"personalised"`
	Version         string           `json:"version"`
	Recommendations []Recommendation `json:"recommendations"`
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	ctx := r.Context()
	q := r.URL.Query()
	key, _, _ := r.BasicAuth()
	if key == "" {
		key = q.Get("writeKey")
	}
	if key == "" {
		writeErr(w, http.StatusUnauthorized, "missing write key: send it as the HTTP basic auth username or as writeKey in the query")
		return
	}
	if _, err := h.keys.Source(ctx, key); err != nil {
		if errors.Is(err, collect.ErrUnknownKey) {
			writeErr(w, http.StatusUnauthorized, "unknown write key")
			return
		}
		writeErr(w, http.StatusServiceUnavailable, "storage unavailable; retry")
		return
	}
	placement := q.Get("placement")
	if placement == "" {
		placement = "home"
	}
	if _, ok := Placements[placement]; !ok {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("unknown placement %q (one of %s)", placement, strings.Join(placementNames(), ", ")))
		return
	}
	n := 4
	if v := q.Get("limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 24 {
			writeErr(w, http.StatusBadRequest, "limit must be 1 to 24")
			return
		}
	}
	var products []string
	for _, v := range q["productId"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && len(products) < 20 {
				products = append(products, p)
			}
		}
	}
	slices.Sort(products)
	products = slices.Compact(products)
	location := strings.TrimSpace(q.Get("location"))
	m, err := h.svc.Model(ctx)
	if err != nil {
		h.opt.Logger.Error("recommendations: model", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "recommendations unavailable; retry")
		return
	}
	ref, err := h.person(ctx, m, q.Get("userId"), q.Get("userHash"), q.Get("anonymousId"))
	if err != nil {
		h.opt.Logger.Error("recommendations: identity", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "storage unavailable; retry")
		return
	}
	ck := strings.Join([]string{m.Version, placement, itoa(ref.id), strconv.FormatBool(ref.personalised), location, strconv.Itoa(n), strings.Join(products, "\x00")}, "\x01")
	body := h.cached(m.Version, ck)
	if body == nil {
		recs := m.Recommend(Request{CustomerID: ref.id, Placement: placement, Products: products, Location: location, N: n,
			Personalised: ref.personalised})
		if recs == nil {
			recs = []Recommendation{}
		}
		body, _ = json.Marshal(Response{Placement: placement, Personalised: ref.personalised && ref.id != 0, Version: shortVersion(m.Version), Recommendations: recs})
		body = append(body, '\n')
		h.store(m.Version, ck, body)
	}
	w.Header().Set("Content-Type", "application/json")
	// Personal answers stay in the browser that asked; a minute keeps a page's reloads cheap.
	w.Header().Set("Cache-Control", "private, max-age=60")
	_, _ = w.Write(body)
}

func shortVersion(v string) string {
	s := sha256.Sum256([]byte(v))
	return hex.EncodeToString(s[:6])
}

func (h *Handler) cached(version, key string) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.version != version {
		clear(h.cache)
		clear(h.idents)
		h.version = version
		return nil
	}
	return h.cache[key]
}

func (h *Handler) store(version, key string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.version != version {
		return
	}
	if len(h.cache) >= maxCached {
		clear(h.cache)
	}
	h.cache[key] = body
}

// person resolves who a request is about. A userId is personalised only with a valid
// userHash (HMAC-SHA256 of the userId under recommend.user_hash_secret, computed by the
// shop's back end): anyone can type somebody's userId into a URL, and a person's
// recommendations tell what they bought. An anonymousId is the browser's own random
// cookie value, so it stands for that browser; a shared one personalises nobody.
func (h *Handler) person(ctx context.Context, m *Model, userID, userHash, anonID string) (customerRef, error) {
	var kind, value string
	switch {
	case userID != "":
		secret := m.rules.UserHashSecret
		if secret == "" || !validHash(secret, userID, userHash) {
			return customerRef{}, nil
		}
		kind, value = identity.KindUserID, identity.NormalizeID(userID)
	case anonID != "":
		kind, value = identity.KindAnonymousID, identity.NormalizeID(anonID)
	}
	if value == "" {
		return customerRef{}, nil
	}
	ck := kind + "\x00" + value
	now := time.Now()
	h.mu.Lock()
	e, ok := h.idents[ck]
	h.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.ref, nil
	}
	ref, err := resolve(ctx, h.svc.db, kind, value, m.rules.DefaultConsent)
	if err != nil {
		return ref, err
	}
	h.mu.Lock()
	if len(h.idents) >= maxCached {
		clear(h.idents)
	}
	h.idents[ck] = identEntry{ref: ref, exp: now.Add(h.opt.IdentityTTL)}
	h.mu.Unlock()
	return ref, nil
}

// UserHash is what a shop's back end puts beside a userId so pages may ask for that
// user's recommendations.
func UserHash(secret, userID string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(userID))
	return hex.EncodeToString(mac.Sum(nil))
}

func validHash(secret, userID, got string) bool {
	want := UserHash(secret, userID)
	return hmac.Equal([]byte(want), []byte(strings.ToLower(got)))
}

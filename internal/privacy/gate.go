package privacy

// The gate every writer of the event log calls inside its transaction, just before it
// inserts (the collection API, importers, the journey engine): it drops events for
// erased people, lifts a suppression when the person comes back with consent, and strips
// identifiers from events without analytics consent.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// gateConfig is the gate's view of the settings and the suppression list.
type gateConfig struct {
	raw      string // the privacy.* settings as read: the cache key
	key      []byte
	required bool
	mapping  consent.Mapping
	set      map[[32]byte]int64 // identifier hash → erasure id; empty: nobody suppressed
	macs     sync.Pool          // keyed HMAC states, reset per identifier
}

// sum is hashID as raw bytes, without allocating a new HMAC per identifier.
func (c *gateConfig) sum(kind, value string) [32]byte {
	m, _ := c.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, c.key)
	}
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	var out [32]byte
	m.Sum(out[:0])
	c.macs.Put(m)
	return out
}

// configs caches one gateConfig per privacy key (one per database; "" before the first
// erasure), replaced when the settings read in a transaction differ.
var configs sync.Map

// loadConfig reads the privacy.* settings with one range scan of the settings table's
// primary key and reuses the parsed config (and suppression set) while they are unchanged.
func loadConfig(ctx context.Context, tx *store.Tx) (*gateConfig, error) {
	rows, err := tx.Query(ctx, `SELECT key, value FROM settings WHERE key >= 'privacy.' AND key < 'privacy/' ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("privacy gate: read settings: %w", err)
	}
	vals := map[string]string{}
	var raw strings.Builder
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, err
		}
		vals[k] = v
		raw.WriteString(k)
		raw.WriteByte('=')
		raw.WriteString(v)
		raw.WriteByte('\n')
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ck := vals[keySetting]
	if c, ok := configs.Load(ck); ok && c.(*gateConfig).raw == raw.String() {
		return c.(*gateConfig), nil
	}
	c := &gateConfig{raw: raw.String()}
	get := func(k workspace.Key) string {
		if v, ok := vals[k.Name]; ok && v != "" {
			if nv, err := k.Check(v); err == nil {
				return nv
			}
		}
		return k.Default
	}
	c.required = get(workspace.ConsentRequiredKey) == "true"
	c.mapping = consent.Mapping{
		Analytics:       consent.ParseList(get(workspace.ConsentAnalyticsKey)),
		Ads:             consent.ParseList(get(workspace.ConsentAdsKey)),
		Personalization: consent.ParseList(get(workspace.ConsentPersonalizationKey)),
	}
	if ck != "" && vals[versionSetting] != "" {
		if c.key, err = loadKey(ctx, tx, false); err != nil {
			return nil, err
		}
		srows, err := tx.Query(ctx, `SELECT hash, erasure_id FROM privacy_suppressions`)
		if err != nil {
			return nil, fmt.Errorf("privacy gate: read suppressions: %w", err)
		}
		c.set = map[[32]byte]int64{}
		for srows.Next() {
			var h string
			var id int64
			if err := srows.Scan(&h, &id); err != nil {
				srows.Close()
				return nil, err
			}
			var k [32]byte
			if b, err := hex.DecodeString(h); err == nil && len(b) == len(k) {
				copy(k[:], b)
				c.set[k] = id
			}
		}
		srows.Close()
		if err := srows.Err(); err != nil {
			return nil, err
		}
	}
	configs.Store(ck, c)
	return c, nil
}

// GateResult counts what one Gate call did.
type GateResult struct {
	Dropped    int // events of erased people, not stored
	Anonymised int // events without analytics consent, stored without identifiers
	Lifted     int // suppressions lifted by a person coming back with consent
}

// Trust says whether an event comes from a source that is not public.
type Trust func(ev *event.Event) bool

// Everyone trusts every event (imports, omniroi's own events); No trusts none.
var (
	Everyone Trust = func(*event.Event) bool { return true }
	No       Trust = func(*event.Event) bool { return false }
)

// Gate filters evs in place (the returned slice shares evs' array) inside tx, the
// transaction about to insert them. trusted says whether an event comes from a source that is
// not public (an import, a server source, omniroi itself): only such a source can bring
// an erased person back. An erased person's events are dropped (and counted on their
// erasure) unless one of them is an identify call, from a trusted source, carrying
// explicit analytics consent: that lifts the person's suppression and is stored.
// Events whose consent signal denies analytics (or, with privacy.consent.required, has
// none) keep their type, name, time, channel and order fields and lose their identifiers.
func Gate(ctx context.Context, tx *store.Tx, evs []event.Event, trusted Trust) ([]event.Event, GateResult, error) {
	var res GateResult
	if len(evs) == 0 {
		return evs, res, nil
	}
	cfg, err := loadConfig(ctx, tx)
	if err != nil {
		return evs, res, err
	}
	var dropped map[int64]int64
	var lifted map[int64]bool
	out := evs[:0]
	for i := range evs {
		ev := evs[i]
		if len(cfg.set) > 0 {
			if eid, hit := cfg.suppressed(&ev); hit && !lifted[eid] {
				if !trusted(&ev) || !comesBack(&ev, cfg.mapping) {
					if dropped == nil {
						dropped = map[int64]int64{}
					}
					dropped[eid]++
					res.Dropped++
					continue
				}
				if lifted == nil {
					lifted = map[int64]bool{}
				}
				for _, id := range cfg.erasuresOf(&ev) {
					lifted[id] = true
				}
			}
		}
		if cfg.required || consent.Present(ev.Body) {
			st, _ := consent.FromBody(ev.Body, cfg.mapping)
			if st.Analytics == consent.Denied || cfg.required && st.Analytics != consent.Granted {
				keepIDs := ev.Type == event.Track && ev.Name == consent.ChangeEvent
				ev.Body = minimise(ev.Body, keepIDs, "no analytics consent")
				if !keepIDs {
					ev.UserID, ev.AnonymousID = "", ""
				}
				res.Anonymised++
			}
		}
		out = append(out, ev)
	}
	for id, n := range dropped {
		if _, err := tx.Exec(ctx, `UPDATE privacy_erasures SET dropped_events = dropped_events + ? WHERE id = ?`, n, id); err != nil {
			return out, res, fmt.Errorf("privacy gate: count dropped events: %w", err)
		}
	}
	if len(lifted) > 0 {
		for id := range lifted {
			if _, err := tx.Exec(ctx, `DELETE FROM privacy_suppressions WHERE erasure_id = ?`, id); err != nil {
				return out, res, fmt.Errorf("privacy gate: lift suppression: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE privacy_erasures SET lifted_at = ? WHERE id = ?`, nowMS(), id); err != nil {
				return out, res, err
			}
			if err := audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorSystem, Action: "privacy.unsuppress",
				Target: fmt.Sprintf("erasure:%d", id), Detail: map[string]any{"why": "identify with analytics consent from a trusted source"}}); err != nil {
				return out, res, err
			}
			res.Lifted++
		}
		if err := bumpVersion(ctx, tx); err != nil {
			return out, res, err
		}
	}
	clear(evs[len(out):]) // no references to dropped bodies
	return out, res, nil
}

// suppressed reports whether an identifier of ev is on the list, and whose erasure.
func (c *gateConfig) suppressed(ev *event.Event) (int64, bool) {
	for _, kv := range eventIdentifiers(ev) {
		if id, ok := c.set[c.sum(kv[0], kv[1])]; ok {
			return id, true
		}
	}
	return 0, false
}

// erasuresOf lists every erasure an event's identifiers belong to.
func (c *gateConfig) erasuresOf(ev *event.Event) []int64 {
	var out []int64
	for _, kv := range eventIdentifiers(ev) {
		if id, ok := c.set[c.sum(kv[0], kv[1])]; ok {
			out = append(out, id)
		}
	}
	return out
}

// comesBack is the rule for a person returning after an erasure: an identify call with
// an explicit analytics grant in its consent signal (the caller checks the source is
// trusted). A signup form's tick box sent by the shop's back end, or an import of it.
func comesBack(ev *event.Event, m consent.Mapping) bool {
	if ev.Type != event.Identify {
		return false
	}
	st, ok := consent.FromBody(ev.Body, m)
	return ok && st.Analytics == consent.Granted
}

// eventIdentifiers lists ev's normalised identifiers as (kind, value).
func eventIdentifiers(ev *event.Event) [][2]string {
	out := make([][2]string, 0, 4)
	add := func(kind, v string) {
		if v != "" {
			out = append(out, [2]string{kind, v})
		}
	}
	add(identity.KindUserID, identity.NormalizeID(ev.UserID))
	add(identity.KindAnonymousID, identity.NormalizeID(ev.AnonymousID))
	b := ev.Body
	if !bytes.Contains(b, []byte(`"email"`)) && !bytes.Contains(b, []byte(`"phone"`)) && !bytes.Contains(b, []byte(`"previousId"`)) {
		return out
	}
	// The fields the identity processor reads, found without decoding the body.
	if prev := identity.NormalizeID(text(consent.Member(b, "previousId"))); prev != "" {
		add(identity.KindUserID, prev)
		add(identity.KindAnonymousID, prev)
	}
	traits, props := consent.Member(b, "traits"), consent.Member(b, "properties")
	ctxTraits := consent.Member(consent.Member(b, "context"), "traits")
	for _, o := range [][]byte{traits, ctxTraits, props} {
		if len(o) == 0 {
			continue
		}
		add(identity.KindEmail, identity.NormalizeEmail(text(consent.Member(o, "email"))))
		add(identity.KindPhone, identity.NormalizePhone(text(consent.Member(o, "phone"))))
	}
	return out
}

// text reads a JSON string or number.
func text(raw json.RawMessage) string {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || s[0] == 'n' || s[0] == '{' || s[0] == '[' || s[0] == 't' || s[0] == 'f' {
		return ""
	}
	if s[0] == '"' {
		var v string
		if json.Unmarshal(s, &v) != nil {
			return ""
		}
		return v
	}
	return string(s)
}

func jsonString(raw json.RawMessage, dst *string) bool { return json.Unmarshal(raw, dst) == nil }

// GateRejections drops rejected payloads that name an erased person: a payload turned
// away is still personal data sent for them. Payloads are read best-effort (they are
// often not valid JSON): every email-looking word and every id-like JSON string.
func GateRejections(ctx context.Context, tx *store.Tx, rs []store.Rejection) ([]store.Rejection, int, error) {
	if len(rs) == 0 {
		return rs, 0, nil
	}
	cfg, err := loadConfig(ctx, tx)
	if err != nil || len(cfg.set) == 0 {
		return rs, 0, err
	}
	out := rs[:0]
	n := 0
	for _, r := range rs {
		if cfg.namesSuppressed(r.Body) {
			n++
			continue
		}
		out = append(out, r)
	}
	return out, n, nil
}

func (c *gateConfig) namesSuppressed(body string) bool {
	for _, w := range strings.FieldsFunc(body, func(r rune) bool {
		return r == '"' || r == ' ' || r == ',' || r == ':' || r == '{' || r == '}' || r == '[' || r == ']' || r == '\n' || r == '\t' || r == '\\'
	}) {
		if len(w) > 256 {
			continue
		}
		for _, kv := range [][2]string{
			{identity.KindEmail, identity.NormalizeEmail(w)}, {identity.KindUserID, identity.NormalizeID(w)},
			{identity.KindAnonymousID, identity.NormalizeID(w)}, {identity.KindPhone, identity.NormalizePhone(w)},
		} {
			if kv[1] == "" {
				continue
			}
			if _, ok := c.set[c.sum(kv[0], kv[1])]; ok {
				return true
			}
		}
	}
	return false
}

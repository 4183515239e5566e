package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source is a sender of events (a web shop, a till, a mobile app), known by its write key.
type Source struct {
	ID        int64
	Name      string
	Kind      string // a registered SourceKind: "client" or a trusted kind such as "server"
	KeyHint   string
	CreatedAt time.Time
	RotatedAt time.Time // zero: never rotated
	RevokedAt time.Time // zero: the key works
}

// Revoked reports whether the source's key was revoked.
func (s Source) Revoked() bool { return !s.RevokedAt.IsZero() }

// Trusted reports whether the source's events may state verified contact points and
// consent (its key is a secret), see SourceKind.
func (s Source) Trusted() bool { return KindTrusted(s.Kind) }

// SourceKind describes one kind of source. The set is open: connectors register theirs.
type SourceKind struct {
	Name string
	// Trusted kinds hold a secret key (back ends, imports, connectors): contact points
	// and consent they send count as verified. Untrusted kinds (client) ship their key
	// to browsers and apps, so anything they send may come from anyone.
	Trusted bool
	Summary string
}

// Source kinds every build knows.
const (
	KindClient = "client" // browser and mobile SDKs: the key is public (the default)
	KindServer = "server" // back ends, imports, webhooks: the key is a secret
)

var (
	kindsMu sync.RWMutex
	kinds   = map[string]SourceKind{
		KindClient: {Name: KindClient, Trusted: false, Summary: "browser and mobile SDKs; the key is public, so contact points and consent it sends are unverified"},
		KindServer: {Name: KindServer, Trusted: true, Summary: "back ends, imports and webhooks; the key is a secret, so what it sends counts as verified"},
	}
)

// RegisterSourceKind adds a kind (e.g. a shop connector); it panics on a duplicate.
func RegisterSourceKind(k SourceKind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name]; dup || k.Name == "" {
		panic("store: source kind " + strconv.Quote(k.Name) + " registered twice or empty")
	}
	kinds[k.Name] = k
}

// SourceKinds lists the registered kinds by name.
func SourceKinds() []SourceKind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]SourceKind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParseSourceKind checks a kind name ("" is the default, client).
func ParseSourceKind(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return KindClient, nil
	}
	kindsMu.RLock()
	_, ok := kinds[s]
	kindsMu.RUnlock()
	if !ok {
		names := make([]string, 0, len(kinds))
		for _, k := range SourceKinds() {
			names = append(names, k.Name)
		}
		return "", fmt.Errorf("unknown source kind %q (one of %s)", s, strings.Join(names, ", "))
	}
	return s, nil
}

// KindTrusted reports whether sources of kind hold a secret key. Unknown kinds (a
// database written by a newer version) are not trusted.
func KindTrusted(kind string) bool {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return kinds[kind].Trusted
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// HashKey is how write keys and API tokens are stored: only their SHA-256.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// NewKey returns a random secret with a readable prefix.
func NewKey(prefix string) string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// KeyGenerationSetting counts changes to write keys (rotations, revocations, kind
// changes). Collectors in every process compare it, a primary-key read, to drop their
// cached keys within a second of a change made elsewhere (the CLI, another server).
const KeyGenerationSetting = "sources.key_generation"

// KeyGeneration reads KeyGenerationSetting (0 when never changed).
func (db *DB) KeyGeneration(ctx context.Context) (int64, error) {
	v, ok, err := db.Setting(ctx, KeyGenerationSetting)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

func bumpKeyGeneration(ctx context.Context, tx *Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`, KeyGenerationSetting)
	if err != nil {
		return fmt.Errorf("bump key generation: %w", err)
	}
	return nil
}

// CreateSource adds a client source (the default kind) and returns it with its write
// key, which is shown once.
func (db *DB) CreateSource(ctx context.Context, name string) (Source, string, error) {
	return db.CreateSourceKind(ctx, name, KindClient)
}

// CreateSourceKind adds a source of the given kind and returns it with its write key,
// which is shown once.
func (db *DB) CreateSourceKind(ctx context.Context, name, kind string) (Source, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Source{}, "", errors.New("source name is empty")
	}
	kind, err := ParseSourceKind(kind)
	if err != nil {
		return Source{}, "", err
	}
	key := NewKey("wk_")
	src := Source{Name: name, Kind: kind, KeyHint: key[:7], CreatedAt: time.Now().UTC()}
	err = db.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sources WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a source named %q exists already", name)
		}
		return tx.QueryRow(ctx, `INSERT INTO sources (name, kind, key_hash, key_hint, created_at) VALUES (?,?,?,?,?) RETURNING id`,
			name, kind, HashKey(key), src.KeyHint, src.CreatedAt.UnixMilli()).Scan(&src.ID)
	})
	if err != nil {
		return Source{}, "", fmt.Errorf("create source: %w", err)
	}
	return src, key, nil
}

const sourceCols = `id, name, kind, key_hint, created_at, rotated_at, revoked_at`

func scanSource(sc interface{ Scan(...any) error }) (Source, error) {
	var s Source
	var created, rotated, revoked int64
	if err := sc.Scan(&s.ID, &s.Name, &s.Kind, &s.KeyHint, &created, &rotated, &revoked); err != nil {
		return s, err
	}
	s.CreatedAt = time.UnixMilli(created).UTC()
	if rotated > 0 {
		s.RotatedAt = time.UnixMilli(rotated).UTC()
	}
	if revoked > 0 {
		s.RevokedAt = time.UnixMilli(revoked).UTC()
	}
	return s, nil
}

// SourceByKey finds the source a live write key belongs to; a revoked or replaced key
// is ErrNotFound.
func (db *DB) SourceByKey(ctx context.Context, key string) (Source, error) {
	s, err := scanSource(db.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE key_hash = ? AND revoked_at = 0`, HashKey(key)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up write key: %w", err)
	}
	return s, nil
}

// SourceByName finds a source by its name.
func (db *DB) SourceByName(ctx context.Context, name string) (Source, error) {
	s, err := scanSource(db.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("look up source: %w", err)
	}
	return s, nil
}

// EnsureSource returns the named source, creating it as a server source (with a key
// nobody sees) if needed. Importers and the journey engine use it for their own
// sources ("import", "journeys").
func (db *DB) EnsureSource(ctx context.Context, name string) (Source, error) {
	s, err := db.SourceByName(ctx, name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return s, err
	}
	s, _, err = db.CreateSourceKind(ctx, name, KindServer)
	if err != nil {
		// Two processes creating it at once: the other one won.
		if s2, err2 := db.SourceByName(ctx, name); err2 == nil {
			return s2, nil
		}
	}
	return s, err
}

// Sources lists all sources by id.
func (db *DB) Sources(ctx context.Context) ([]Source, error) {
	rows, err := db.Query(ctx, `SELECT `+sourceCols+` FROM sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		s, err := scanSource(rows)
		if err != nil {
			return nil, fmt.Errorf("list sources: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SourceKindsByID maps every source id to its kind, for the event processor.
func (db *DB) SourceKindsByID(ctx context.Context) (map[int64]string, error) {
	rows, err := db.Query(ctx, `SELECT id, kind FROM sources`)
	if err != nil {
		return nil, fmt.Errorf("read source kinds: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var k string
		if err := rows.Scan(&id, &k); err != nil {
			return nil, fmt.Errorf("read source kinds: %w", err)
		}
		out[id] = k
	}
	return out, rows.Err()
}

// KeyChange says what happened to a source's key, for the caller's audit record.
type KeyChange func(ctx context.Context, tx *Tx, src Source) error

// RotateSourceKey gives the named source a new write key and returns it (shown once).
// The old key stops working at once in this process and within a second or two in
// every running collector. A revoked source gets a live key again. record runs in the
// same transaction (the audit entry).
func (db *DB) RotateSourceKey(ctx context.Context, name string, record KeyChange) (Source, string, error) {
	key := NewKey("wk_")
	var src Source
	err := db.Write(ctx, func(tx *Tx) error {
		var err error
		if src, err = scanSource(tx.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE name = ?`, name)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("no source named %q: %w", name, ErrNotFound)
			}
			return err
		}
		now := time.Now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE sources SET key_hash = ?, key_hint = ?, rotated_at = ?, revoked_at = 0 WHERE id = ?`,
			HashKey(key), key[:7], now.UnixMilli(), src.ID); err != nil {
			return err
		}
		src.KeyHint, src.RotatedAt, src.RevokedAt = key[:7], now, time.Time{}
		if err := bumpKeyGeneration(ctx, tx); err != nil {
			return err
		}
		if record != nil {
			return record(ctx, tx, src)
		}
		return nil
	})
	if err != nil {
		return Source{}, "", fmt.Errorf("rotate key: %w", err)
	}
	return src, key, nil
}

// RevokeSourceKey makes the named source's key stop working (401 from every collection
// route). Its events stay; `source rotate` issues a new key.
func (db *DB) RevokeSourceKey(ctx context.Context, name string, record KeyChange) (Source, error) {
	var src Source
	err := db.Write(ctx, func(tx *Tx) error {
		var err error
		if src, err = scanSource(tx.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE name = ?`, name)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("no source named %q: %w", name, ErrNotFound)
			}
			return err
		}
		if src.Revoked() {
			return fmt.Errorf("the key of source %q was revoked already (%s)", name, src.RevokedAt.Format(time.DateTime))
		}
		now := time.Now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE sources SET revoked_at = ? WHERE id = ?`, now.UnixMilli(), src.ID); err != nil {
			return err
		}
		src.RevokedAt = now
		if err := bumpKeyGeneration(ctx, tx); err != nil {
			return err
		}
		if record != nil {
			return record(ctx, tx, src)
		}
		return nil
	})
	if err != nil {
		return Source{}, fmt.Errorf("revoke key: %w", err)
	}
	return src, nil
}

// SetSourceKind changes the named source's kind. Events already processed keep the
// verified or unverified state they were derived with until `omniroi rebuild`.
func (db *DB) SetSourceKind(ctx context.Context, name, kind string, record KeyChange) (Source, error) {
	kind, err := ParseSourceKind(kind)
	if err != nil {
		return Source{}, err
	}
	var src Source
	err = db.Write(ctx, func(tx *Tx) error {
		var err error
		if src, err = scanSource(tx.QueryRow(ctx, `SELECT `+sourceCols+` FROM sources WHERE name = ?`, name)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("no source named %q: %w", name, ErrNotFound)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sources SET kind = ? WHERE id = ?`, kind, src.ID); err != nil {
			return err
		}
		src.Kind = kind
		if err := bumpKeyGeneration(ctx, tx); err != nil {
			return err
		}
		if record != nil {
			return record(ctx, tx, src)
		}
		return nil
	})
	if err != nil {
		return Source{}, fmt.Errorf("set source kind: %w", err)
	}
	return src, nil
}

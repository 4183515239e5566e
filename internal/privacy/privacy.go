// Package privacy serves a person's rights over what the shop holds about them
// (docs/privacy.md):
//
//   - Export (GDPR Art. 15 and 20): one JSON document with the profile, every identity,
//     every raw event (the joined anonymous history included), orders, refunds, consent,
//     messages and journey runs.
//   - Erase (Art. 17): the person's events of every joined identity, every derived row,
//     journey runs and sends, message copies on disk and rejected payloads that name them
//     are deleted, other people's events that mention them are redacted, and the bytes
//     leave the database file (SQLite: secure_delete, VACUUM, WAL truncated; PostgreSQL:
//     VACUUM). Their identifiers go on a suppression list of keyed hashes, so later events
//     for them are dropped at the door (Gate) until they come back with consent.
//   - Retention: old raw events are minimised, old rejected payloads and message copies
//     deleted (RunRetention; `omniroi serve` runs it daily).
//   - Consent signals: events without analytics consent are stored without identifiers
//     (Gate); the per-person consent state is derived by the event processor
//     (identity.CustomerConsent).
package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/store"
)

// Settings the package keeps for itself (not user settings: `omniroi settings` does not
// list them). They share the "privacy." prefix with the declared ones, so the gate reads
// all of them with one range scan.
const (
	keySetting     = "privacy.key"          // hex HMAC key of the suppression list
	versionSetting = "privacy.suppressions" // changes whenever the suppression list changes
)

// ErrNoSubject is returned when a query matches nobody and names no identifier;
// ErrBadQuery when a query's value is not what it claims to be.
var (
	ErrNoSubject = errors.New("no customer or identifier matches")
	ErrBadQuery  = errors.New("bad query")
)

// Query names the person: exactly one of the fields, or Text (an id, email, phone,
// userId or anonymousId, as `omniroi customer show` takes).
type Query struct {
	ID     int64  `json:"id,omitempty"`
	Email  string `json:"email,omitempty"`
	Phone  string `json:"phone,omitempty"`
	UserID string `json:"user_id,omitempty"`
	Text   string `json:"-"`
}

// Subject is everything that identifies one person in the store.
type Subject struct {
	CustomerID int64   // 0 when no customer matched (only mentions of the identifier exist)
	Customers  []int64 // CustomerID and the customers merged into it (journey rows keep old ids)
	UserIDs    []string
	AnonIDs    []string
	Emails     []string
	Phones     []string
	Names      []string // display names and first/last names: for message copies and rejected payloads
	// Shared identifiers (seen with several userIds: a till's anonymousId, a family
	// email) belong to more than this person: they are neither erased nor suppressed.
	Shared int
	shared map[[2]string]bool
}

// kinds lists the subject's identifiers as (kind, value) pairs.
func (s *Subject) identifiers() [][2]string {
	var out [][2]string
	for _, v := range s.UserIDs {
		out = append(out, [2]string{identity.KindUserID, v})
	}
	for _, v := range s.AnonIDs {
		out = append(out, [2]string{identity.KindAnonymousID, v})
	}
	for _, v := range s.Emails {
		out = append(out, [2]string{identity.KindEmail, v})
	}
	for _, v := range s.Phones {
		out = append(out, [2]string{identity.KindPhone, v})
	}
	return out
}

func (s *Subject) add(kind, value string) {
	if s.shared[[2]string{kind, value}] {
		return
	}
	var dst *[]string
	switch kind {
	case identity.KindUserID:
		dst, value = &s.UserIDs, identity.NormalizeID(value)
	case identity.KindAnonymousID:
		dst, value = &s.AnonIDs, identity.NormalizeID(value)
	case identity.KindEmail:
		dst, value = &s.Emails, identity.NormalizeEmail(value)
	case identity.KindPhone:
		dst, value = &s.Phones, identity.NormalizePhone(value)
	case "name":
		dst, value = &s.Names, strings.TrimSpace(value)
	default:
		return
	}
	if value == "" {
		return
	}
	for _, v := range *dst {
		if v == value {
			return
		}
	}
	*dst = append(*dst, value)
}

// Find resolves a query to the person: the customer it matches, with every identifier
// joined to them. A query that matches no customer but is an email, phone or userId still
// names that identifier (its mentions can be exported and erased).
func Find(ctx context.Context, db *store.DB, q Query) (*Subject, error) {
	var cust identity.Customer
	var err error
	s := &Subject{}
	switch {
	case q.ID > 0:
		cust, err = identity.GetCustomer(ctx, db, q.ID)
	case q.Email != "":
		if identity.NormalizeEmail(q.Email) == "" {
			return nil, fmt.Errorf("%w: %q is not an email address", ErrBadQuery, q.Email)
		}
		s.add(identity.KindEmail, q.Email)
		cust, err = lookup(ctx, db, identity.KindEmail, s.Emails[0])
	case q.Phone != "":
		if identity.NormalizePhone(q.Phone) == "" {
			return nil, fmt.Errorf("%w: %q is not a phone number", ErrBadQuery, q.Phone)
		}
		s.add(identity.KindPhone, q.Phone)
		cust, err = lookup(ctx, db, identity.KindPhone, s.Phones[0])
	case q.UserID != "":
		if identity.NormalizeID(q.UserID) == "" {
			return nil, fmt.Errorf("%w: %q is not a user id", ErrBadQuery, q.UserID)
		}
		s.add(identity.KindUserID, q.UserID)
		cust, err = lookup(ctx, db, identity.KindUserID, s.UserIDs[0])
	case strings.TrimSpace(q.Text) != "":
		t := strings.TrimSpace(q.Text)
		cust, err = identity.FindCustomer(ctx, db, t)
		if errors.Is(err, identity.ErrNotFound) {
			if e := identity.NormalizeEmail(t); e != "" {
				s.add(identity.KindEmail, e)
			} else if p := identity.NormalizePhone(t); p != "" && !isDigits(t) {
				s.add(identity.KindPhone, p)
			} else if _, numErr := strconv.ParseInt(t, 10, 64); numErr != nil {
				s.add(identity.KindUserID, t)
			}
		}
	default:
		return nil, fmt.Errorf("%w: say whose data: a customer id, email, phone or user id", ErrBadQuery)
	}
	switch {
	case err == nil:
		if err := s.fill(ctx, db, cust.ID); err != nil {
			return nil, err
		}
	case !errors.Is(err, identity.ErrNotFound):
		return nil, err
	case len(s.identifiers()) == 0:
		return nil, fmt.Errorf("%w %s", ErrNoSubject, q.describe())
	}
	return s, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (q Query) describe() string {
	switch {
	case q.ID > 0:
		return "customer id " + strconv.FormatInt(q.ID, 10)
	case q.Email != "":
		return "that email"
	case q.Phone != "":
		return "that phone"
	case q.UserID != "":
		return "that user id"
	}
	return "the query"
}

func lookup(ctx context.Context, db *store.DB, kind, value string) (identity.Customer, error) {
	var id int64
	err := db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = ? AND value = ?`, kind, value).Scan(&id)
	if err != nil {
		return identity.Customer{}, fmt.Errorf("%s: %w", kind, identity.ErrNotFound)
	}
	return identity.GetCustomer(ctx, db, id)
}

// fill adds the customer, the customers merged into it and all their identifiers.
func (s *Subject) fill(ctx context.Context, db *store.DB, id int64) error {
	s.CustomerID = id
	s.Customers = []int64{id}
	rows, err := db.Query(ctx, `SELECT DISTINCT merged_id FROM customer_merges WHERE survivor_id = ?`, id)
	if err != nil {
		return fmt.Errorf("read merges: %w", err)
	}
	for rows.Next() {
		var m int64
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return err
		}
		if m != id {
			s.Customers = append(s.Customers, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(s.Customers[1:], func(i, j int) bool { return s.Customers[1+i] < s.Customers[1+j] })
	rows, err = db.Query(ctx, `SELECT kind, value, shared FROM identities WHERE customer_id = ? ORDER BY kind, value`, id)
	if err != nil {
		return fmt.Errorf("read identities: %w", err)
	}
	s.shared = map[[2]string]bool{}
	var ids [][2]string
	for rows.Next() {
		var k, v string
		var shared int
		if err := rows.Scan(&k, &v, &shared); err != nil {
			rows.Close()
			return err
		}
		if shared != 0 {
			s.shared[[2]string{k, v}] = true
			s.Shared++
			continue
		}
		ids = append(ids, [2]string{k, v})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, kv := range ids {
		s.add(kv[0], kv[1])
	}
	p, err := identity.Profile(ctx, db, id)
	if err != nil {
		return err
	}
	s.add(identity.KindUserID, p.UserID)
	s.add(identity.KindEmail, p.Email)
	s.add(identity.KindPhone, p.Phone)
	s.add("name", p.Name)
	for _, k := range []string{"first_name", "firstName", "last_name", "lastName", "name"} {
		if raw, ok := p.Traits[k]; ok {
			var v string
			if jsonString(raw, &v) && len(strings.TrimSpace(v)) >= 3 {
				s.add("name", v)
			}
		}
	}
	return nil
}

// ---- keyed hashes ----

// loadKey returns the suppression list's HMAC key, creating it inside tx when create is set.
func loadKey(ctx context.Context, tx *store.Tx, create bool) ([]byte, error) {
	var v string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, keySetting).Scan(&v)
	if err != nil && !create {
		return nil, nil
	}
	if err != nil {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		v = hex.EncodeToString(b[:])
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, keySetting, v); err != nil {
			return nil, fmt.Errorf("create privacy key: %w", err)
		}
	}
	k, err := hex.DecodeString(v)
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("setting %s is not a hex key", keySetting)
	}
	return k, nil
}

// hashID is the suppression list's keyed hash of one normalised identifier. Keyed, so
// the list cannot be checked against a dictionary of addresses without the key, and two
// shops' lists cannot be matched.
func hashID(key []byte, kind, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// digest is one keyed hash over all of a subject's identifiers: the audit log names an
// erasure by it, and whoever holds the key can check that an address was part of it.
func digest(key []byte, s *Subject) string {
	var parts []string
	for _, kv := range s.identifiers() {
		parts = append(parts, hashID(key, kv[0], kv[1]))
	}
	sort.Strings(parts)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, ",")))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// bumpVersion marks the suppression list changed, so every gate reloads it.
func bumpVersion(ctx context.Context, tx *store.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`, versionSetting)
	if err != nil {
		return fmt.Errorf("privacy: suppression list version: %w", err)
	}
	return nil
}

package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/store"
)

// Customer is one row of the customers table.
type Customer struct {
	ID        int64     `json:"id"`
	UserID    string    `json:"user_id,omitempty"`
	Email     string    `json:"email,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	Name      string    `json:"name,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Events    int64     `json:"events"`
}

// Identity is one identifier of a customer.
type Identity struct {
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	FirstSeen time.Time `json:"first_seen"`
	Shared    bool      `json:"shared,omitempty"` // seen with too many userIds: no longer merges
}

// Conflict is a merge the guards refused, or an identifier declared shared.
type Conflict struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"ts"`
	Kind       string    `json:"kind"`
	Value      string    `json:"value"`
	CustomerID int64     `json:"customer_id"`
	OtherID    int64     `json:"other_id,omitempty"`
	UserID     string    `json:"user_id,omitempty"` // the two userIds that clashed, if that was the conflict
	OtherUser  string    `json:"other_user_id,omitempty"`
	Reason     string    `json:"reason"`
}

// Merge is one customer folded into another.
type Merge struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"ts"`
	SurvivorID int64     `json:"survivor_id"`
	MergedID   int64     `json:"merged_id"`
	Kind       string    `json:"kind"`
	Value      string    `json:"value"`
}

// Touchpoint is one activity row.
type Touchpoint struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"ts"`
	Type     string    `json:"type"`
	Name     string    `json:"name,omitempty"`
	Channel  string    `json:"channel"`
	Campaign string    `json:"campaign,omitempty"`
	Source   string    `json:"source,omitempty"`
	Medium   string    `json:"medium,omitempty"`
	SourceID int64     `json:"source_id"`
}

// CustomerProfile is everything known about one customer.
type CustomerProfile struct {
	Customer
	Traits      map[string]json.RawMessage `json:"traits"`
	Identities  []Identity                 `json:"identities"`
	Orders      []commerce.Order           `json:"orders"`
	Refunds     []commerce.Refund          `json:"refunds"`
	Touchpoints []Touchpoint               `json:"touchpoints"`
	Truncated   bool                       `json:"touchpoints_truncated,omitempty"` // only the newest MaxTouchpoints are listed
	Conflicts   []Conflict                 `json:"conflicts"`
	Merges      []Merge                    `json:"merges"`
	// Unverified lists the contact points and consent traits whose current value came
	// from a client source (a public key) and was not confirmed: not messaged, no grant.
	Unverified []string `json:"unverified,omitempty"`
	Groups     []Group  `json:"groups"` // accounts and companies the customer belongs to
	// ConsentSignals is the newest Consent Mode / TCF / consent category signal of their
	// events (privacy_consent.go); nil when none carried one.
	ConsentSignals *ConsentState `json:"consent_signals,omitempty"`
	// TraitOrigins says, per trait, when its current value was stated and by which
	// event (for pages that show where a consent came from).
	TraitOrigins map[string]TraitOrigin `json:"-"`
}

// TraitOrigin is the event that set a trait's current value.
type TraitOrigin struct {
	At  time.Time
	Seq int64
}

// MaxTouchpoints bounds the touchpoints a profile lists.
const MaxTouchpoints = 1000

// ErrNotFound is returned when no customer matches.
var ErrNotFound = store.ErrNotFound

const customerCols = `id, user_id, email, phone, name, first_seen, last_seen, events`

func scanCustomer(sc interface{ Scan(...any) error }) (Customer, error) {
	var c Customer
	var first, last int64
	err := sc.Scan(&c.ID, &c.UserID, &c.Email, &c.Phone, &c.Name, &first, &last, &c.Events)
	c.FirstSeen = time.UnixMilli(first).UTC()
	c.LastSeen = time.UnixMilli(last).UTC()
	return c, err
}

// GetCustomer reads one customer by id.
func GetCustomer(ctx context.Context, db *store.DB, id int64) (Customer, error) {
	c, err := scanCustomer(db.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("customer %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("read customer %d: %w", id, err)
	}
	return c, nil
}

// FindCustomer finds a customer by numeric id, email, phone, userId or anonymousId.
func FindCustomer(ctx context.Context, db *store.DB, query string) (Customer, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return Customer{}, fmt.Errorf("empty customer query: %w", ErrNotFound)
	}
	if n, err := strconv.ParseInt(q, 10, 64); err == nil && n > 0 {
		c, err := GetCustomer(ctx, db, n)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	try := []idKey{{KindUserID, q}}
	if e := NormalizeEmail(q); e != "" {
		try = append(try, idKey{KindEmail, e})
	}
	if ph := NormalizePhone(q); ph != "" {
		try = append(try, idKey{KindPhone, ph})
	}
	try = append(try, idKey{KindAnonymousID, q})
	for _, k := range try {
		var id int64
		err := db.QueryRow(ctx, `SELECT customer_id FROM identities WHERE kind = ? AND value = ?`, k.kind, k.value).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return Customer{}, fmt.Errorf("find customer: %w", err)
		}
		return GetCustomer(ctx, db, id)
	}
	return Customer{}, fmt.Errorf("no customer matches %q: %w", q, ErrNotFound)
}

// Search lists customers whose name, email, phone or userId starts with q (case
// insensitive), or whose id is q, newest activity first.
func Search(ctx context.Context, db *store.DB, q string, limit int) ([]Customer, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	q = strings.ToLower(strings.TrimSpace(q))
	var rows *sql.Rows
	var err error
	if q == "" {
		rows, err = db.Query(ctx, `SELECT `+customerCols+` FROM customers ORDER BY last_seen DESC, id LIMIT ?`, limit)
	} else {
		like := escapeLike(q) + "%"
		where := `LOWER(name) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\' OR LOWER(user_id) LIKE ? ESCAPE '\'`
		args := []any{like, "% " + like, like, like}
		if d := phoneDigits(q); len(d) >= 3 {
			where += ` OR phone LIKE ? OR phone LIKE ?`
			args = append(args, d+"%", "+"+d+"%")
		}
		if id, err := strconv.ParseInt(q, 10, 64); err == nil {
			where += ` OR id = ?`
			args = append(args, id)
		}
		rows, err = db.Query(ctx, `SELECT `+customerCols+` FROM customers WHERE `+where+` ORDER BY last_seen DESC, id LIMIT ?`, append(args, limit)...)
	}
	if err != nil {
		return nil, fmt.Errorf("search customers: %w", err)
	}
	defer rows.Close()
	var out []Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, fmt.Errorf("search customers: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// phoneDigits returns the digits of a search text that looks like (part of) a phone
// number, with a leading 00 dropped; "" otherwise.
func phoneDigits(q string) string {
	var b strings.Builder
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '/' || r == '.':
		default:
			return ""
		}
	}
	return strings.TrimPrefix(b.String(), "00")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Profile reads everything known about customer id.
func Profile(ctx context.Context, db *store.DB, id int64) (CustomerProfile, error) {
	var p CustomerProfile
	var traits string
	var first, last int64
	err := db.QueryRow(ctx, `SELECT `+customerCols+`, traits FROM customers WHERE id = ?`, id).
		Scan(&p.ID, &p.UserID, &p.Email, &p.Phone, &p.Name, &first, &last, &p.Events, &traits)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("customer %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read customer %d: %w", id, err)
	}
	p.FirstSeen, p.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	var tm map[string]trait
	if err := json.Unmarshal([]byte(traits), &tm); err != nil {
		return p, fmt.Errorf("customer %d traits: %w", id, err)
	}
	p.Traits = make(map[string]json.RawMessage, len(tm))
	p.TraitOrigins = make(map[string]TraitOrigin, len(tm))
	for k, v := range tm {
		p.Traits[k] = v.V
		p.TraitOrigins[k] = TraitOrigin{At: time.UnixMilli(v.T).UTC(), Seq: v.S}
	}
	p.Unverified = UnverifiedTraits(traits)
	if p.Groups, err = CustomerGroups(ctx, db, id); err != nil {
		return p, err
	}

	rows, err := db.Query(ctx, `SELECT kind, value, first_seen, shared FROM identities WHERE customer_id = ? ORDER BY first_seen, kind, value`, id)
	if err != nil {
		return p, fmt.Errorf("read identities: %w", err)
	}
	for rows.Next() {
		var i Identity
		var ts int64
		var shared int
		if err := rows.Scan(&i.Kind, &i.Value, &ts, &shared); err != nil {
			rows.Close()
			return p, fmt.Errorf("read identities: %w", err)
		}
		i.FirstSeen, i.Shared = time.UnixMilli(ts).UTC(), shared != 0
		p.Identities = append(p.Identities, i)
	}
	rows.Close()

	if p.Orders, err = commerce.CustomerOrders(ctx, db, id); err != nil {
		return p, err
	}
	if p.Refunds, err = commerce.CustomerRefunds(ctx, db, id); err != nil {
		return p, err
	}
	if p.Touchpoints, err = Touchpoints(ctx, db, id, MaxTouchpoints+1); err != nil {
		return p, err
	}
	if len(p.Touchpoints) > MaxTouchpoints {
		p.Touchpoints, p.Truncated = p.Touchpoints[1:], true
	}
	if p.Conflicts, err = conflicts(ctx, db, `customer_id = ? OR other_id = ?`, id, id); err != nil {
		return p, err
	}
	if st, ok, err := CustomerConsent(ctx, db, id); err != nil {
		return p, err
	} else if ok {
		p.ConsentSignals = &st
	}
	rows, err = db.Query(ctx, `SELECT seq, ts, survivor_id, merged_id, kind, value FROM customer_merges WHERE survivor_id = ? ORDER BY seq, merged_id`, id)
	if err != nil {
		return p, fmt.Errorf("read merges: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Merge
		var ts int64
		if err := rows.Scan(&m.Seq, &ts, &m.SurvivorID, &m.MergedID, &m.Kind, &m.Value); err != nil {
			return p, fmt.Errorf("read merges: %w", err)
		}
		m.Time = time.UnixMilli(ts).UTC()
		p.Merges = append(p.Merges, m)
	}
	return p, rows.Err()
}

// Touchpoints returns the newest limit activity rows of a customer, oldest first.
func Touchpoints(ctx context.Context, db *store.DB, customerID int64, limit int) ([]Touchpoint, error) {
	rows, err := db.Query(ctx, `SELECT seq, ts, type, name, channel, campaign, source, medium, source_id FROM activity
		WHERE customer_id = ? ORDER BY ts DESC, seq DESC LIMIT ?`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("read touchpoints: %w", err)
	}
	defer rows.Close()
	var out []Touchpoint
	for rows.Next() {
		var t Touchpoint
		var ts int64
		if err := rows.Scan(&t.Seq, &ts, &t.Type, &t.Name, &t.Channel, &t.Campaign, &t.Source, &t.Medium, &t.SourceID); err != nil {
			return nil, fmt.Errorf("read touchpoints: %w", err)
		}
		t.Time = time.UnixMilli(ts).UTC()
		out = append(out, t)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// Conflicts lists the newest identity conflicts (limit <= 0: 100).
func Conflicts(ctx context.Context, db *store.DB, limit int) ([]Conflict, error) {
	if limit <= 0 {
		limit = 100
	}
	return conflicts(ctx, db, `1 = 1 ORDER BY seq DESC, id DESC LIMIT ?`, limit)
}

func conflicts(ctx context.Context, db *store.DB, where string, args ...any) ([]Conflict, error) {
	if !strings.Contains(where, "ORDER BY") {
		where += " ORDER BY seq, id"
	}
	rows, err := db.Query(ctx, `SELECT seq, ts, kind, value, customer_id, other_id, user_id, other_user_id, reason FROM identity_conflicts WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read identity conflicts: %w", err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var ts int64
		if err := rows.Scan(&c.Seq, &ts, &c.Kind, &c.Value, &c.CustomerID, &c.OtherID, &c.UserID, &c.OtherUser, &c.Reason); err != nil {
			return nil, fmt.Errorf("read identity conflicts: %w", err)
		}
		c.Time = time.UnixMilli(ts).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// StatsResult counts what the store holds.
type StatsResult struct {
	Events         int64  `json:"events"`
	MaxSeq         int64  `json:"max_seq"`
	ProcessedSeq   int64  `json:"processed_seq"`
	Lag            int64  `json:"processor_lag"` // events not yet processed
	LeaseHolder    string `json:"processor_lease_holder,omitempty"`
	Customers      int64  `json:"customers"`
	Identities     int64  `json:"identities"`
	SharedIDs      int64  `json:"shared_identifiers"`
	Conflicts      int64  `json:"identity_conflicts"`
	Merges         int64  `json:"merges"`
	Activity       int64  `json:"activity"`
	Orders         int64  `json:"orders"`
	Refunds        int64  `json:"refunds"`
	SpendRows      int64  `json:"spend_rows"`
	Sources        int64  `json:"sources"`
	Rejected       int64  `json:"rejected_events"`
	Unidentified   int64  `json:"unidentified_events"` // events with no usable identifier (no customer)
	SkippedOrders  int64  `json:"skipped_orders"`      // order/refund events that could not be read
	DatabaseDriver string `json:"database"`
}

// Stats counts events, customers, identities, orders and the processor's lag.
func Stats(ctx context.Context, db *store.DB) (StatsResult, error) {
	s := StatsResult{DatabaseDriver: string(db.Dialect)}
	for _, c := range []struct {
		dst *int64
		q   string
	}{
		{&s.Events, `SELECT COUNT(*) FROM events`},
		{&s.MaxSeq, `SELECT COALESCE(MAX(seq), 0) FROM events`},
		{&s.Customers, `SELECT COUNT(*) FROM customers`},
		{&s.Identities, `SELECT COUNT(*) FROM identities`},
		{&s.SharedIDs, `SELECT COUNT(*) FROM identities WHERE shared = 1`},
		{&s.Conflicts, `SELECT COUNT(*) FROM identity_conflicts`},
		{&s.Merges, `SELECT COUNT(*) FROM customer_merges`},
		{&s.Activity, `SELECT COUNT(*) FROM activity`},
		{&s.Orders, `SELECT COUNT(*) FROM orders`},
		{&s.Refunds, `SELECT COUNT(*) FROM refunds`},
		{&s.SpendRows, `SELECT COUNT(*) FROM spend`},
		{&s.Sources, `SELECT COUNT(*) FROM sources`},
		{&s.Rejected, `SELECT COUNT(*) FROM rejected_events`},
	} {
		if err := db.QueryRow(ctx, c.q).Scan(c.dst); err != nil {
			return s, fmt.Errorf("stats: %s: %w", c.q, err)
		}
	}
	var err error
	if s.ProcessedSeq, err = settingInt(ctx, db, CursorSetting); err != nil {
		return s, err
	}
	if s.Unidentified, err = settingInt(ctx, db, UnidentifiedSetting); err != nil {
		return s, err
	}
	if s.SkippedOrders, err = settingInt(ctx, db, BadOrdersSetting); err != nil {
		return s, err
	}
	s.Lag = max(s.MaxSeq-s.ProcessedSeq, 0)
	var owner string
	var exp int64
	err = db.QueryRow(ctx, `SELECT owner, expires_at FROM leases WHERE name = ?`, LeaseName).Scan(&owner, &exp)
	if err == nil && exp > time.Now().UnixMilli() {
		s.LeaseHolder = owner
	} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("stats: lease: %w", err)
	}
	return s, nil
}

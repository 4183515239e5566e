// Package workspace is the one accessor for the business's settings: currency, time zone,
// shop URL and the limits and switches other domains add. Each key is declared once (name,
// meaning, default, validation) with Register, in the file of the domain that reads it;
// `omniroi settings`, the API and the dashboard list, read and change them through here.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/store"
)

// Key declares one setting.
type Key struct {
	Name    string // stored under this name in the settings table
	Summary string // one line for `omniroi settings list` and the dashboard
	Default string // what Get returns when the key is unset
	// Check validates and normalises a new value ("" is never passed: unsetting is Reset).
	Check func(v string) (string, error)
	// Group orders the listing: "business", "security", "privacy", "journeys", ...
	Group string
}

var (
	mu   sync.RWMutex
	keys = map[string]Key{}
)

// Register declares k; it panics on a duplicate name (a programming error found at start).
// Call it from a package-level var in the file that reads the key.
func Register(k Key) Key {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := keys[k.Name]; dup {
		panic("workspace: setting " + k.Name + " registered twice")
	}
	if k.Check == nil {
		k.Check = func(v string) (string, error) { return v, nil }
	}
	keys[k.Name] = k
	return k
}

// Keys lists the declared settings by group, then name.
func Keys() []Key {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup finds a declared key.
func Lookup(name string) (Key, bool) {
	mu.RLock()
	defer mu.RUnlock()
	k, ok := keys[name]
	return k, ok
}

// Value is a setting as listed: its value and whether it was set or is the default.
type Value struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Default string `json:"default"`
	IsSet   bool   `json:"set"`
	Summary string `json:"summary"`
	Group   string `json:"group"`
}

// Get reads a declared setting, or its default when unset. A stored value that no longer
// passes its check (written by an older version) reads as the default.
func Get(ctx context.Context, db *store.DB, name string) (string, error) {
	v, err := get(ctx, db, name)
	return v.Value, err
}

func get(ctx context.Context, db *store.DB, name string) (Value, error) {
	k, ok := Lookup(name)
	if !ok {
		return Value{}, fmt.Errorf("unknown setting %q (omniroi settings list shows them)", name)
	}
	out := Value{Name: name, Value: k.Default, Default: k.Default, Summary: k.Summary, Group: k.Group}
	v, set, err := db.Setting(ctx, name)
	if err != nil {
		return out, err
	}
	if set && v != "" {
		if nv, err := k.Check(v); err == nil {
			out.Value, out.IsSet = nv, true
		}
	}
	return out, nil
}

// All lists every declared setting with its current value.
func All(ctx context.Context, db *store.DB) ([]Value, error) {
	var out []Value
	for _, k := range Keys() {
		v, err := get(ctx, db, k.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// RefusedError is a value a setting's check refused: the caller's to correct, not a
// failure of the store. Its text names the setting and says what is wrong in words.
type RefusedError struct {
	Name string
	Err  error
}

func (e *RefusedError) Error() string { return "setting " + e.Name + ": " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Set validates and stores a setting, and records who changed it in the audit log.
func Set(ctx context.Context, db *store.DB, actor, name, value string) (string, error) {
	k, ok := Lookup(name)
	if !ok {
		return "", fmt.Errorf("unknown setting %q (omniroi settings list shows them)", name)
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return "", &RefusedError{Name: name, Err: errors.New("empty value (use reset to go back to the default)")}
	}
	nv, err := k.Check(value)
	if err != nil {
		return "", &RefusedError{Name: name, Err: err}
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, name, nv); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "settings.set", Target: "setting:" + name, Detail: map[string]any{"value": nv}})
	})
	return nv, err
}

// Reset removes a setting so that its default applies again.
func Reset(ctx context.Context, db *store.DB, actor, name string) error {
	if _, ok := Lookup(name); !ok {
		return fmt.Errorf("unknown setting %q (omniroi settings list shows them)", name)
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM settings WHERE key = ?`, name); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "settings.reset", Target: "setting:" + name})
	})
}

// Int reads an integer setting.
func Int(ctx context.Context, db *store.DB, name string) (int64, error) {
	v, err := Get(ctx, db, name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// Duration reads a duration setting ("24h", "30d").
func Duration(ctx context.Context, db *store.DB, name string) (time.Duration, error) {
	v, err := Get(ctx, db, name)
	if err != nil {
		return 0, err
	}
	return ParseDuration(v)
}

// Bool reads a boolean setting.
func Bool(ctx context.Context, db *store.DB, name string) (bool, error) {
	v, err := Get(ctx, db, name)
	if err != nil {
		return false, err
	}
	return strconv.ParseBool(v)
}

// ParseDuration is time.ParseDuration plus whole days ("30d"); "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (like 24h or 30d)", s)
	}
	return d, nil
}

// CheckInt accepts integers in [lo, hi].
func CheckInt(lo, hi int64) func(string) (string, error) {
	return func(v string) (string, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return "", fmt.Errorf("%q is not a whole number from %d to %d", v, lo, hi)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

// CheckDuration accepts durations (ParseDuration) in [lo, hi].
func CheckDuration(lo, hi time.Duration) func(string) (string, error) {
	return func(v string) (string, error) {
		d, err := ParseDuration(v)
		if err != nil {
			return "", err
		}
		if d < lo || d > hi {
			return "", fmt.Errorf("%s is outside %s to %s", v, lo, hi)
		}
		return v, nil
	}
}

// CheckBool accepts true/false (and 1/0, yes/no).
func CheckBool(v string) (string, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return "true", nil
	case "false", "0", "no", "off":
		return "false", nil
	}
	return "", fmt.Errorf("%q is not true or false", v)
}

// Version identifies the values of every declared setting: it changes when any of them
// is set or reset. Caches of reports that depend on settings (currency, time zone,
// margins, message costs) include it in their key, so a change recomputes them.
func Version(ctx context.Context, db *store.DB) (string, error) {
	rows, err := db.Query(ctx, `SELECT key, value FROM settings ORDER BY key`)
	if err != nil {
		return "", fmt.Errorf("read settings: %w", err)
	}
	defer rows.Close()
	h := fnv.New64a()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", fmt.Errorf("read settings: %w", err)
		}
		if _, ok := Lookup(k); !ok {
			continue // processor cursors and other internal state
		}
		fmt.Fprintf(h, "%s=%s\x00", k, v)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read settings: %w", err)
	}
	return strconv.FormatUint(h.Sum64(), 36), nil
}

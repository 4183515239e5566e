package recommend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/omniroi/omniroi/internal/store"
)

// PersonalisationTraits are the traits that state a person's choice about personalisation:
// `consent.personalisation` (either spelling) as a trait of its own, or a
// `personalisation` key inside the `consent` object ({"consent":{"personalisation":false}}).
var PersonalisationTraits = []string{"personalisation", "personalization"}

// Personalised is the one check of the personalisation consent, used wherever
// recommendations and next best actions appear (web API, messages, CLI, dashboard).
// traits is the customer's stored traits ({"trait":{"v":value,"u":unverified}}).
// A refusal always counts, whoever sent it: anyone may ask for less. A grant counts only
// when verified (a server source or a confirmed address), since a public write key may
// come from anyone. Without a stated choice, def decides
// (recommend.personalisation_default).
func Personalised(traits string, def bool) bool {
	var raw map[string]struct {
		V json.RawMessage `json:"v"`
		U bool            `json:"u"`
	}
	if json.Unmarshal([]byte(traits), &raw) != nil {
		return def
	}
	decided, granted := false, false
	note := func(v any, unverified bool) {
		g, ok := choice(v)
		if !ok {
			return
		}
		if !g {
			decided, granted = true, false
			return
		}
		if !unverified && !decided {
			decided, granted = true, true
		}
	}
	for _, name := range PersonalisationTraits {
		if t, ok := raw["consent."+name]; ok {
			var v any
			_ = json.Unmarshal(t.V, &v)
			note(v, t.U)
		}
	}
	if t, ok := raw["consent"]; ok {
		var m map[string]any
		if json.Unmarshal(t.V, &m) == nil {
			for _, name := range PersonalisationTraits {
				if v, ok := m[name]; ok {
					note(v, t.U)
				}
			}
		}
	}
	if !decided {
		return def
	}
	return granted
}

// choice reads a consent value: a boolean, "granted"/"denied"-like words, or an object
// whose values all grant (any refusal refuses).
func choice(v any) (granted, ok bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch t {
		case "true", "yes", "granted", "opt_in", "on":
			return true, true
		case "false", "no", "denied", "opt_out", "off":
			return false, true
		}
	case float64:
		return t != 0, true
	case map[string]any:
		if len(t) == 0 {
			return false, false
		}
		for _, x := range t {
			if g, ok := choice(x); ok && !g {
				return false, true
			}
		}
		return true, true
	}
	return false, false
}

// CustomerPersonalised reads one customer's traits and applies Personalised.
func CustomerPersonalised(ctx context.Context, db *store.DB, customerID int64, def bool) (bool, error) {
	var traits string
	err := db.QueryRow(ctx, `SELECT traits FROM customers WHERE id = ?`, customerID).Scan(&traits)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	if err != nil {
		return false, fmt.Errorf("customer %d: %w", customerID, err)
	}
	return Personalised(traits, def), nil
}

package journey

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// CostChannels are the channels a message cost can be set for: those of the
// journeys.cost.* settings.
func CostChannels() []string {
	out := make([]string, 0, len(workspace.MessageCostKeys))
	for ch := range workspace.MessageCostKeys {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
}

// JourneyCosts are a journey's own message costs, by channel, in the business currency
// as written (major units, e.g. "0.07"); a channel not listed costs what its
// journeys.cost.* setting says.
func JourneyCosts(ctx context.Context, db *store.DB, journey string) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT channel, cost FROM journey_costs WHERE journey = ?`, journey)
	if err != nil {
		return nil, fmt.Errorf("journey costs: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ch, v string
		if err := rows.Scan(&ch, &v); err != nil {
			return nil, err
		}
		out[ch] = v
	}
	return out, rows.Err()
}

// SetJourneyCost sets what one message on channel costs in this journey (value in the
// business currency, checked as the journeys.cost.* settings are), or with value ""
// returns the channel to its setting. Recorded in the audit log as done by
// audit.ActorFrom(ctx).
func SetJourneyCost(ctx context.Context, db *store.DB, journey, channel, value string) error {
	k, ok := workspace.MessageCostKeys[channel]
	if !ok {
		return fmt.Errorf("no message cost for channel %q (one of %v)", channel, CostChannels())
	}
	if value != "" {
		v, err := k.Check(value)
		if err != nil {
			return err
		}
		value = v
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM journeys WHERE name = ?`, journey).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("journey %s: %w", journey, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM journey_costs WHERE journey = ? AND channel = ?`, journey, channel); err != nil {
			return err
		}
		if value != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO journey_costs (journey, channel, cost) VALUES (?, ?, ?)`, journey, channel, value); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "journey.cost", Target: "journey:" + journey,
			Detail: map[string]any{"channel": channel, "cost": value}})
	})
}

// journeyUnitCosts overlays a journey's own costs on the settings' (unit, in minor units
// of cur): ok reports whether the journey has any.
func journeyUnitCosts(ctx context.Context, db *store.DB, journey, cur string, unit map[string]float64) (bool, error) {
	own, err := JourneyCosts(ctx, db, journey)
	if err != nil || len(own) == 0 {
		return false, err
	}
	scale := math.Pow10(money.Exponent(cur))
	for ch, v := range own {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false, fmt.Errorf("journey %s cost %s: %w", journey, ch, err)
		}
		unit[ch] = f * scale
	}
	return true, nil
}

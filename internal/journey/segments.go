package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/omniroi/omniroi/internal/store"
)

// SegmentThresholds lists the P(alive) thresholds enabled journeys enter on
// (entry p_alive_below), so the value engine's segment feed records every crossing of
// them (value.FeedOptions.Thresholds).
func SegmentThresholds(ctx context.Context, db *store.DB) ([]float64, error) {
	rows, err := db.Query(ctx, `SELECT plan FROM journeys WHERE enabled = 1`)
	if err != nil {
		return nil, fmt.Errorf("journey thresholds: %w", err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var pj string
		if err := rows.Scan(&pj); err != nil {
			return nil, fmt.Errorf("journey thresholds: %w", err)
		}
		var p Plan
		if json.Unmarshal([]byte(pj), &p) != nil {
			continue
		}
		if p.Entry.Kind == "segment" && p.Entry.PAliveBelow > 0 && !slices.Contains(out, p.Entry.PAliveBelow) {
			out = append(out, p.Entry.PAliveBelow)
		}
	}
	slices.Sort(out)
	return out, rows.Err()
}

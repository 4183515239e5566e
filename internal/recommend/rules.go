package recommend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
)

// ListProductRules reads the pins and blocks.
func ListProductRules(ctx context.Context, db *store.DB) ([]ProductRule, error) {
	rows, err := db.Query(ctx, `SELECT product_id, placement, rule FROM product_rules ORDER BY placement, product_id`)
	if err != nil {
		return nil, fmt.Errorf("read product rules: %w", err)
	}
	defer rows.Close()
	var out []ProductRule
	for rows.Next() {
		var r ProductRule
		if err := rows.Scan(&r.ProductID, &r.Placement, &r.Rule); err != nil {
			return nil, fmt.Errorf("read product rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetProductRule pins or blocks a product in a placement ("" everywhere), replacing the
// product's rule there; record runs in the same transaction (the audit entry).
func SetProductRule(ctx context.Context, db *store.DB, r ProductRule, record func(ctx context.Context, tx *store.Tx) error) error {
	r.ProductID = strings.TrimSpace(r.ProductID)
	if r.ProductID == "" {
		return fmt.Errorf("no product id")
	}
	if r.Rule != RulePin && r.Rule != RuleBlock {
		return fmt.Errorf("rule %q: pin or block", r.Rule)
	}
	if _, ok := Placements[r.Placement]; !ok && r.Placement != "" {
		return fmt.Errorf("placement %q: one of %s, or none for every placement", r.Placement, strings.Join(placementNames(), ", "))
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO product_rules (product_id, placement, rule, created_at) VALUES (?,?,?,?)
			ON CONFLICT (product_id, placement) DO UPDATE SET rule = excluded.rule, created_at = excluded.created_at`,
			r.ProductID, r.Placement, r.Rule, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("write product rule: %w", err)
		}
		if record != nil {
			return record(ctx, tx)
		}
		return nil
	})
}

// DeleteProductRule removes a product's rule in a placement; it reports whether one was there.
func DeleteProductRule(ctx context.Context, db *store.DB, productID, placement string, record func(ctx context.Context, tx *store.Tx) error) (bool, error) {
	var n int64
	err := db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM product_rules WHERE product_id = ? AND placement = ?`, productID, placement)
		if err != nil {
			return fmt.Errorf("delete product rule: %w", err)
		}
		n, _ = res.RowsAffected()
		if n > 0 && record != nil {
			return record(ctx, tx)
		}
		return nil
	})
	return n > 0, err
}

func placementNames() []string {
	out := make([]string, 0, len(Placements))
	for p := range Placements {
		out = append(out, p)
	}
	sortStrings(out)
	return out
}

package pathstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/omniroi/omniroi/internal/store"
)

// EraseCustomers removes every touch and order of the given customers (an erasure, in
// its transaction) and returns how many entries went. Other customers' entries, their
// first-order flags included, do not depend on them.
func EraseCustomers(ctx context.Context, tx *store.Tx, cids []int64) (int64, error) {
	gone := map[int64]bool{}
	blocks := map[int64]bool{}
	for _, c := range cids {
		gone[c] = true
		blocks[BlockOf(c)] = true
	}
	bl := make([]int64, 0, len(blocks))
	for b := range blocks {
		bl = append(bl, b)
	}
	slices.Sort(bl)
	var n int64
	for _, b := range bl {
		type stored struct {
			day  int64
			data []byte
		}
		var all []stored
		rows, err := tx.Query(ctx, `SELECT day, data FROM paths WHERE block = ? ORDER BY day`, b)
		if err != nil {
			return n, fmt.Errorf("paths: erase: %w", err)
		}
		for rows.Next() {
			var s stored
			if err := rows.Scan(&s.day, &s.data); err != nil {
				rows.Close()
				return n, fmt.Errorf("paths: erase: %w", err)
			}
			all = append(all, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("paths: erase: %w", err)
		}
		for _, s := range all {
			r, err := DecodeRow(b, s.day, s.data)
			if err != nil {
				return n, err
			}
			before := len(r.Touches) + len(r.Orders)
			r.Touches = slices.DeleteFunc(r.Touches, func(t Touch) bool { return gone[t.Customer] })
			r.Orders = slices.DeleteFunc(r.Orders, func(o Order) bool { return gone[o.Customer] })
			if d := before - len(r.Touches) - len(r.Orders); d > 0 {
				n += int64(d)
				if err := putRow(ctx, tx, &r, s.data); err != nil {
					return n, err
				}
			}
		}
	}
	return n, nil
}

// CustomerEntries returns a customer's touches and orders (an export of what the table
// holds about them).
func CustomerEntries(ctx context.Context, db *store.DB, cid int64) ([]Touch, []Order, error) {
	rows, err := db.Query(ctx, `SELECT day, data FROM paths WHERE block = ? ORDER BY day`, BlockOf(cid))
	if err != nil {
		return nil, nil, fmt.Errorf("paths: export: %w", err)
	}
	defer rows.Close()
	var ts []Touch
	var os []Order
	for rows.Next() {
		var day int64
		var data []byte
		if err := rows.Scan(&day, &data); err != nil {
			return nil, nil, fmt.Errorf("paths: export: %w", err)
		}
		r, err := DecodeRow(BlockOf(cid), day, data)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range r.Touches {
			if t.Customer == cid {
				ts = append(ts, t)
			}
		}
		for _, o := range r.Orders {
			if o.Customer == cid {
				os = append(os, o)
			}
		}
	}
	return ts, os, rows.Err()
}

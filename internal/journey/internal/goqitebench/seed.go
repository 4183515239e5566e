package goqitebench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// seed writes n customers with their identities and one "Product Added" event each, as
// the identity processor would leave them (the same rows journey.Bench seeds). Not timed.
func seed(ctx context.Context, db *store.DB, n int) error {
	src, err := db.EnsureSource(ctx, "bench")
	if err != nil {
		return err
	}
	now := time.Now()
	const chunk = 200
	for start := 1; start <= n; start += chunk {
		end := min(start+chunk, n+1)
		var evs []event.Event
		var cust, ids strings.Builder
		var cargs, iargs []any
		for i := start; i < end; i++ {
			uid := "bench-" + strconv.Itoa(i)
			email := "c" + strconv.Itoa(i) + "@bench.invalid"
			if cust.Len() > 0 {
				cust.WriteByte(',')
				ids.WriteByte(',')
			}
			cust.WriteString("(?, 0, 0, ?, ?, '', ?, ?)")
			cargs = append(cargs, i, uid, email, "Bench Customer", `{"consent.email.marketing":{"v":true,"t":0,"s":0},"firstName":{"v":"Bea","t":0,"s":0}}`)
			ids.WriteString("('user_id', ?, ?, 0, 0),('email', ?, ?, 0, 0)")
			iargs = append(iargs, uid, i, email, i)
			body, _ := json.Marshal(map[string]any{"type": "track", "event": "Product Added", "userId": uid, "messageId": "b" + strconv.Itoa(i),
				"timestamp": event.FormatTime(now), "properties": map[string]any{"cart_id": "cart-" + strconv.Itoa(i), "name": "Rye loaf"}})
			ev, err := event.Normalize(body, "", now, now)
			if err != nil {
				return err
			}
			ev.SourceID = src.ID
			evs = append(evs, ev)
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO customers (id, first_seen, last_seen, user_id, email, phone, name, traits) VALUES `+cust.String(), cargs...); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO identities (kind, value, customer_id, first_seen, seq) VALUES `+ids.String(), iargs...); err != nil {
				return err
			}
			if err := store.LockEventLog(ctx, tx); err != nil {
				return err
			}
			_, err := store.InsertEvents(ctx, tx, evs)
			return err
		})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

package journey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// defaultBusiness names the shop in messages when the business_name setting is empty.
const defaultBusiness = "our shop"

// businessName is the name messages give the shop: the business_name setting, else
// defaultBusiness.
func businessName(ctx context.Context, db *store.DB) (string, error) {
	v, err := workspace.Get(ctx, db, workspace.BusinessNameKey.Name)
	if err != nil || v == "" {
		return defaultBusiness, err
	}
	return v, nil
}

// Preview is a step's message as one customer would receive it.
type Preview struct {
	Journey    string   `json:"journey"`
	Version    int      `json:"version"`
	Step       int      `json:"step"`
	CustomerID int64    `json:"customer_id"`
	To         string   `json:"to"`         // the address it would go to ("" when the customer has none)
	EventFrom  string   `json:"event_from"` // where the entry event's values came from, in words
	Message    *Message `json:"message"`    // subject, text and HTML (email), text (SMS), title and text (push)
	Channels   []string `json:"channels"`   // the step's channels; Message is the first's
}

// PreviewStep renders step (0-based) of a journey's latest version for a customer with
// the engine's own renderer: the customer's profile, the entry event of their latest run
// of the journey (without one, an empty event: templates fall back to their defaults),
// the business name and shop URL. Links are shown as written, not click-tracked, and no
// recommendations are filled in. Nothing is sent or recorded.
func PreviewStep(ctx context.Context, db *store.DB, name string, step int, customerID int64) (*Preview, error) {
	d, err := Show(ctx, db, name)
	if err != nil {
		return nil, err
	}
	if step < 0 || step >= len(d.Plan.Nodes) || d.Plan.Nodes[step].Send == nil {
		return nil, fmt.Errorf("step %d of journey %s sends no message: %w", step+1, name, ErrNotFound)
	}
	a := d.Plan.Nodes[step].Send
	pv := &Preview{Journey: name, Version: d.Version, Step: step, CustomerID: customerID}
	for _, o := range append([]Action{*a}, a.Options...) {
		if o.Channel != "best" {
			pv.Channels = append(pv.Channels, o.Channel)
		}
	}
	if a.Channel == "best" && len(a.Options) > 0 {
		a = &a.Options[0]
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM customers WHERE id = ?`, customerID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("customer %d: %w", customerID, ErrNotFound)
	}
	prof, err := loadProfile(ctx, db, customerID)
	if err != nil {
		return nil, err
	}
	entry := map[string]any{}
	var props string
	err = db.QueryRow(ctx, `SELECT entry_props FROM journey_runs WHERE journey = ? AND customer_id = ? ORDER BY id DESC LIMIT 1`, name, customerID).Scan(&props)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		pv.EventFrom = "This customer has not entered the journey: the message shows without the entry event's values (a product name, a cart link), as the template's fallbacks."
	case err != nil:
		return nil, err
	default:
		_ = json.Unmarshal([]byte(props), &entry)
		pv.EventFrom = "The entry event's values are those of this customer's latest run of the journey."
	}
	biz, err := businessName(ctx, db)
	if err != nil {
		return nil, err
	}
	shop, err := workspace.ShopURL(ctx, db)
	if err != nil {
		return nil, err
	}
	data := &renderData{Profile: *prof, Event: entry, Journey: name, Business: biz, ShopURL: trimSlash(shop), Now: event.FormatTime(time.Now())}
	msg, err := render(a, data, nil)
	if err != nil {
		return nil, fmt.Errorf("preview of step %d: %w", step+1, err)
	}
	pv.Message, pv.To = msg, address(prof, a)
	return pv, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

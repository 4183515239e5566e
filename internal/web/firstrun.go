package web

import (
	"context"
	"fmt"

	"github.com/omniroi/omniroi/internal/workspace"
)

// setupStep is one line of the first-run checklist.
type setupStep struct {
	Label, Href, Link, Hint string
	Done                    bool
}

// firstRun is the checklist the Overview shows while the store holds no order: the
// business settings, a source (website snippet or shop connector), then orders and ad
// costs (an upload or the connector's first webhook).
func (s *server) firstRun(ctx context.Context, p *page) ([]setupStep, error) {
	var orders int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM orders LIMIT 1) o`).Scan(&orders); err != nil {
		return nil, fmt.Errorf("first run: %w", err)
	}
	if orders > 0 {
		return nil, nil
	}
	_, curSet, err := s.db.Setting(ctx, workspace.CurrencyKey.Name)
	if err != nil {
		return nil, err
	}
	_, tzSet, err := s.db.Setting(ctx, workspace.TimeZoneKey.Name)
	if err != nil {
		return nil, err
	}
	srcs, err := s.db.Sources(ctx)
	if err != nil {
		return nil, err
	}
	sources := 0
	for _, x := range srcs {
		if x.Name != "journeys" { // the journey engine's own
			sources++
		}
	}
	var spend int
	if ok, err := s.hasTable(ctx, "spend"); err == nil && ok {
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM spend LIMIT 1) x`).Scan(&spend); err != nil {
			return nil, fmt.Errorf("first run: %w", err)
		}
	}
	tz := p.Range.Loc.String()
	return []setupStep{
		{Label: "Set your currency and time zone", Href: "/settings", Link: "Settings", Done: curSet && tzSet,
			Hint: "Reports are in " + p.Currency + " and days end at midnight " + tz + " until you change them."},
		{Label: "Connect your website or shop", Href: "/sources", Link: "Sources", Done: sources > 0,
			Hint: "A website source gives you the snippet to paste; a Shopify or WooCommerce connector gives you the webhook URL."},
		{Label: "Bring in your orders", Href: "/sources#upload", Link: "Upload an orders export", Done: false,
			Hint: "Or let the shop connector send them as they happen."},
		{Label: "Bring in your ad costs", Href: "/sources#upload", Link: "Upload a cost report", Done: spend > 0,
			Hint: "Google Ads and Meta Ads reports are read as exported."},
	}, nil
}

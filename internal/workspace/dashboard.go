package workspace

import (
	"context"

	"github.com/omniroi/omniroi/internal/store"
)

// DashboardURLKey is where people reach the dashboard. Invitation links point there;
// unset, the dashboard builds them from the address the inviting browser used, and
// `omniroi user invite` needs --public-url.
var DashboardURLKey = Register(Key{Name: "dashboard_url", Group: "dashboard", Default: "",
	Summary: "where people reach the dashboard (https://...): invitation links point there",
	Check:   checkURL})

// DashboardURL is the dashboard's address without a trailing slash, "" when unset.
func DashboardURL(ctx context.Context, db *store.DB) (string, error) {
	return Get(ctx, db, DashboardURLKey.Name)
}

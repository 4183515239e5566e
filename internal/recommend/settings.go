package recommend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Settings of the recommendations (`omniroi settings list`, group "recommendations").
var (
	minSupportKey = workspace.Register(workspace.Key{Name: "recommend.min_support", Group: "recommendations", Default: "3",
		Summary: `"bought together" and "similar" need at least this many customers behind a pair`,
		Check:   workspace.CheckInt(1, 1000)})
	popularDaysKey = workspace.Register(workspace.Key{Name: "recommend.popular_days", Group: "recommendations", Default: "90",
		Summary: `"popular" counts the customers who bought each product in this many days`,
		Check:   workspace.CheckInt(1, 3650)})
	minMarginKey = workspace.Register(workspace.Key{Name: "recommend.min_margin_percent", Group: "recommendations", Default: "0",
		Summary: "products whose margin ((price − cost) / price, where the cost is known) is below this percentage are never recommended",
		Check:   workspace.CheckInt(0, 100)})
	maxPerCategoryKey = workspace.Register(workspace.Key{Name: "recommend.max_per_category", Group: "recommendations", Default: "2",
		Summary: "diversity: at most this many products of one category in a list while others are left",
		Check:   workspace.CheckInt(1, 100)})
	replenishKey = workspace.Register(workspace.Key{Name: "recommend.replenishable_categories", Group: "recommendations", Default: "",
		Summary: "categories bought again and again (bread, coffee): recommended even to customers who bought them (comma-separated)"})
	personalDefaultKey = workspace.Register(workspace.Key{Name: "recommend.personalisation_default", Group: "recommendations", Default: "true",
		Summary: "whether a person who has said nothing is personalised (true: opt-out; false: only those who opted in)",
		Check:   workspace.CheckBool})
	refreshKey = workspace.Register(workspace.Key{Name: "recommend.refresh", Group: "recommendations", Default: "1m",
		Summary: "the recommendation model is rebuilt when data changed, at most this often",
		Check:   workspace.CheckDuration(time.Second, 24*time.Hour)})
	userHashKey = workspace.Register(workspace.Key{Name: "recommend.user_hash_secret", Group: "recommendations", Default: "",
		Summary: "secret your back end signs userIds with (userHash = hex HMAC-SHA256 of the userId) so web pages may ask for that user's recommendations; unset: userId requests are not personalised",
	})
)

// Rules are the business rules every list follows, read from the settings.
type Rules struct {
	MinSupport     int
	PopularDays    int
	MinMargin      float64 // share, 0..1
	MaxPerCategory int
	Replenishable  map[string]bool // lower-cased categories
	DefaultConsent bool
	Refresh        time.Duration
	UserHashSecret string
	ShopHosts      []string // the shop's own domains (ShopHosts)
}

// LoadRules reads the settings.
func LoadRules(ctx context.Context, db *store.DB) (Rules, error) {
	r := Rules{Replenishable: map[string]bool{}}
	var err error
	get := func(k workspace.Key) int {
		if err != nil {
			return 0
		}
		var n int64
		n, err = workspace.Int(ctx, db, k.Name)
		return int(n)
	}
	r.MinSupport = get(minSupportKey)
	r.PopularDays = get(popularDaysKey)
	r.MinMargin = float64(get(minMarginKey)) / 100
	r.MaxPerCategory = get(maxPerCategoryKey)
	if err != nil {
		return r, fmt.Errorf("recommendation settings: %w", err)
	}
	v, err := workspace.Get(ctx, db, replenishKey.Name)
	if err != nil {
		return r, err
	}
	for _, c := range workspace.SplitList(v) {
		r.Replenishable[strings.ToLower(c)] = true
	}
	if r.DefaultConsent, err = workspace.Bool(ctx, db, personalDefaultKey.Name); err != nil {
		return r, err
	}
	if r.Refresh, err = workspace.Duration(ctx, db, refreshKey.Name); err != nil {
		return r, err
	}
	if r.UserHashSecret, err = workspace.Get(ctx, db, userHashKey.Name); err != nil {
		return r, err
	}
	if r.ShopHosts, err = ShopHosts(ctx, db); err != nil {
		return r, err
	}
	return r, nil
}

// DefaultRules are the settings' defaults (tests, evaluation).
func DefaultRules() Rules {
	return Rules{MinSupport: 3, PopularDays: 90, MaxPerCategory: 2, Replenishable: map[string]bool{}, DefaultConsent: true, Refresh: time.Minute}
}

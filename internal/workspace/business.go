package workspace

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// The business's own settings. The names are those the store has always used.
var (
	CurrencyKey = Register(Key{Name: "currency", Group: "business", Default: "EUR",
		Summary: "business currency (ISO 4217): reports are in it",
		Check:   money.NormalizeCurrency})
	TimeZoneKey = Register(Key{Name: "timezone", Group: "business", Default: "UTC",
		Summary: "business time zone (IANA name, e.g. Europe/Berlin): days and hours in reports are local to it",
		Check: func(v string) (string, error) {
			if _, err := time.LoadLocation(v); err != nil {
				return "", fmt.Errorf("%q is not a time zone name (like Europe/Berlin or America/New_York)", v)
			}
			return v, nil
		}})
	ShopURLKey = Register(Key{Name: "shop_url", Group: "business", Default: "",
		Summary: "the shop's website (https://...): links in messages point there",
		Check:   checkURL})
	BusinessNameKey = Register(Key{Name: "business_name", Group: "business", Default: "",
		Summary: "the business's name, as customers know it"})
)

func checkURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", v)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Currency is the business currency.
func Currency(ctx context.Context, db *store.DB) (string, error) {
	return Get(ctx, db, CurrencyKey.Name)
}

// Location is the business time zone (UTC when unset).
func Location(ctx context.Context, db *store.DB) (*time.Location, error) {
	v, err := Get(ctx, db, TimeZoneKey.Name)
	if err != nil {
		return time.UTC, err
	}
	return time.LoadLocation(v)
}

// ShopURL is the shop's website, "" when unset.
func ShopURL(ctx context.Context, db *store.DB) (string, error) {
	return Get(ctx, db, ShopURLKey.Name)
}

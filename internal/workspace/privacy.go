package workspace

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/privacy/consent"
	"github.com/omniroi/omniroi/internal/store"
)

// Privacy settings (internal/privacy, docs/privacy.md): how long each kind of personal
// data is kept, and how consent signals are read. Retention "0" keeps the data.
var (
	RetentionEventsKey = Register(Key{Name: "privacy.retention.events", Group: "privacy", Default: "760d",
		Summary: "raw events received longer ago than this are minimised: names, emails, phones, IPs, traits and free text go; ids, times, channels and order fields stay (0: keep)",
		Check:   CheckDuration(0, 100*365*24*time.Hour)})
	RetentionRejectedKey = Register(Key{Name: "privacy.retention.rejected", Group: "privacy", Default: "30d",
		Summary: "rejected payloads older than this are deleted (0: keep)",
		Check:   CheckDuration(0, 100*365*24*time.Hour)})
	RetentionMessagesKey = Register(Key{Name: "privacy.retention.messages", Group: "privacy", Default: "90d",
		Summary: "message copies in DATA/outbox, delivery error texts and finished journey runs' entry properties older than this are deleted (0: keep)",
		Check:   CheckDuration(0, 100*365*24*time.Hour)})
	ConsentRequiredKey = Register(Key{Name: "privacy.consent.required", Group: "privacy", Default: "false",
		Summary: "true: events that carry no consent signal count as without analytics consent and are stored without identifiers",
		Check:   CheckBool})
	ConsentAnalyticsKey = Register(Key{Name: "privacy.consent.analytics_categories", Group: "privacy", Default: consent.DefaultAnalytics,
		Summary: "Segment consent categories (categoryPreferences keys, comma separated) that mean analytics consent",
		Check:   checkCategories})
	ConsentAdsKey = Register(Key{Name: "privacy.consent.ads_categories", Group: "privacy", Default: consent.DefaultAds,
		Summary: "Segment consent categories that mean advertising consent (ad storage, ad user data, ad personalisation)",
		Check:   checkCategories})
	ConsentPersonalizationKey = Register(Key{Name: "privacy.consent.personalization_categories", Group: "privacy", Default: consent.DefaultPersonalization,
		Summary: "Segment consent categories that mean personalisation consent",
		Check:   checkCategories})
)

func checkCategories(v string) (string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, "\"\\\n\r\t") || len(p) > 100 {
			return "", fmt.Errorf("%q is not a category id", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return "", fmt.Errorf("no category in %q", v)
	}
	return strings.Join(out, ","), nil
}

// ConsentMapping reads the category settings as a consent.Mapping.
func ConsentMapping(ctx context.Context, db *store.DB) (consent.Mapping, error) {
	var m consent.Mapping
	for _, k := range []struct {
		key Key
		dst *[]string
	}{{ConsentAnalyticsKey, &m.Analytics}, {ConsentAdsKey, &m.Ads}, {ConsentPersonalizationKey, &m.Personalization}} {
		v, err := Get(ctx, db, k.key.Name)
		if err != nil {
			return consent.DefaultMapping(), err
		}
		*k.dst = consent.ParseList(v)
	}
	return m, nil
}

// Package connect receives a shop's own webhooks: Shopify's orders, refunds and customers
// and WooCommerce's orders, each verified with the platform's HMAC signature. A connector
// is a source of its own kind (shopify, woocommerce): its events count as verified, as a
// server source's do. A delivery becomes events in the log, converted by the importer's
// rules for the same records (one mapping for an export and a webhook), so `omniroi
// rebuild` derives the same orders and customers again; it is acknowledged only once
// they are committed. docs/connectors.md says how to set a shop up.
package connect

import (
	"context"
	"fmt"
	"strings"

	"github.com/omniroi/omniroi/internal/store"
)

// Platform is a shop system omniroi has a connector for.
type Platform struct {
	Kind string // the source kind, also the webhook path segment
	Name string // as owners know it
	// OwnSecret: the platform signs with a key it generates (Shopify shows it in the
	// admin), which the owner pastes into omniroi; otherwise the owner pastes omniroi's
	// secret into the shop (WooCommerce's webhook "Secret" field).
	OwnSecret bool
}

// Source kinds of the connectors.
const (
	KindShopify     = "shopify"
	KindWooCommerce = "woocommerce"
)

var platforms = []Platform{
	{Kind: KindShopify, Name: "Shopify", OwnSecret: true},
	{Kind: KindWooCommerce, Name: "WooCommerce"},
}

func init() {
	store.RegisterSourceKind(store.SourceKind{Name: KindShopify, Trusted: true,
		Summary: "a Shopify shop's order, refund and customer webhooks, signed with the shop's key; verified"})
	store.RegisterSourceKind(store.SourceKind{Name: KindWooCommerce, Trusted: true,
		Summary: "a WooCommerce shop's order webhooks, signed with a shared secret; verified"})
}

func platformOf(kind string) (Platform, bool) {
	for _, p := range platforms {
		if p.Kind == kind {
			return p, true
		}
	}
	return Platform{}, false
}

// IsConnector reports whether sources of kind are shop connectors.
func IsConnector(kind string) bool {
	_, ok := platformOf(kind)
	return ok
}

// PlatformOf describes the connector kind of a source (ok false for other kinds).
func PlatformOf(kind string) (Platform, bool) { return platformOf(kind) }

// WebhookPath is where a connector source's webhooks are received.
func WebhookPath(src store.Source) string {
	return fmt.Sprintf("/hooks/%s/%d", src.Kind, src.ID)
}

// WebhookURL is WebhookPath under base (the server's public URL, e.g. https://track.example.com).
func WebhookURL(base string, src store.Source) string {
	return strings.TrimRight(base, "/") + WebhookPath(src)
}

// Topics lists the webhook topics to subscribe a connector to, in the platform's names.
func Topics(kind string) []string {
	switch kind {
	case KindShopify:
		return []string{"orders/create", "orders/updated", "refunds/create", "customers/create", "customers/update",
			"products/create", "products/update", "products/delete"}
	case KindWooCommerce:
		return []string{"order.created", "order.updated", "product.created", "product.updated", "product.deleted"}
	}
	return nil
}

// Create adds a connector source with a new webhook secret (or the given one, e.g. the
// key Shopify shows) and returns it with its write key and the secret.
func Create(ctx context.Context, db *store.DB, name, kind, secret string) (store.Source, string, string, error) {
	if !IsConnector(kind) {
		return store.Source{}, "", "", fmt.Errorf("%q is not a shop connector kind (shopify, woocommerce)", kind)
	}
	if secret == "" {
		secret = NewSecret()
	}
	// Check the secret before the source exists, so a bad one leaves nothing behind.
	if err := checkSecret(secret); err != nil {
		return store.Source{}, "", "", err
	}
	if _, err := sealingKey(db); err != nil {
		return store.Source{}, "", "", err
	}
	src, key, err := db.CreateSourceKind(ctx, name, kind)
	if err != nil {
		return store.Source{}, "", "", err
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { return SetSecret(ctx, db, tx, src, secret) }); err != nil {
		return src, key, "", err
	}
	return src, key, secret, nil
}

// SetSourceSecret replaces the webhook secret of the named connector source; record runs
// in the same transaction (the audit entry).
func SetSourceSecret(ctx context.Context, db *store.DB, name, secret string, record func(ctx context.Context, tx *store.Tx, src store.Source) error) (store.Source, error) {
	src, err := db.SourceByName(ctx, name)
	if err != nil {
		return src, fmt.Errorf("source %q: %w", name, err)
	}
	if !IsConnector(src.Kind) {
		return src, fmt.Errorf("source %q is a %s source: only shop connectors (shopify, woocommerce) have a webhook secret", name, src.Kind)
	}
	if err := checkSecret(secret); err != nil {
		return src, err
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := SetSecret(ctx, db, tx, src, secret); err != nil {
			return err
		}
		if record != nil {
			return record(ctx, tx, src)
		}
		return nil
	})
	return src, err
}

func checkSecret(s string) error {
	s = strings.TrimSpace(s)
	if len(s) < 16 {
		return fmt.Errorf("a webhook secret needs at least 16 characters")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("a webhook secret has no spaces")
	}
	return nil
}

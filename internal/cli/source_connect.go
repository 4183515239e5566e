package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/store"
)

// Shop connector sources (docs/connectors.md): `source add NAME --kind shopify|woocommerce`,
// `source webhook NAME` and `source secret NAME`.

type connFlags struct {
	secret    *string
	publicURL *string
}

func connectorFlags(fs *flag.FlagSet) connFlags {
	return connFlags{
		secret:    fs.String("webhook-secret", "", "shop connectors: the key the shop signs webhooks with (Shopify shows it in its admin); default: a new random one"),
		publicURL: StringFlag(fs, "public-url", "http://127.0.0.1:8080", "shop connectors: the URL the shop reaches this server at, for the webhook URL"),
	}
}

type webhookInfo struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	WriteKey      string   `json:"write_key,omitempty"`
	WebhookURL    string   `json:"webhook_url"`
	WebhookSecret string   `json:"webhook_secret"`
	Topics        []string `json:"topics"`
}

func printWebhook(env *Env, w webhookInfo, created bool, asJSON bool) error {
	if asJSON {
		return PrintJSON(env.Stdout, w)
	}
	p, _ := connect.PlatformOf(w.Kind)
	if created {
		fmt.Fprintf(env.Stdout, "%s connector %q created.\n", p.Name, Clean(w.Name))
	}
	fmt.Fprintf(env.Stdout, "webhook URL:    %s\nwebhook secret: %s\ntopics:         %s\n", Clean(w.WebhookURL), Clean(w.WebhookSecret), strings.Join(w.Topics, ", "))
	switch w.Kind {
	case connect.KindShopify:
		fmt.Fprintf(env.Stdout, "In Shopify: Settings → Notifications → Webhooks, create one webhook per topic (format JSON) with this URL.\n"+
			"Shopify signs them with the key it shows there (\"Your webhooks will be signed with ...\"): unless you passed it\n"+
			"with --webhook-secret, give it to omniroi: omniroi source secret %s\n", shellQuote(w.Name))
	case connect.KindWooCommerce:
		fmt.Fprintln(env.Stdout, "In WordPress: WooCommerce → Settings → Advanced → Webhooks, add one webhook per topic (Order created,\n"+
			"Order updated), status Active, with this URL as Delivery URL and this secret as Secret.")
	}
	if u, err := url.Parse(w.WebhookURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
			fmt.Fprintln(env.Stdout, "The shop cannot reach this address: give the URL it reaches this server at with --public-url https://...")
		}
	}
	fmt.Fprintln(env.Stdout, "docs/connectors.md has the steps.")
	return nil
}

func addConnector(ctx context.Context, env *Env, db *store.DB, name, kind string, cf connFlags, asJSON bool) error {
	src, key, secret, err := connect.Create(ctx, db, name, kind, strings.TrimSpace(*cf.secret))
	if err != nil {
		return err
	}
	return printWebhook(env, webhookInfo{ID: src.ID, Name: src.Name, Kind: src.Kind, WriteKey: key,
		WebhookURL: connect.WebhookURL(*cf.publicURL, src), WebhookSecret: secret, Topics: connect.Topics(kind)}, true, asJSON)
}

func showWebhook(ctx context.Context, env *Env, db *store.DB, name string, cf connFlags, asJSON bool) error {
	src, err := db.SourceByName(ctx, name)
	if err != nil {
		return fmt.Errorf("source %q: %w", name, err)
	}
	if !connect.IsConnector(src.Kind) {
		return fmt.Errorf("source %q is a %s source: only shop connectors (shopify, woocommerce) receive webhooks", name, src.Kind)
	}
	secret, err := connect.Secret(ctx, db, src.ID)
	if err != nil {
		return err
	}
	return printWebhook(env, webhookInfo{ID: src.ID, Name: src.Name, Kind: src.Kind,
		WebhookURL: connect.WebhookURL(*cf.publicURL, src), WebhookSecret: secret, Topics: connect.Topics(src.Kind)}, false, asJSON)
}

func setWebhookSecret(ctx context.Context, env *Env, db *store.DB, name string, cf connFlags, record store.KeyChange) error {
	secret := strings.TrimSpace(*cf.secret)
	if secret == "" {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("give the secret with --webhook-secret KEY or on standard input")
		}
		secret = strings.TrimSpace(line)
	}
	src, err := connect.SetSourceSecret(ctx, db, name, secret, record)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "the webhook secret of %q is replaced: deliveries signed with the old one are refused from now on.\n", Clean(src.Name))
	return nil
}

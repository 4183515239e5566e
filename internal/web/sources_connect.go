package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/collect"
	"github.com/omniroi/omniroi/internal/connect"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/store"
)

// The Sources page's setup parts: what a website pastes (analytics.js, standalone and npm,
// and Shopify's custom pixel), the shop connectors' webhook URLs and secrets, and uploads
// of order, spend, customer and exchange-rate files through the importers the CLI uses.

// keyPlaceholder stands for a write key the page cannot show: keys are stored hashed
// and shown once, when a source is made or its key rotated.
const keyPlaceholder = "WRITE_KEY"

// siteSnippet is what one client source's website pastes.
type siteSnippet struct {
	ID         int64
	Name       string
	KeyShown   bool // the snippets carry the real key (it was just made)
	KeyHint    string
	Standalone string
	NPM        string
	Pixel      string
	Open       bool
}

// connectorView is one shop connector, for roles that manage sources.
type connectorView struct {
	ID         int64
	Name       string
	Platform   string
	Kind       string
	URL        string
	Secret     string
	SecretErr  string
	OwnSecret  bool // the platform signs with its own key (Shopify)
	Topics     []string
	Deliveries []deliveryView
	Open       bool
}

type deliveryView struct {
	At, Topic, Outcome string
	Events             int64
}

// uploadResult is what an upload did: the importer's report, or the error.
type uploadResult struct {
	File   string
	Kind   string
	Report importer.Report
	Error  string
	OK     bool
	// the report's counts, for the page's number format
	Rows, Imported, Duplicates, Skipped, Rejected int64
}

// uploadKinds are the files the page imports, with their presets.
var uploadKinds = []struct{ Kind, Label, Presets string }{
	{importer.KindOrders, "Orders", "shopify, online-retail"},
	{importer.KindSpend, "Ad spend", "google-ads, meta-ads"},
	{importer.KindCustomers, "Customers", ""},
	{importer.KindProducts, "Products and stock", "shopify, google-merchant"},
	{importer.KindFX, "Exchange rates", ""},
}

// MaxUploadBytes bounds a file uploaded from the Sources page; bigger files go through
// `omniroi import`, which streams.
const MaxUploadBytes = 64 << 20

// baseURL is where the browser reached this server, which is where shops and websites
// reach it too (the dashboard and the collection API share the server).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// setupParts fills the snippets and, for roles that manage sources, the connectors.
func (s *server) setupParts(ctx context.Context, r *http.Request, d *sourcesData, srcs []store.Source) error {
	base := baseURL(r)
	d.Base = base
	d.Sites, d.Connectors = d.Sites[:0], d.Connectors[:0]
	for _, src := range srcs {
		switch {
		case src.Kind == store.KindClient && !src.Revoked():
			key, shown := keyPlaceholder, false
			if d.NewKey != "" && d.NewSource == src.Name {
				key, shown = d.NewKey, true
			}
			d.Sites = append(d.Sites, siteSnippet{ID: src.ID, Name: src.Name, KeyShown: shown, KeyHint: src.KeyHint,
				Standalone: collect.Snippet(base, key), NPM: collect.NPMSnippet(base, key), Pixel: collect.ShopifyPixel(base, key), Open: shown})
		case connect.IsConnector(src.Kind) && d.CanManage:
			p, _ := connect.PlatformOf(src.Kind)
			cv := connectorView{ID: src.ID, Name: src.Name, Platform: p.Name, Kind: src.Kind, URL: connect.WebhookURL(base, src),
				OwnSecret: p.OwnSecret, Topics: connect.Topics(src.Kind), Open: d.NewSource == src.Name || d.SecretSet == src.Name}
			secret, err := connect.Secret(ctx, s.db, src.ID)
			if err != nil {
				cv.SecretErr = err.Error()
			}
			cv.Secret = secret
			rows, err := s.db.Query(ctx, `SELECT received_at, topic, events, outcome FROM connector_deliveries WHERE source_id = ? ORDER BY id DESC LIMIT 10`, src.ID)
			if err != nil {
				return fmt.Errorf("read deliveries: %w", err)
			}
			for rows.Next() {
				var at int64
				var dv deliveryView
				if err := rows.Scan(&at, &dv.Topic, &dv.Events, &dv.Outcome); err != nil {
					rows.Close()
					return err
				}
				dv.At = formatTime(at, s.location(ctx))
				cv.Deliveries = append(cv.Deliveries, dv)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			d.Connectors = append(d.Connectors, cv)
		}
	}
	d.UploadKinds = uploadKinds
	d.MaxUploadMB = MaxUploadBytes >> 20
	return nil
}

// createConnector makes a shop connector from the Add a source form.
func (s *server) createConnector(w http.ResponseWriter, r *http.Request, d *sourcesData, name, kind string) error {
	src, _, _, err := connect.Create(r.Context(), s.db, name, kind, r.PostFormValue("webhook_secret"))
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
		return s.sourcesPage(w, r, d)
	}
	d.NewSource, d.Name = src.Name, ""
	d.NewConnector = true
	s.cache.dropPrefix("sources|")
	return s.sourcesPage(w, r, d)
}

// setConnectorSecret (POST /sources/{id}/secret) replaces a connector's webhook secret,
// e.g. with the key Shopify shows in its admin. Owners and admins; audited.
func (s *server) setConnectorSecret(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	srcs, err := s.db.Sources(r.Context())
	if err != nil {
		return err
	}
	var name string
	for _, src := range srcs {
		if src.ID == id && connect.IsConnector(src.Kind) {
			name = src.Name
		}
	}
	if name == "" {
		return errNotFound
	}
	sess := sessionFrom(r)
	d := &sourcesData{}
	_, err = connect.SetSourceSecret(r.Context(), s.db, name, r.PostFormValue("secret"), func(ctx context.Context, tx *store.Tx, src store.Source) error {
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.UserActor(sess.User.Email), Action: "source.secret",
			Target: fmt.Sprintf("source:%d", src.ID), Detail: map[string]any{"name": src.Name}})
	})
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusUnprocessableEntity)
	} else {
		d.SecretSet = name
	}
	return s.sourcesPage(w, r, d)
}

// uploadImport (POST /sources/upload) imports an uploaded file with the importer of its
// kind, as `omniroi import KIND FILE` does, and shows the same report and row errors.
func (s *server) uploadImport(w http.ResponseWriter, r *http.Request) error {
	d := &sourcesData{}
	res := &uploadResult{Kind: r.PostFormValue("kind")}
	d.Upload = res
	fail := func(code int, msg string) error {
		res.Error = msg
		w.WriteHeader(code)
		return s.sourcesPage(w, r, d)
	}
	known := false
	for _, k := range uploadKinds {
		known = known || k.Kind == res.Kind
	}
	if !known {
		return fail(http.StatusUnprocessableEntity, "Choose what the file holds: orders, ad spend, customers or exchange rates.")
	}
	if r.MultipartForm == nil || len(r.MultipartForm.File["file"]) == 0 {
		return fail(http.StatusUnprocessableEntity, "Choose a file to upload.")
	}
	fh := r.MultipartForm.File["file"][0]
	res.File = fh.Filename
	f, err := fh.Open()
	if err != nil {
		return fail(http.StatusBadRequest, "The file could not be read: "+err.Error())
	}
	defer f.Close()
	opt := importer.Options{Kind: res.Kind, Preset: strings.TrimSpace(r.PostFormValue("preset")),
		Currency: strings.TrimSpace(r.PostFormValue("currency")), SkipBad: r.PostFormValue("skip_bad") == "yes"}
	ctx := r.Context()
	var rep importer.Report
	if res.Kind == importer.KindFX {
		rep, err = importer.ImportFX(ctx, s.db, f, fh.Filename, opt)
	} else {
		rep, err = importer.Import(ctx, s.db, f, fh.Filename, opt)
	}
	res.Report = rep
	res.Rows, res.Imported, res.Duplicates = int64(rep.Rows), int64(rep.Imported), int64(rep.Duplicates)
	res.Skipped, res.Rejected = int64(rep.Skipped), int64(rep.Rejected)
	if err != nil {
		code := http.StatusUnprocessableEntity
		if !errors.Is(err, importer.ErrBadRows) && ctx.Err() != nil {
			return err
		}
		// The page's word for --skip-bad is its check box.
		return fail(code, strings.Replace(err.Error(), "(--skip-bad imports the good ones)", "(tick “import the good rows” to import the others)", 1))
	}
	res.OK = true
	sess := sessionFrom(r)
	if err := audit.Record(ctx, s.db, audit.Entry{Actor: audit.UserActor(sess.User.Email), Action: "import.upload", Target: res.Kind,
		Detail: map[string]any{"file": fh.Filename, "rows": rep.Rows, "imported": rep.Imported, "rejected": rep.Rejected}}); err != nil {
		return err
	}
	s.cache.dropPrefix("sources|")
	return s.sourcesPage(w, r, d)
}

package connect

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/importer"
	"github.com/omniroi/omniroi/internal/privacy"
	"github.com/omniroi/omniroi/internal/store"
)

// MaxBody bounds a webhook body: an order with hundreds of line items is a few hundred KB.
const MaxBody = 8 << 20

// Options tune the handler; the zero value is ready to use.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // clock, for tests
}

// Handler receives the connectors' webhooks:
//
//	POST /hooks/shopify/{source_id}      X-Shopify-Hmac-Sha256
//	POST /hooks/woocommerce/{source_id}  X-WC-Webhook-Signature
//
// A delivery without a valid signature is refused (401) and nothing of it is stored.
type Handler struct {
	db       *store.DB
	opt      Options
	onCommit atomic.Pointer[func()]
}

// NewHandler makes the webhook handler.
func NewHandler(db *store.DB, opt Options) *Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Handler{db: db, opt: opt}
}

// Register mounts the webhook routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /hooks/shopify/{id}", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, KindShopify) })
	mux.HandleFunc("POST /hooks/woocommerce/{id}", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, KindWooCommerce) })
}

// SetOnCommit sets what runs after a delivery's events are committed (waking the event
// processor); it must not block.
func (h *Handler) SetOnCommit(f func()) {
	if f == nil {
		h.onCommit.Store(nil)
		return
	}
	h.onCommit.Store(&f)
}

// Result is the answer to an accepted delivery.
type Result struct {
	OK      bool   `json:"ok"`
	Topic   string `json:"topic"`
	Events  int    `json:"events"`  // new events stored
	Outcome string `json:"outcome"` // what was done, in words
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": msg})
}

var wcPing = regexp.MustCompile(`^webhook_id=[0-9]+$`)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, kind string) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		refuse(w, http.StatusNotFound, "no such connector")
		return
	}
	var src store.Source
	var revoked int64
	err = h.db.QueryRow(ctx, `SELECT id, name, kind, revoked_at FROM sources WHERE id = ?`, id).Scan(&src.ID, &src.Name, &src.Kind, &revoked)
	if errors.Is(err, sql.ErrNoRows) || err == nil && src.Kind != kind {
		refuse(w, http.StatusNotFound, "no such connector")
		return
	}
	if err != nil {
		h.opt.Logger.Error("connector webhook: look up source", "err", err)
		refuse(w, http.StatusServiceUnavailable, "try again")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", MaxBody))
			return
		}
		refuse(w, http.StatusBadRequest, "could not read the body")
		return
	}
	if revoked != 0 {
		refuse(w, http.StatusUnauthorized, "this connector's source is revoked")
		return
	}
	secret, err := Secret(ctx, h.db, src.ID)
	if err != nil {
		h.opt.Logger.Error("connector webhook: no usable secret; deliveries are refused until it is set", "source", src.Name, "err", err)
		refuse(w, http.StatusServiceUnavailable, "this connector's secret cannot be read; see the server log")
		return
	}
	var sigHeader string
	switch kind {
	case KindShopify:
		sigHeader = "X-Shopify-Hmac-Sha256"
	case KindWooCommerce:
		sigHeader = "X-WC-Webhook-Signature"
		// WooCommerce pings a new webhook's URL, unsigned, and saves the webhook only if
		// the answer is 200. The ping stores nothing.
		if r.Header.Get(sigHeader) == "" && wcPing.Match(body) {
			writeJSON(w, http.StatusOK, Result{OK: true, Topic: "ping", Outcome: "ping: nothing stored"})
			return
		}
	}
	if !validSignature(body, secret, r.Header.Get(sigHeader)) {
		h.opt.Logger.Warn("connector webhook: bad or missing signature", "source", src.Name, "header", sigHeader)
		refuse(w, http.StatusUnauthorized, "missing or invalid "+sigHeader)
		return
	}
	d := delivery{src: src, body: body, received: h.opt.Now().UTC()}
	switch kind {
	case KindShopify:
		d.topic = r.Header.Get("X-Shopify-Topic")
		d.id = r.Header.Get("X-Shopify-Webhook-Id")
		d.shop = r.Header.Get("X-Shopify-Shop-Domain")
	case KindWooCommerce:
		d.topic = r.Header.Get("X-WC-Webhook-Topic")
		d.id = r.Header.Get("X-WC-Webhook-Delivery-ID")
	}
	res, err := h.store(ctx, &d)
	if err != nil {
		h.opt.Logger.Error("connector webhook: store", "source", src.Name, "topic", d.topic, "err", err)
		refuse(w, http.StatusServiceUnavailable, "not stored; the platform will retry")
		return
	}
	if res.Events > 0 {
		if f := h.onCommit.Load(); f != nil {
			(*f)()
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// validSignature checks a base64 HMAC-SHA256 of body under secret, in constant time.
// Shopify and WooCommerce sign the same way: the raw body, the shared secret as key.
func validSignature(body []byte, secret, header string) bool {
	header = strings.TrimSpace(header)
	if header == "" || secret == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Sign is the signature a platform sends for body: base64(HMAC-SHA256(secret, body)).
// Tests and docs use it to make a delivery.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// delivery is one verified webhook and what it becomes.
type delivery struct {
	src      store.Source
	topic    string
	id       string
	shop     string
	body     []byte
	received time.Time

	events  []event.Event
	links   []orderLink
	rejects []store.Rejection
	outcome []string
}

// orderLink is a connector_orders row: a platform order id and the order stored for it.
type orderLink struct {
	external, orderID, userID, anonID, currency, total string
}

func (d *delivery) say(format string, args ...any) {
	d.outcome = append(d.outcome, fmt.Sprintf(format, args...))
}

func (d *delivery) reject(reason string) {
	d.rejects = append(d.rejects, store.Rejection{SourceID: d.src.ID, ReceivedAt: d.received,
		Origin: d.src.Kind + " " + d.topic, Position: -1, Reason: reason, Body: string(d.body)})
	d.say("rejected: %s", reason)
}

// store converts the delivery and commits its events, order links, rejections and the
// delivery record in one transaction.
func (h *Handler) store(ctx context.Context, d *delivery) (Result, error) {
	res := Result{OK: true, Topic: d.topic}
	var inserted int
	err := h.db.Write(ctx, func(tx *store.Tx) error {
		d.events, d.links, d.rejects, d.outcome = nil, nil, nil, nil
		if err := h.convert(ctx, tx, d); err != nil {
			return err
		}
		if err := store.LockEventLog(ctx, tx); err != nil {
			return err
		}
		// The privacy gate, as for imports: a connector is trusted, so only an identify
		// with analytics consent brings an erased person back; their other events and
		// rejected payloads are dropped (and counted on the erasure).
		evs, gated, err := privacy.Gate(ctx, tx, d.events, privacy.Everyone)
		if err != nil {
			return err
		}
		d.events = evs
		if gated.Dropped > 0 {
			d.say("%d events of an erased person not stored", gated.Dropped)
		}
		rejects, dropped, err := privacy.GateRejections(ctx, tx, d.rejects)
		if err != nil {
			return err
		}
		d.rejects = rejects
		if dropped > 0 {
			d.say("%d rejected payloads naming an erased person not kept", dropped)
		}
		n, err := store.InsertEvents(ctx, tx, d.events)
		if err != nil {
			return err
		}
		inserted = n
		if len(d.events) > 0 && n < len(d.events) {
			d.say("%d of %d events were stored before (a repeated delivery)", len(d.events)-n, len(d.events))
		}
		for _, l := range d.links {
			if _, err := tx.Exec(ctx, `INSERT INTO connector_orders (source_id, external_id, order_id, currency, total)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, external_id) DO UPDATE SET order_id = excluded.order_id,
				currency = excluded.currency, total = excluded.total`,
				d.src.ID, l.external, l.orderID, l.currency, l.total); err != nil {
				return fmt.Errorf("link order: %w", err)
			}
		}
		if len(d.rejects) > 0 {
			if err := store.InsertRejections(ctx, tx, d.rejects); err != nil {
				return err
			}
		}
		if len(d.outcome) == 0 {
			d.say("nothing to store")
		}
		res.Outcome = strings.Join(d.outcome, "; ")
		if _, err := tx.Exec(ctx, `INSERT INTO connector_deliveries (source_id, delivery_id, topic, received_at, events, outcome) VALUES (?, ?, ?, ?, ?, ?)`,
			d.src.ID, d.id, d.topic, d.received.UnixMilli(), n, res.Outcome); err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
		// Keep the latest deliveries per source: the page shows what came lately, the
		// events themselves are in the log.
		_, err = tx.Exec(ctx, `DELETE FROM connector_deliveries WHERE source_id = ? AND id <= (SELECT id FROM connector_deliveries WHERE source_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			d.src.ID, d.src.ID, keepDeliveries)
		return err
	})
	res.Events = inserted
	return res, err
}

const keepDeliveries = 200

// convert turns a verified delivery into events (and what it says about them).
func (h *Handler) convert(ctx context.Context, tx *store.Tx, d *delivery) error {
	switch d.src.Kind {
	case KindShopify:
		return h.convertShopify(ctx, tx, d)
	case KindWooCommerce:
		return h.convertWooCommerce(ctx, tx, d)
	}
	return nil
}

func decodeInto(d *delivery, v any) bool {
	if err := json.Unmarshal(d.body, v); err != nil {
		d.reject(fmt.Sprintf("the body is not the JSON %s sends for %s: %v", d.src.Kind, d.topic, err))
		return false
	}
	return true
}

// orderEvents converts order records with the importer's rules and links the order.
func (h *Handler) orderEvents(d *delivery, opt importer.Options, external string, recs []map[string]any, total string) {
	conv, err := importer.ConvertRecords(opt, d.src.ID, d.received, recs)
	if err != nil {
		d.reject(err.Error())
		return
	}
	orderID, _ := recs[0]["order_id"].(string)
	if orderID == "" {
		orderID, _ = recs[0]["name"].(string)
	}
	if len(conv.Errors) > 0 {
		d.reject(fmt.Sprintf("order %s: %s", orderID, conv.Errors[0].Reason))
		return
	}
	if conv.Skipped > 0 {
		d.say("order %s is not paid (yet): not counted until a delivery says it is", orderID)
		return
	}
	for _, ev := range conv.Events {
		if ev.Name == "Order Completed" {
			var p struct {
				Properties struct {
					Currency string `json:"currency"`
				} `json:"properties"`
			}
			_ = json.Unmarshal(ev.Body, &p)
			d.links = append(d.links, orderLink{external: external, orderID: orderID, userID: ev.UserID, anonID: ev.AnonymousID,
				currency: p.Properties.Currency, total: total})
		}
	}
	d.events = append(d.events, conv.Events...)
	d.say("order %s", orderID)
}

// refundEvent makes an "Order Refunded" event for a linked order.
func refundEvent(d *delivery, messageID string, link orderLink, when, amount, currency string, full bool) error {
	props := map[string]any{"order_id": link.orderID}
	if !full {
		props["total"] = json.Number(amount)
		props["currency"] = currency
	}
	p := map[string]any{"type": "track", "event": "Order Refunded", "messageId": messageID, "properties": props,
		"context": map[string]any{"library": map[string]string{"name": "omniroi-" + d.src.Kind}}}
	if link.userID != "" {
		p["userId"] = link.userID
	}
	if link.anonID != "" {
		p["anonymousId"] = link.anonID
	}
	if when != "" {
		p["timestamp"] = when
	}
	return appendEvent(d, p)
}

func appendEvent(d *delivery, payload map[string]any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	ev, err := event.Normalize(b, "", d.received, time.Time{})
	if err != nil {
		d.reject(err.Error())
		return nil
	}
	ev.SourceID = d.src.ID
	d.events = append(d.events, ev)
	return nil
}

// link reads the stored order of a platform order id, and who bought from the order's
// own event (found = false when either is missing: an order never received, or erased).
func link(ctx context.Context, tx *store.Tx, sourceID int64, external string) (l orderLink, found bool, err error) {
	l = orderLink{external: external}
	err = tx.QueryRow(ctx, `SELECT order_id, currency, total FROM connector_orders WHERE source_id = ? AND external_id = ?`,
		sourceID, external).Scan(&l.orderID, &l.currency, &l.total)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, err
	}
	err = tx.QueryRow(ctx, `SELECT user_id, anonymous_id FROM events WHERE source_id = ? AND message_id = ?`,
		sourceID, importer.OrderMessageID(l.orderID)).Scan(&l.userID, &l.anonID)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	return l, err == nil, err
}

func (h *Handler) convertShopify(ctx context.Context, tx *store.Tx, d *delivery) error {
	switch d.topic {
	case "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/edited":
		var o shopifyOrder
		if !decodeInto(d, &o) {
			return nil
		}
		if o.Test == "true" {
			d.say("test order %s: not counted", o.orderID())
			return nil
		}
		h.orderEvents(d, shopifyOrderOptions, string(o.ID), o.orderRecords(d.shop), string(o.TotalPrice))
		l := orderLink{external: string(o.ID), orderID: o.orderID(), currency: string(o.Currency), total: string(o.TotalPrice)}
		if len(d.links) > 0 {
			l = d.links[len(d.links)-1]
		} else if len(o.Refunds) > 0 {
			// An order not counted (unpaid, rejected) has nothing to refund here.
			return nil
		}
		for i := range o.Refunds {
			if err := shopifyRefundEvent(d, &o.Refunds[i], l); err != nil {
				return err
			}
		}
	case "refunds/create":
		var rf shopifyRefund
		if !decodeInto(d, &rf) {
			return nil
		}
		l, ok, err := link(ctx, tx, d.src.ID, string(rf.OrderID))
		if err != nil {
			return err
		}
		if !ok {
			d.reject(fmt.Sprintf("refund %s of Shopify order %s, which has not been received (or whose buyer was erased): the order's next orders/updated delivery carries this refund", rf.ID, rf.OrderID))
			return nil
		}
		return shopifyRefundEvent(d, &rf, l)
	case "customers/create", "customers/update":
		var c shopifyCustomer
		if !decodeInto(d, &c) {
			return nil
		}
		return shopifyCustomerEvent(d, &c)
	case "products/create", "products/update", "products/delete":
		return h.shopifyProductDelivery(ctx, tx, d)
	default:
		d.say("topic %q is not one omniroi reads: nothing stored", d.topic)
	}
	return nil
}

func shopifyRefundEvent(d *delivery, rf *shopifyRefund, l orderLink) error {
	amount, full, cur, ok := rf.refundAmount(l.total, l.currency)
	if !ok {
		d.say("refund %s of order %s returns no money (a restock): nothing stored", rf.ID, l.orderID)
		return nil
	}
	if full {
		d.say("full refund %s of order %s", rf.ID, l.orderID)
	} else {
		d.say("refund %s of %s %s on order %s", rf.ID, amount, cur, l.orderID)
	}
	return refundEvent(d, "shopify-refund-"+string(rf.ID), l, rf.when(), amount, cur, full)
}

// shopifyCustomerEvent makes an identify call of a customer record: contact points, name
// and marketing consent as the shop knows them (a connector is trusted: verified).
func shopifyCustomerEvent(d *delivery, c *shopifyCustomer) error {
	uid := shopifyUserID(c.ID)
	if uid == "" {
		d.reject("a customer without an id")
		return nil
	}
	traits := map[string]any{}
	for k, v := range map[string]flex{"email": c.Email, "phone": c.Phone, "firstName": c.FirstName, "lastName": c.LastName, "createdAt": c.CreatedAt} {
		if v != "" {
			traits[k] = string(v)
		}
	}
	if c.DefaultAddress != nil && c.DefaultAddress.CountryCode != "" {
		traits["country"] = string(c.DefaultAddress.CountryCode)
	}
	consent := func(channel string, state flex) {
		switch strings.ToLower(string(state)) {
		case "subscribed":
			traits["consent."+channel+".marketing"] = true
		case "unsubscribed", "not_subscribed", "redacted":
			traits["consent."+channel+".marketing"] = false
		}
	}
	if c.EmailMarketingConsent != nil {
		consent("email", c.EmailMarketingConsent.State)
	}
	if c.SMSMarketingConsent != nil {
		consent("sms", c.SMSMarketingConsent.State)
	}
	// One event per version of the record: a repeated delivery of the same update is the
	// same message.
	version := firstOf(c.UpdatedAt, c.CreatedAt)
	p := map[string]any{"type": "identify", "userId": uid, "traits": traits,
		"messageId": "shopify-customer-" + string(c.ID) + "-" + version,
		"context":   map[string]any{"library": map[string]string{"name": "omniroi-shopify"}}}
	if t := firstOf(c.UpdatedAt, c.CreatedAt); t != "" {
		p["timestamp"] = t
	}
	d.say("customer record")
	return appendEvent(d, p)
}

func (h *Handler) convertWooCommerce(ctx context.Context, tx *store.Tx, d *delivery) error {
	switch d.topic {
	case "order.created", "order.updated", "order.restored":
		var o wcOrder
		if !decodeInto(d, &o) {
			return nil
		}
		h.orderEvents(d, wcOrderOptions, string(o.ID), o.orderRecords(), string(o.Total))
		if len(d.links) == 0 {
			return nil
		}
		l := d.links[len(d.links)-1]
		when := wcTime(o.DateModifiedGMT)
		for _, rf := range o.Refunds {
			amount, full, ok := wcRefundAmount(string(rf.Total), l.total, l.currency)
			if !ok {
				continue
			}
			if full {
				d.say("full refund %s of order %s", rf.ID, l.orderID)
			} else {
				d.say("refund %s of %s %s on order %s", rf.ID, amount, l.currency, l.orderID)
			}
			// WooCommerce's refund list carries no date: the order's last change stands
			// for it, and the first delivery that names a refund fixes its time.
			if err := refundEvent(d, "woocommerce-refund-"+string(rf.ID), l, when, amount, l.currency, full); err != nil {
				return err
			}
		}
	case "product.created", "product.updated", "product.deleted":
		return h.wcProductDelivery(ctx, tx, d)
	default:
		d.say("topic %q is not one omniroi reads: nothing stored", d.topic)
	}
	return nil
}

package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"net/http"
	"time"

	"github.com/omniroi/omniroi/internal/event"
	"github.com/omniroi/omniroi/internal/store"
)

// The confirmation routes (verify.go sends the messages):
//
//	GET  /j/confirm/{token}  a page with a Confirm button (mail scanners follow links: a GET changes nothing)
//	POST /j/confirm/{token}  confirms: the address becomes verified and, if the message asked, consent is granted
//
// and an SMS answered YES through /j/sms/inbound confirms the number's open confirmation.

// ErrConfirmExpired is returned for a confirmation older than ConfirmValidity.
var ErrConfirmExpired = errors.New("this confirmation link has expired")

type confirmRow struct {
	id, customer       int64
	channel, address   string
	consent            bool
	status             string
	created, confirmed int64
}

func readConfirmation(ctx context.Context, db *store.DB, id int64) (confirmRow, error) {
	c := confirmRow{id: id}
	var consent int
	err := db.QueryRow(ctx, `SELECT customer_id, channel, address, consent, status, created_at, confirmed_at FROM journey_confirmations WHERE id = ?`, id).
		Scan(&c.customer, &c.channel, &c.address, &consent, &c.status, &c.created, &c.confirmed)
	c.consent = consent == 1
	return c, err
}

// confirmFromToken checks a confirmation link's token against its row.
func (h *handler) confirmFromToken(ctx context.Context, tok string) (confirmRow, error) {
	t, err := parseToken(h.e.secret, tok)
	if err != nil || t.Kind != "v" {
		return confirmRow{}, errBadToken
	}
	c, err := readConfirmation(ctx, h.e.db, t.SendID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (c.customer != t.Customer || c.channel != t.Channel) {
		return c, errBadToken
	}
	return c, err
}

func (h *handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	c, err := h.confirmFromToken(r.Context(), r.PathValue("tok"))
	if err != nil {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if c.confirmed > 0 {
		fmt.Fprint(w, `<!doctype html><title>Confirmed</title><p>This address is confirmed already. Thank you.</p>`)
		return
	}
	what := "Confirm this address?"
	if c.consent {
		what = "Confirm this address and that you would like our news and offers?"
	}
	fmt.Fprintf(w, `<!doctype html><title>Confirm</title><form method="post" action="%s"><p>%s</p><button>Confirm</button></form><p>Not you? Close this page: nothing happens.</p>`,
		html.EscapeString(r.URL.Path), html.EscapeString(what))
}

func (h *handler) confirmPost(w http.ResponseWriter, r *http.Request) {
	c, err := h.confirmFromToken(r.Context(), r.PathValue("tok"))
	if err != nil {
		http.Error(w, "invalid link", http.StatusBadRequest)
		return
	}
	err = h.e.confirm(r.Context(), c, "link")
	switch {
	case errors.Is(err, ErrConfirmExpired):
		http.Error(w, err.Error()+"; the next message from us will ask again", http.StatusGone)
		return
	case err != nil:
		h.e.opt.Logger.Error("journey confirm", "err", err)
		http.Error(w, "could not confirm, please try again", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "Thank you: your address is confirmed.")
}

// confirmByReply confirms the newest open SMS confirmation sent to phone; it reports
// whether there was one.
func (h *handler) confirmByReply(ctx context.Context, phone string) (bool, error) {
	if phone == "" {
		return false, nil
	}
	now := h.e.opt.Now()
	var id int64
	err := h.e.db.QueryRow(ctx, `SELECT id FROM journey_confirmations WHERE channel = 'sms' AND address = ? AND status = 'sent' AND confirmed_at = 0 AND created_at > ?
		ORDER BY id DESC LIMIT 1`, normAddr("sms", phone), now.Add(-ConfirmValidity).UnixMilli()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c, err := readConfirmation(ctx, h.e.db, id)
	if err != nil {
		return false, err
	}
	return true, h.e.confirm(ctx, c, "sms reply")
}

// confirm records that the customer confirmed c: an identify event on the journeys
// source (a trusted one) states the address, and the granted consent when the message
// asked for it, so the identity processor marks them verified and `omniroi rebuild`
// keeps them; a journey_consent row records the opt-in. Confirming twice changes nothing.
func (e *Engine) confirm(ctx context.Context, c confirmRow, how string) error {
	now := e.opt.Now()
	if c.confirmed > 0 {
		return nil
	}
	if now.Sub(time.UnixMilli(c.created)) > ConfirmValidity {
		return ErrConfirmExpired
	}
	prof, err := loadProfile(ctx, e.db, c.customer)
	if err != nil {
		return err
	}
	cid := prof.ID
	body := e.who(prof)
	traits := map[string]any{map[string]string{"email": "email", "sms": "phone"}[c.channel]: c.address}
	if c.consent {
		traits["consent."+c.channel+".marketing"] = true
	}
	body["type"], body["messageId"], body["timestamp"], body["traits"] = "identify", fmt.Sprintf("journey-confirm-%d", c.id), event.FormatTime(now), traits
	body["context"] = map[string]any{"omniroi": map[string]any{"confirmed_by": how, "confirmation_id": c.id}}
	evs := e.mkEvent(body, now)
	done := false
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE journey_confirmations SET confirmed_at = ? WHERE id = ? AND confirmed_at = 0`, now.UnixMilli(), c.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // confirmed meanwhile
		}
		done = true
		if c.consent {
			if err := SetConsent(ctx, tx, cid, c.channel, "marketing", true, "double opt-in ("+how+")", now); err != nil {
				return err
			}
		}
		return e.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	if done {
		e.wroteEvents()
	}
	return nil
}

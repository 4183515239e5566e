package journey

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// mailgunPayload is the part of a Mailgun event webhook omniroi reads: the signature
// block and the event (Mailgun's documented webhook payload, JSON since its v3 webhooks).
type mailgunPayload struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	Event struct {
		Event    string `json:"event"`    // delivered, failed, complained, unsubscribed, opened, ...
		Severity string `json:"severity"` // failed: permanent or temporary
		Reason   string `json:"reason"`
		Message  struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

// mailgun takes Mailgun's event webhooks. Mail sent through Mailgun's SMTP relay keeps its
// Message-ID, whose local part is the send's idempotency key. A permanent failure is a
// bounce; temporary failures, opens and clicks are acknowledged and ignored (opens and
// clicks are counted by omniroi's own links).
func (h *handler) mailgun(w http.ResponseWriter, r *http.Request) {
	if rt := h.opt.route(r.URL.Path); !rt.On {
		http.Error(w, r.URL.Path+" is off: "+rt.Missing+" (docs/journeys.md, Security)", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var in mailgunPayload
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, `want Mailgun's JSON event webhook {"signature": {...}, "event-data": {...}}`, http.StatusBadRequest)
		return
	}
	now := h.opt.Now()
	sg := in.Signature
	if err := verifyMailgun(h.opt.MailgunSigningKey, sg.Timestamp, sg.Token, sg.Signature, now, h.opt.MaxAge); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rkey := "mailgun:" + sg.Token
	if !h.replay.first(rkey, now.Add(2*h.opt.MaxAge), now) {
		http.Error(w, "replayed request", http.StatusConflict)
		return
	}
	ev := in.Event
	status := ""
	switch ev.Event {
	case "delivered", "complained", "unsubscribed":
		status = ev.Event
	case "failed":
		if ev.Severity == "permanent" {
			status = "bounced"
		}
	}
	key := mailKey(ev.Message.Headers.MessageID)
	if status == "" || key == "" {
		io.WriteString(w, "ignored\n")
		return
	}
	reason := ev.DeliveryStatus.Message
	if reason == "" {
		reason = ev.DeliveryStatus.Description
	}
	if reason == "" {
		reason = ev.Reason
	}
	found, err := h.report(r.Context(), key, status, reason)
	if err != nil {
		h.replay.forget(rkey) // Mailgun retries; let the retry through
		http.Error(w, "could not record", http.StatusInternalServerError)
		return
	}
	if !found {
		io.WriteString(w, "ignored: not a journey send\n") // the shop's other mail
		return
	}
	io.WriteString(w, "ok\n")
}

// mailKey is the idempotency key in a Message-ID: its local part.
func mailKey(messageID string) string {
	k, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(messageID), "<>"), "@")
	return k
}

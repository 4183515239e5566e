package journey

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode"
)

// The bodies providers post to /j/status and /j/sms/inbound, read apart from the
// handlers (which check credentials and touch the database) so that they can be fuzzed.

// statusReport is a delivery report: {"idempotency_key", "status", "reason"}.
type statusReport struct {
	Key    string `json:"idempotency_key"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

var (
	errStatusJSON   = errors.New(`want JSON {"idempotency_key": "...", "status": "delivered|bounced|complained"}`)
	errStatusStatus = errors.New("status must be delivered, bounced or complained")
)

// parseStatusReport reads a delivery report; the error is the reply to give.
func parseStatusReport(body []byte) (statusReport, error) {
	var in statusReport
	if err := json.Unmarshal(body, &in); err != nil || in.Key == "" {
		return statusReport{}, errStatusJSON
	}
	switch in.Status {
	case "delivered", "bounced", "complained":
		return in, nil
	}
	return statusReport{}, errStatusStatus
}

// inboundSMS is a reply to an SMS: Twilio's form fields From and Body, or JSON
// {"from", "text"} (or "body") from a relay.
type inboundSMS struct{ From, Text string }

// parseInboundSMS reads an inbound SMS by its content type; the error is the reply to give.
func parseInboundSMS(contentType string, body []byte) (inboundSMS, error) {
	if strings.HasPrefix(contentType, "application/json") {
		var in struct{ From, Text, Body string }
		if err := json.Unmarshal(body, &in); err != nil {
			return inboundSMS{}, errors.New("bad JSON")
		}
		return inboundSMS{From: in.From, Text: in.Text + in.Body}, nil
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return inboundSMS{}, errors.New("bad form")
	}
	return inboundSMS{From: v.Get("From"), Text: v.Get("Body")}, nil
}

// smsKeyword says whether a reply is a STOP or a START word, in any case and with any
// spaces and punctuation around it ("Stop !" opts out too); word is the keyword as recorded.
func smsKeyword(text string) (word string, stop, start bool) {
	word = strings.ToUpper(strings.TrimFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }))
	return word, stopWords[word], startWords[word]
}

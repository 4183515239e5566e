package journey

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/identity"
)

// FuzzStatusReport: a delivery report is accepted exactly when it is a JSON object with
// a non-empty idempotency_key string and one of the three statuses, as encoding/json
// reads it.
func FuzzStatusReport(f *testing.F) {
	f.Add([]byte(`{"idempotency_key":"k-1","status":"delivered"}`))
	f.Add([]byte(`{"idempotency_key":"k-1","status":"bounced","reason":"550 no such user"}`))
	f.Add([]byte(`{"idempotency_key":"k-1","status":"complained","status":"opened"}`))
	f.Add([]byte(`{"IDEMPOTENCY_KEY":"k","Status":"delivered"}`))
	f.Add([]byte(`{"idempotency_key":7,"status":"delivered"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseStatusReport(body)
		var m struct {
			Key    *string `json:"idempotency_key"`
			Status *string `json:"status"`
		}
		valid := json.Unmarshal(body, &m) == nil && m.Key != nil && *m.Key != "" && m.Status != nil &&
			(*m.Status == "delivered" || *m.Status == "bounced" || *m.Status == "complained")
		if (err == nil) != valid {
			t.Fatalf("parseStatusReport(%q) = %+v, %v; encoding/json reads %v", body, in, err, valid)
		}
		if err == nil && (in.Key != *m.Key || in.Status != *m.Status) {
			t.Fatalf("parseStatusReport(%q) = %+v", body, in)
		}
		if err != nil && err != errStatusJSON && err != errStatusStatus {
			t.Fatalf("refusal %v does not say what is wanted", err)
		}
	})
}

// FuzzInboundSMS: an inbound SMS, as a form or as JSON, gives the sender and text the
// standard decoders give; its keyword does not depend on case, surrounding spaces or a
// final "!"; and the sender's number normalises to nothing or to a stable +digits.
func FuzzInboundSMS(f *testing.F) {
	f.Add(false, []byte("From=%2B14155550100&Body=STOP&To=%2B14155550199&MessageSid=SM1"))
	f.Add(false, []byte("From=+49+151+1234567&Body=start."))
	f.Add(true, []byte(`{"from":"+44 7700 900123","text":"Stop!"}`))
	f.Add(true, []byte(`{"From":"0044 7700 900123","Body":" unsubscribe "}`))
	f.Add(false, []byte("Body=%zz"))
	f.Fuzz(func(t *testing.T, isJSON bool, body []byte) {
		ct := "application/x-www-form-urlencoded"
		if isJSON {
			ct = "application/json; charset=utf-8"
		}
		in, err := parseInboundSMS(ct, body)
		if isJSON {
			var m struct{ From, Text, Body string }
			jerr := json.Unmarshal(body, &m)
			if (err == nil) != (jerr == nil) || err == nil && (in.From != m.From || in.Text != m.Text+m.Body) {
				t.Fatalf("parseInboundSMS(json %q) = %+v, %v; encoding/json: %+v, %v", body, in, err, m, jerr)
			}
		} else {
			v, ferr := url.ParseQuery(string(body))
			if (err == nil) != (ferr == nil) || err == nil && (in.From != v.Get("From") || in.Text != v.Get("Body")) {
				t.Fatalf("parseInboundSMS(form %q) = %+v, %v; url.ParseQuery: %v, %v", body, in, err, v, ferr)
			}
		}
		if err != nil {
			return
		}
		word, stop, start := smsKeyword(in.Text)
		if stop && start {
			t.Fatalf("%q is both a STOP and a START word", word)
		}
		if stop || start {
			for _, variant := range []string{strings.ToLower(in.Text), " " + in.Text + "!", "\t" + strings.ToUpper(in.Text) + "."} {
				if w2, s2, st2 := smsKeyword(variant); s2 != stop || st2 != start || w2 != word {
					t.Fatalf("keyword of %q is %q (stop %v), of %q %q (stop %v)", in.Text, word, stop, variant, w2, s2)
				}
			}
		}
		phone := identity.NormalizePhone(in.From)
		if phone != "" && (identity.NormalizePhone(phone) != phone || strings.Trim(phone, "+0123456789") != "") {
			t.Fatalf("sender %q normalises to %q, which is not stable +digits", in.From, phone)
		}
	})
}

package importer

import (
	"encoding/json"
	"time"

	"github.com/omniroi/omniroi/internal/event"
)

// customersConverter turns each row into an identify event whose traits are the row.
type customersConverter struct{ base }

func (c *customersConverter) isHeader(keys map[string]int) bool { return true }
func (c *customersConverter) wantsObjects() bool                { return true }
func (c *customersConverter) flush(func(*unit))                 {}

// customerTraits maps known columns to Segment's reserved trait names.
var customerTraits = map[string]string{
	"email": "email", "e_mail": "email", "phone": "phone", "phone_number": "phone",
	"first_name": "firstName", "firstname": "firstName", "last_name": "lastName", "lastname": "lastName",
	"name": "name", "created_at": "createdAt", "signup_date": "createdAt",
	"birthday": "birthday", "company": "company", "title": "title", "gender": "gender",
	"city": "city", "country": "country", "postal_code": "postalCode", "zip": "postalCode",
}

var customerIDKeys = []string{"customer_id", "user_id", "customerid", "userid", "id"}

func (c *customersConverter) add(r *row, emit func(*unit)) bool {
	u := &unit{rows: []*row{r}}
	defer emit(u)
	if r.hdr == nil && r.obj == nil {
		u.err = rowErr(r, "", "not a JSON object")
		return true
	}
	id, _ := r.get(customerIDKeys...)
	email, _ := r.get("email", "e_mail")
	phone, _ := r.get("phone", "phone_number")
	if id == "" && email == "" && phone == "" {
		u.err = rowErr(r, "customer_id", "a customer needs customer_id, email or phone")
		return true
	}
	traits := map[string]any{}
	var ts time.Time
	var bad *RowError
	r.each(func(name, key, val string) {
		if val == "" || bad != nil {
			return
		}
		for _, k := range customerIDKeys {
			if key == k {
				return
			}
		}
		t, ok := customerTraits[key]
		if !ok {
			t = key // extra columns keep their (normalised) name
		}
		if t == "createdAt" {
			v, err := parseTime(val)
			if err != nil {
				bad = rowErr(r, name, "%v", err)
				return
			}
			ts = v
			traits[t] = event.FormatTime(v)
			return
		}
		if r.hdr == nil {
			if raw := r.obj[key]; len(raw) > 0 && raw[0] != '"' {
				traits[t] = raw // numbers, booleans and objects stay typed in JSONL
				return
			}
		}
		traits[t] = val
	})
	if bad != nil {
		u.err = bad
		return true
	}
	p := map[string]any{
		"type":      "identify",
		"traits":    traits,
		"messageId": hashID("import-customer-", rowHash(r)),
		"context":   map[string]any{"library": map[string]string{"name": "omniroi-import"}},
	}
	if id != "" {
		p["userId"] = id
	} else if email != "" {
		p["anonymousId"] = anonFor("email", email)
	} else {
		p["anonymousId"] = anonFor("phone", phone)
	}
	if !ts.IsZero() {
		p["timestamp"] = event.FormatTime(ts)
	}
	b, err := json.Marshal(p)
	if err != nil {
		u.err = rowErr(r, "", "cannot encode: %v", err)
		return true
	}
	ev, err := c.normalize(b, time.Time{})
	if err != nil {
		u.err = eventErr(r, err)
		return true
	}
	u.events = []event.Event{ev}
	return true
}

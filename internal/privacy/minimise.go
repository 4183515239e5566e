package privacy

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// What a minimised event keeps: what counting, channel classification, orders, refunds
// and journey reports read, and nothing that names or describes the person. Used for
// events without analytics consent (ids go too) and by retention (ids stay, so that a
// rebuild still puts a person's old orders on them).
var (
	keepTop = map[string]bool{"type": true, "event": true, "name": true, "messageId": true, "timestamp": true,
		"originalTimestamp": true, "sentAt": true, "receivedAt": true}
	keepTopIDs = map[string]bool{"userId": true, "anonymousId": true, "previousId": true, "groupId": true}
	// properties: commerce.Props, the channel hints channel.FromSegment reads, cart and
	// journey bookkeeping. Free text (names, addresses, notes, search terms) is dropped.
	keepProps = map[string]bool{"order_id": true, "orderId": true, "revenue": true, "total": true, "amount": true,
		"value": true, "subtotal": true, "currency": true, "products": true, "location": true, "channel": true,
		"sales_channel": true, "order_channel": true, "source": true, "source_name": true, "campaign_name": true,
		"cart_id": true, "checkout_id": true, "discount": true, "shipping": true, "tax": true, "coupon": true,
		"quantity": true, "price": true, "product_id": true, "sku": true, "category": true, "full_refund": true,
		"journey": true, "run_id": true, "send_id": true, "idempotency_key": true, "purpose": true, "url": true, "referrer": true}
	keepProduct = map[string]bool{"product_id": true, "sku": true, "name": true, "category": true, "brand": true,
		"variant": true, "price": true, "quantity": true, "position": true, "coupon": true}
	keepContext = map[string]bool{"campaign": true, "consent": true, "library": true}
)

// minimise rewrites an event body to what analyses need. keepIDs keeps userId and
// anonymousId; why is recorded in context.omniroi.minimised. A body that is not a JSON
// object is replaced by {}.
func minimise(body []byte, keepIDs bool, why string) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		top = map[string]json.RawMessage{}
	}
	out := map[string]json.RawMessage{}
	for k, v := range top {
		if keepTop[k] || keepIDs && keepTopIDs[k] {
			out[k] = v
		}
	}
	if props := object(top["properties"]); props != nil {
		kept := map[string]json.RawMessage{}
		for k, v := range props {
			if !keepProps[k] {
				continue
			}
			switch k {
			case "products":
				v = keepItems(v)
			case "url", "referrer":
				v = cleanURLValue(v)
			}
			kept[k] = v
		}
		out["properties"] = mustJSON(kept)
	}
	ctx := map[string]json.RawMessage{}
	if c := object(top["context"]); c != nil {
		for k, v := range c {
			if keepContext[k] {
				ctx[k] = v
			}
		}
		if page := object(c["page"]); page != nil {
			p := map[string]json.RawMessage{}
			for _, k := range []string{"path", "url", "referrer"} {
				if v, ok := page[k]; ok {
					p[k] = cleanURLValue(v)
				}
			}
			ctx["page"] = mustJSON(p)
		}
		if ref := object(c["referrer"]); ref != nil {
			r := map[string]json.RawMessage{}
			for _, k := range []string{"type", "url", "link"} {
				if v, ok := ref[k]; ok {
					r[k] = cleanURLValue(v)
				}
			}
			ctx["referrer"] = mustJSON(r)
		}
	}
	ctx["omniroi"] = mustJSON(map[string]string{"minimised": why})
	out["context"] = mustJSON(ctx)
	// Consent answers recorded as traits (consent.email.marketing, ...) stay with the ids:
	// they are the record of what the person agreed to.
	if keepIDs {
		if traits := object(top["traits"]); traits != nil {
			kept := map[string]json.RawMessage{}
			for k, v := range traits {
				if strings.HasPrefix(strings.ToLower(k), "consent") {
					kept[k] = v
				}
			}
			if len(kept) > 0 {
				out["traits"] = mustJSON(kept)
			}
		}
	}
	return mustJSON(out)
}

func object(raw json.RawMessage) map[string]json.RawMessage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func keepItems(raw json.RawMessage) json.RawMessage {
	var items []map[string]json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return json.RawMessage("[]")
	}
	out := make([]map[string]json.RawMessage, 0, len(items))
	for _, it := range items {
		k := map[string]json.RawMessage{}
		for f, v := range it {
			if keepProduct[f] {
				k[f] = v
			}
		}
		out = append(out, k)
	}
	return mustJSON(out)
}

// cleanURLValue keeps a URL's scheme, host, path and the query parameters channel rules
// read (utm_*, ad click ids): the rest of a query can carry an email or a search.
func cleanURLValue(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return json.RawMessage(`""`)
	}
	return mustJSON(cleanURL(s))
}

func cleanURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "utm_") || strings.HasSuffix(lk, "clid") || clickIDs[lk] {
			continue
		}
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

var clickIDs = map[string]bool{"gbraid": true, "wbraid": true, "li_fat_id": true, "epik": true, "sccid": true, "rdt_cid": true}

func nowMS() int64 { return time.Now().UnixMilli() }

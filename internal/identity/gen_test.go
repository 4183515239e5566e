package identity_test

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// genEvents makes a deterministic, messy event stream: people on several devices who
// identify late, emails in order properties, a till with a shared email, placeholder ids,
// campaign clicks, orders and refunds, and timestamps that arrive out of order.
func genEvents(n int, seed uint64) []M {
	r := rand.New(rand.NewPCG(seed, 7))
	people := max(n/12, 10)
	type person struct {
		devices     []string
		user, email string
		phone, name string
		identified  bool
	}
	ps := make([]person, people)
	for i := range ps {
		p := &ps[i]
		for d := 0; d < 1+r.IntN(3); d++ {
			p.devices = append(p.devices, fmt.Sprintf("anon-%d-%d", i, d))
		}
		if r.IntN(2) == 0 {
			p.user = fmt.Sprintf("user-%d", i)
		}
		if r.IntN(10) < 7 {
			p.email = fmt.Sprintf("p%d@mail.example", i)
		}
		if r.IntN(10) < 3 {
			p.phone = fmt.Sprintf("+4930%07d", i)
		}
		p.name = fmt.Sprintf("Person %d", i)
	}
	sources := []M{
		{"page": M{"url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand"}},
		{"page": M{"url": "https://shop.example/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring"}},
		{"page": M{"url": "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=may"}},
		{"page": M{"url": "https://shop.example/blog", "referrer": "https://www.google.com/"}},
		{"page": M{"url": "https://shop.example/", "referrer": "https://blog.friend.example/post"}},
		{"page": M{"url": "https://shop.example/"}},
		{"campaign": M{"source": "instagram", "medium": "social", "name": "reels"}},
	}
	out := make([]M, 0, n)
	order := 0
	for i := 0; i < n; i++ {
		pi := r.IntN(people)
		p := &ps[pi]
		dev := p.devices[r.IntN(len(p.devices))]
		// Mostly in time order over half a year, with jitter; one in twenty arrives late
		// (an offline till syncing, a mobile app's queue).
		sec := int64(i) * (180 * 86400) / int64(n)
		if r.IntN(20) == 0 {
			sec = r.Int64N(sec + 1)
		} else {
			sec += r.Int64N(3600)
		}
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second).Format("2006-01-02T15:04:05.000Z")
		e := M{"messageId": fmt.Sprintf("m-%d-%d", seed, i), "anonymousId": dev, "timestamp": ts}
		if p.identified && p.user != "" && r.IntN(3) == 0 {
			e["userId"] = p.user
		}
		switch k := r.IntN(100); {
		case k < 55:
			e["type"] = "page"
			e["context"] = sources[r.IntN(len(sources))]
		case k < 70:
			e["type"] = "track"
			e["event"] = []string{"Product Viewed", "Product Added", "Checkout Started"}[r.IntN(3)]
			e["context"] = sources[r.IntN(len(sources))]
		case k < 80:
			e["type"] = "identify"
			if p.user != "" {
				e["userId"] = p.user
			}
			tr := M{"name": p.name, "visits": r.IntN(50)}
			if p.email != "" {
				tr["email"] = p.email
			}
			if p.phone != "" && r.IntN(2) == 0 {
				tr["phone"] = p.phone
			}
			e["traits"] = tr
			p.identified = true
		case k < 90:
			order++
			e["type"] = "track"
			e["event"] = "Order Completed"
			props := M{"order_id": fmt.Sprintf("o-%d", order), "revenue": fmt.Sprintf("%d.%02d", 5+r.IntN(200), r.IntN(100)),
				"products": []M{{"sku": "bread", "price": 3.5, "quantity": 1 + r.IntN(3)}}}
			if p.email != "" && r.IntN(2) == 0 {
				props["email"] = p.email
			}
			if r.IntN(5) == 0 {
				props["location"] = "store"
				props["email"] = "till@bakery.example" // the till's shared address
				e["anonymousId"] = "till-1"
				if p.user != "" {
					e["userId"] = p.user
				}
			}
			if r.IntN(20) == 0 { // re-sent order with a corrected amount
				props["order_id"] = fmt.Sprintf("o-%d", max(order-1, 1))
			}
			e["properties"] = props
		case k < 92:
			e["type"] = "track"
			e["event"] = "Order Refunded"
			pr := M{"order_id": fmt.Sprintf("o-%d", 1+r.IntN(max(order, 1)))}
			if r.IntN(2) == 0 {
				pr["amount"] = "2.50"
			}
			e["properties"] = pr
		case k < 94:
			e["type"] = "alias"
			if p.user == "" {
				e["type"] = "page"
			} else {
				e["userId"] = p.user
				e["previousId"] = p.devices[r.IntN(len(p.devices))]
				delete(e, "anonymousId")
			}
		case k < 96:
			e["type"] = "identify"
			e["userId"] = []string{"null", "undefined", "0"}[r.IntN(3)]
			e["traits"] = M{"email": "test@test.com"}
		default:
			e["type"] = "screen"
			e["name"] = "Home"
		}
		out = append(out, e)
	}
	return out
}

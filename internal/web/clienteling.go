package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/audit"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/value"
)

// The clienteling page: staff at the till or on the phone find one customer and see, on
// a phone-sized screen, what helps them serve that person now: the suggested action, the
// products to recommend with their reasons, the open cart, consent, predicted value and
// a compact history across channels. The staff role may open this page and nothing else.
// Every search and every card viewed is written to the audit log (who, which customer,
// never the search text or contact details).

const clientelingResults = 10

type clientelingHit struct {
	ID          int64
	Name, Email string
	Phone       string
	LastSeen    string
	Orders      int64
}

type clientelingData struct {
	Query string
	Hits  []clientelingHit
	More  bool
}

func (s *server) clienteling(w http.ResponseWriter, r *http.Request) error {
	p := s.newPage(r, "/clienteling", "Find a customer")
	p.NoRange = true
	d, err := s.searchClienteling(r.Context(), r.URL.Query().Get("q"), p.Range.Loc)
	if err != nil {
		return err
	}
	p.Data = d
	if d.Query == "" {
		return s.respond(w, r, "clienteling", p)
	}
	if len(d.Hits) == 1 && !wantsJSON(r) {
		http.Redirect(w, r, fmt.Sprintf("/clienteling/%d", d.Hits[0].ID), http.StatusSeeOther)
		return nil
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"results": d.Hits, "more": d.More})
		return nil
	}
	return s.respond(w, r, "clienteling", p)
}

// searchClienteling finds customers by name, email, phone, loyalty card or number (the
// Customers search, customerMatch), newest first, and records the search in the audit
// log; an empty query finds nothing and records nothing. The clienteling page and the
// clienteling API both call it.
func (s *server) searchClienteling(ctx context.Context, q string, loc *time.Location) (*clientelingData, error) {
	d := &clientelingData{Query: strings.TrimSpace(q)}
	if d.Query == "" {
		return d, nil
	}
	where, args := customerMatch(d.Query)
	rows, err := s.db.Query(ctx, `SELECT c.id, c.name, c.email, c.phone, c.last_seen, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id)
		FROM customers c WHERE `+where+` ORDER BY c.last_seen DESC LIMIT ?`, append(args, clientelingResults+1)...)
	if err != nil {
		return nil, fmt.Errorf("search customers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h clientelingHit
		var last int64
		if err := rows.Scan(&h.ID, &h.Name, &h.Email, &h.Phone, &last, &h.Orders); err != nil {
			return nil, err
		}
		if len(d.Hits) == clientelingResults {
			d.More = true
			break
		}
		h.LastSeen = formatTime(last, loc)
		d.Hits = append(d.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The search text may be an email or a phone number: the log keeps the count only.
	if err := audit.Record(ctx, s.db, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "customer.search",
		Detail: map[string]any{"page": "clienteling", "results": len(d.Hits)}}); err != nil {
		return nil, err
	}
	return d, nil
}

// clientelingCard is one customer, compact.
type clientelingCard struct {
	ID          int64    `json:"customer_id"`
	Name        string   `json:"name"`
	Email       string   `json:"email,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	Loyalty     string   `json:"loyalty_card,omitempty"`
	Since       string   `json:"customer_since"`
	Orders      int      `json:"orders"`
	Spent       string   `json:"spent"`
	Channels    []string `json:"channels"` // "store: 12 orders", "web: 3 orders"
	LastOrders  []clOrder
	LastSeen    []clTouch
	OpenCart    []clProduct                `json:"open_cart"`
	Consent     recommend.Contact          `json:"consent"`
	Action      *recommend.NextAction      `json:"next_best_action,omitempty"`
	ActionLabel string                     `json:"-"`
	Recs        []recommend.Recommendation `json:"recommendations"`
	Value       *customerValue             `json:"value,omitempty"`
	Note        string                     `json:"note,omitempty"` // why recommendations or actions are missing
}

type clOrder struct {
	Date, Where, Channel, Amount string
}

type clTouch struct {
	Date, What, Channel string
}

type clProduct struct {
	ID, Title, Price string
}

// actionLabels say each next best action in a few words for staff.
var actionLabels = map[string]string{
	recommend.ActionRecommend:     "Recommend a product",
	recommend.ActionWinBack:       "Win them back",
	recommend.ActionReviewRequest: "Ask for a review",
	recommend.ActionServiceCall:   "Call them",
	recommend.ActionNone:          "Nothing to suggest",
}

// personalSnap is the recommendation model and next best actions the pages read,
// computed in the background like the other models (compute.go).
type personalSnap struct {
	model   *recommend.Model
	actions *recommend.ActionSet
}

func (s *server) personalFor(ctx context.Context) (*personalSnap, error) {
	ver, err := s.dataVersion(ctx)
	if err != nil {
		return nil, err
	}
	v, _, _, err := computed(s.compute, "personal", ver, func(ctx context.Context) (*personalSnap, error) {
		m, err := s.rec.Model(ctx)
		if err != nil {
			return nil, err
		}
		set, err := s.rec.Actions(ctx)
		if err != nil && !errors.Is(err, value.ErrNoOrders) {
			return nil, err
		}
		return &personalSnap{model: m, actions: set}, nil
	})
	return v, err
}

// nextAction is the customer's next best action for the pages (nil while computing).
func (s *server) nextAction(ctx context.Context, snap *personalSnap, id int64) (*recommend.NextAction, error) {
	if snap == nil {
		return nil, nil
	}
	a, err := recommend.NextActionFor(ctx, s.db, snap.actions, id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func (s *server) clientelingCard(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil {
		return errNotFound
	}
	p := s.newPage(r, "/clienteling", "")
	p.NoRange = true
	c, err := s.buildClientelingCard(r, p, id, "clienteling")
	if err != nil {
		return err
	}
	p.Data = c
	if p.Title = c.Name; p.Title == "" {
		p.Title = fmt.Sprintf("Customer #%d", id)
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, c)
		return nil
	}
	return s.respond(w, r, "clienteling_card", p)
}

// buildClientelingCard is one customer's card, the one definition behind the clienteling
// page and the clienteling API: it records the view in the audit log (naming where it
// was shown from, and the customer by number only), and sets p.Refresh while recommendations are computed.
// errNotFound when there is no such customer.
func (s *server) buildClientelingCard(r *http.Request, p *page, id int64, from string) (*clientelingCard, error) {
	ctx := r.Context()
	prof, err := identity.Profile(ctx, s.db, id)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.auditView(ctx, id, from); err != nil {
		return nil, err
	}
	loc := p.Range.Loc
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	c := &clientelingCard{ID: id, Name: prof.Name, Email: prof.Email, Phone: prof.Phone, Since: formatDate(ms(prof.FirstSeen), loc)}
	for _, k := range []string{"loyalty_card", "loyalty_id", "loyalty"} {
		if raw, ok := prof.Traits[k]; ok {
			c.Loyalty = jsonText(raw)
			break
		}
	}
	// History: orders per channel, the last few orders and touchpoints.
	var spent int64
	perChannel := map[string]int{}
	for _, o := range prof.Orders {
		c.Orders++
		if o.Currency == p.Currency {
			spent += o.NetMinor()
		}
		where := o.Location
		if where == "" {
			where = o.Channel
		}
		if where == "" {
			where = "unknown"
		}
		perChannel[where]++
	}
	c.Spent = formatMoney(spent, p.Currency)
	for ch, n := range perChannel {
		c.Channels = append(c.Channels, fmt.Sprintf("%s: %d", ch, n))
	}
	sort.Strings(c.Channels)
	for i := len(prof.Orders) - 1; i >= 0 && len(c.LastOrders) < 5; i-- {
		o := prof.Orders[i]
		c.LastOrders = append(c.LastOrders, clOrder{Date: formatDate(ms(o.Time), loc), Where: o.Location, Channel: o.Channel, Amount: formatMoney(o.RevenueMinor, o.Currency)})
	}
	for i := len(prof.Touchpoints) - 1; i >= 0 && len(c.LastSeen) < 5; i-- {
		tp := prof.Touchpoints[i]
		what := tp.Name
		if what == "" {
			what = tp.Type
		}
		c.LastSeen = append(c.LastSeen, clTouch{Date: formatDate(ms(tp.Time), loc), What: what, Channel: tp.Channel})
	}
	if c.Consent, err = recommend.CustomerContact(ctx, s.db, id); err != nil {
		return nil, err
	}
	// Predicted value: the value models' snapshot, as on the customer page.
	cd := &customerData{ID: id}
	if err := s.customerValue(r, p, cd); err != nil {
		return nil, err
	}
	c.Value = cd.Value
	// Recommendations and the next best action (each honours the personalisation consent).
	snap, err := s.personalFor(ctx)
	switch {
	case errors.Is(err, errComputing):
		c.Note = "Recommendations are being worked out; this page reloads itself."
		p.Refresh = true
	case err != nil:
		c.Note = "No recommendations yet: " + err.Error()
	default:
		recs, err := s.rec.ForCustomerWith(ctx, snap.model, recommend.Request{CustomerID: id, Placement: "clienteling", N: 4})
		if err != nil {
			return nil, err
		}
		c.Recs = recs
		for _, pid := range snap.model.OpenCart(id) {
			cp := clProduct{ID: pid, Title: pid}
			if pr := snap.model.Product(pid); pr != nil {
				cp.Title = pr.Title
				if pr.PriceMinor > 0 {
					cp.Price = formatMoney(pr.PriceMinor, pr.Currency)
				}
			}
			c.OpenCart = append(c.OpenCart, cp)
		}
		if c.Action, err = s.nextAction(ctx, snap, id); err != nil {
			return nil, err
		}
		if c.Action != nil {
			c.ActionLabel = actionLabels[c.Action.Action]
		}
	}
	return c, nil
}

// auditView records that the signed-in user opened a customer's personal data: the
// customer number and the page, never what was shown.
func (s *server) auditView(ctx context.Context, id int64, page string) error {
	return audit.Record(ctx, s.db, audit.Entry{Actor: audit.ActorFrom(ctx), Action: "customer.view",
		Target: fmt.Sprintf("customer:%d", id), Detail: map[string]any{"page": page}})
}

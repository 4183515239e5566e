package web

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/recommend"
)

type customersData struct {
	Ready bool
	Query string
	Total int64 // customers in the database
	More  bool  // the result list was cut
}

// likeEscape makes user input literal inside a LIKE pattern (ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

const customerListLimit = 50

func (s *server) customers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := s.newPage(r, "/customers", "Customers")
	d := &customersData{Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	p.Data = d
	p.Q = d.Query
	ok, err := s.hasTable(ctx, "customers")
	if err != nil || !ok {
		return errors.Join(err, s.respond(w, r, "customers", p))
	}
	d.Ready = true
	cur := p.Currency
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM customers`).Scan(&d.Total); err != nil {
		return fmt.Errorf("count customers: %w", err)
	}
	sums := `(SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id),
		(SELECT ` + s.db.SumMinor("o.revenue_minor") + ` FROM orders o WHERE o.customer_id = c.id AND o.currency = ?)`
	var rows *sql.Rows
	if d.Query == "" {
		// Who was active in the period, most recent first (customers_last_seen index).
		rows, err = s.db.Query(ctx, `SELECT c.id, c.name, c.email, c.phone, c.first_seen, c.last_seen, c.events, `+sums+`
			FROM customers c WHERE c.last_seen >= ? AND c.last_seen < ? ORDER BY c.last_seen DESC LIMIT ?`,
			cur, p.Range.FromMS(), p.Range.ToMS(), customerListLimit+1)
	} else {
		where, margs := customerMatch(d.Query)
		args := append([]any{cur}, margs...)
		// Substring search over 20k customers is a scan of a few ms; exact identifiers
		// (user ids, anonymous ids, emails) go through the identities primary key.
		rows, err = s.db.Query(ctx, `SELECT c.id, c.name, c.email, c.phone, c.first_seen, c.last_seen, c.events, `+sums+`
			FROM customers c WHERE `+where+` ORDER BY c.last_seen DESC LIMIT ?`, append(args, customerListLimit+1)...)
	}
	if err != nil {
		return fmt.Errorf("search customers: %w", err)
	}
	defer rows.Close()
	loc := p.Range.Loc
	caption := "Customers active in the period (latest first)"
	if d.Query != "" {
		caption = "Customers matching “" + d.Query + "”"
	}
	t := p.addTable(&Table{ID: "customers", Caption: caption,
		Cols:  []Col{{Label: "Customer"}, {Label: "Name"}, {Label: "Email"}, {Label: "Phone"}, {Label: "First seen"}, {Label: "Last seen"}, {Label: "Events", Num: true}, {Label: "Orders", Num: true}, {Label: "Revenue", Num: true}},
		Empty: "No customers found."})
	for rows.Next() {
		var id, first, last, events, orders, revenue int64
		var name, email, phone string
		if err := rows.Scan(&id, &name, &email, &phone, &first, &last, &events, &orders, &revenue); err != nil {
			return err
		}
		if len(t.Rows) == customerListLimit {
			d.More = true
			break
		}
		href := p.Link("/customers/" + strconv.FormatInt(id, 10))
		t.Rows = append(t.Rows, []Cell{{Text: "#" + strconv.FormatInt(id, 10), Raw: strconv.FormatInt(id, 10), Href: href}, {Text: name, Href: href}, txt(email), txt(phone),
			txt(formatTime(first, loc)), txt(formatTime(last, loc)), num(events), num(orders), amount(revenue, cur)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.respond(w, r, "customers", p)
}

// customerMatch is the search of the Customers and Clienteling pages: a customer number
// (#42), part of a name or email, four or more digits of a phone number, or an exact
// identifier (user id, anonymous id such as a loyalty card, email, phone), or the value
// of a loyalty trait (loyalty_card, loyalty_id).
func customerMatch(query string) (string, []any) {
	q := strings.ToLower(query)
	id, _ := strconv.ParseInt(strings.TrimPrefix(q, "#"), 10, 64)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	pat := "%" + likeEscape(q) + "%"
	where := `c.id = ? OR LOWER(c.name) LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\'
			OR c.id IN (SELECT i.customer_id FROM identities i WHERE i.kind IN ('user_id', 'anonymous_id', 'email', 'phone') AND i.value = ?)`
	args := []any{id, pat, pat, query}
	if len(digits) >= 4 { // enough digits to be (part of) a phone number
		where += ` OR c.phone LIKE ?`
		args = append(args, "%"+digits+"%")
	}
	if len(query) >= 4 && !strings.ContainsAny(query, ` \"`) {
		// Traits are stored as {"loyalty_card":{"v":"loy_123",...}}: a loyalty card the
		// till sent as a trait only.
		where += ` OR c.traits LIKE ? ESCAPE '\'`
		args = append(args, `%"loyalty\_%":{"v":"`+likeEscape(query)+`"%`)
	}
	return where, args
}

type trait struct {
	Key, Value string
	Unverified bool // from a client source (a public key), not confirmed
}

type customerData struct {
	ID                     int64
	Name, Email, Phone     string
	UserID                 string
	FirstSeen, LastSeen    string
	Events                 int64
	Orders                 int64
	RevenueMinor, NetMinor int64
	Consent, Traits        []trait
	TimelineCut            bool
	Value                  *customerValue
	ValueNote              string
	// Contact points only a public key stated are not messaged until confirmed.
	EmailUnverified, PhoneUnverified bool
	MemberOf                         string                 // the groups (accounts, companies) the customer belongs to
	CanPrivacy                       bool                   // owner or admin: export and erase buttons (privacy.go)
	Signals                          *identity.ConsentState // newest consent signal (Consent Mode, TCF, categories)
	// The next best action (recommend.NextActions) with its reason; ActionNote while
	// it is being computed or when it cannot be.
	Action      *recommend.NextAction
	ActionLabel string
	ActionNote  string
}

// customerValue is the value models' view of one customer.
type customerValue struct {
	CLV, PAlive, Expected, AvgValue string
	Band, Segment, RFM, AsOf        string
	Acquired                        string
}

// consentKey recognises traits that record permission to contact.
func consentKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"consent", "opt_in", "optin", "opt_out", "optout", "subscribed", "unsubscribed", "marketing", "gdpr", "newsletter", "do_not"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func (s *server) customer(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := strconv.ParseInt(strings.TrimPrefix(r.PathValue("id"), "#"), 10, 64)
	if err != nil {
		return errNotFound
	}
	// The unified profile is identity's: one reading of customers, identities, orders,
	// refunds, touchpoints, conflicts and merges for the CLI, the API and this page.
	prof, err := identity.Profile(ctx, s.db, id)
	if errors.Is(err, identity.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	p := s.newPage(r, "/customers", fmt.Sprintf("Customer #%d", id))
	p.NoRange = true
	cur := p.Currency
	loc := p.Range.Loc
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	d := &customerData{ID: id, Name: prof.Name, Email: prof.Email, Phone: prof.Phone, UserID: prof.UserID,
		FirstSeen: formatTime(ms(prof.FirstSeen), loc), LastSeen: formatTime(ms(prof.LastSeen), loc), Events: prof.Events, TimelineCut: prof.Truncated}
	p.Data = d
	if d.Name != "" {
		p.Title = d.Name
	}
	unverified := map[string]bool{}
	for _, k := range prof.Unverified {
		unverified[k] = true
	}
	d.EmailUnverified, d.PhoneUnverified = unverified["email"], unverified["phone"]
	var groups []string
	for _, g := range prof.Groups {
		groups = append(groups, g.Label())
	}
	d.MemberOf = strings.Join(groups, ", ")
	d.CanPrivacy = sessionFrom(r).User.Role.Can(auth.PermPrivacy)
	d.Signals = prof.ConsentSignals
	for k, raw := range prof.Traits {
		tr := trait{Key: k, Value: jsonText(raw), Unverified: unverified[k]}
		if consentKey(k) {
			d.Consent = append(d.Consent, tr)
		}
		d.Traits = append(d.Traits, tr)
	}
	sort.Slice(d.Traits, func(i, j int) bool { return d.Traits[i].Key < d.Traits[j].Key })
	sort.Slice(d.Consent, func(i, j int) bool { return d.Consent[i].Key < d.Consent[j].Key })
	consentKeys := make([]string, len(d.Consent))
	for i, c := range d.Consent {
		consentKeys[i] = c.Key
	}
	if err := s.consentTable(ctx, p, prof, consentKeys, unverified); err != nil {
		return err
	}

	it := p.addTable(&Table{ID: "identities", Caption: "Identifiers merged into this customer",
		Cols: []Col{{Label: "Kind"}, {Label: "Value"}, {Label: "First seen"}, {Label: "Note"}}, Empty: "No identifiers."})
	for _, i := range prof.Identities {
		note := ""
		if i.Shared {
			note = "shared by several people: not used to merge"
		}
		it.Rows = append(it.Rows, []Cell{txt(i.Kind), txt(i.Value), txt(formatTime(ms(i.FirstSeen), loc)), txt(note)})
	}

	mt := p.addTable(&Table{ID: "merges", Caption: "Profiles merged into this one",
		Cols: []Col{{Label: "When"}, {Label: "Merged customer"}, {Label: "Because of"}}, Empty: "No merges: this profile was always one person."})
	for _, m := range prof.Merges {
		mt.Rows = append(mt.Rows, []Cell{txt(formatTime(ms(m.Time), loc)), {Text: "#" + strconv.FormatInt(m.MergedID, 10), Raw: strconv.FormatInt(m.MergedID, 10)}, txt(m.Kind + " " + m.Value)})
	}
	ct := p.addTable(&Table{ID: "conflicts", Caption: "Merges refused for this customer",
		Cols: []Col{{Label: "When"}, {Label: "Identifier"}, {Label: "Other customer"}, {Label: "Reason"}}, Empty: "None."})
	for _, c := range prof.Conflicts {
		other := ""
		if c.OtherID != 0 {
			other = "#" + strconv.FormatInt(c.OtherID, 10)
		}
		ct.Rows = append(ct.Rows, []Cell{txt(formatTime(ms(c.Time), loc)), txt(c.Kind + " " + c.Value), txt(other), txt(c.Reason)})
	}

	ot := p.addTable(&Table{ID: "orders", Caption: "Orders (newest first)",
		Cols: []Col{{Label: "Date"}, {Label: "Order"}, {Label: "Where"}, {Label: "Channel"}, {Label: "Revenue", Num: true}, {Label: "Refunded", Num: true}}, Empty: "No orders yet."})
	for i := len(prof.Orders) - 1; i >= 0; i-- {
		o := prof.Orders[i]
		d.Orders++
		if o.Currency == cur {
			d.RevenueMinor = money.SatAdd(d.RevenueMinor, o.RevenueMinor)
			d.NetMinor = money.SatAdd(d.NetMinor, o.NetMinor())
		}
		ot.Rows = append(ot.Rows, []Cell{txt(formatTime(ms(o.Time), loc)), txt(o.OrderID), txt(o.Location), txt(o.Channel), amount(o.RevenueMinor, o.Currency), amount(o.RefundedMinor, o.Currency)})
	}

	tt := p.addTable(&Table{ID: "timeline", Caption: "Timeline across channels (newest first)",
		Cols: []Col{{Label: "When"}, {Label: "What"}, {Label: "Channel"}, {Label: "Campaign"}, {Label: "Source / medium"}}, Empty: "No activity recorded."})
	perChannel := map[string]int64{}
	for i := len(prof.Touchpoints) - 1; i >= 0; i-- {
		tp := prof.Touchpoints[i]
		what := tp.Name
		switch {
		case what == "":
			what = tp.Type
		case tp.Type == "page" || tp.Type == "screen":
			what = tp.Type + ": " + tp.Name
		}
		sm := tp.Source
		if tp.Medium != "" {
			sm += " / " + tp.Medium
		}
		perChannel[tp.Channel]++
		tt.Rows = append(tt.Rows, []Cell{txt(formatTime(ms(tp.Time), loc)), txt(what), txt(tp.Channel), txt(tp.Campaign), txt(sm)})
	}
	if len(perChannel) > 0 {
		chs := make([]string, 0, len(perChannel))
		for c := range perChannel {
			chs = append(chs, c)
		}
		sort.Slice(chs, func(i, j int) bool {
			if perChannel[chs[i]] != perChannel[chs[j]] {
				return perChannel[chs[i]] > perChannel[chs[j]]
			}
			return chs[i] < chs[j]
		})
		c := &Chart{ID: "touchpoints", Kind: "bar", Title: "Touchpoints per channel"}
		t := &Table{ID: "touchpoints", Caption: "Touchpoints per channel", Hidden: true, Cols: []Col{{Label: "Channel"}, {Label: "Touchpoints", Num: true}}}
		vals := []float64{}
		for _, ch := range chs {
			c.X = append(c.X, ch)
			vals = append(vals, float64(perChannel[ch]))
			t.Rows = append(t.Rows, []Cell{txt(ch), num(perChannel[ch])})
		}
		c.Series = []Series{{Name: "Touchpoints", Data: vals}}
		c.Table = t
		p.addChart(c)
	}
	if err := s.customerValue(r, p, d); err != nil {
		return err
	}
	snap, err := s.personalFor(ctx)
	switch {
	case errors.Is(err, errComputing):
		d.ActionNote = "The next best action is being worked out; this page reloads itself."
		p.Refresh = true
	case err != nil:
		d.ActionNote = "No next best action: " + err.Error()
	default:
		if d.Action, err = s.nextAction(ctx, snap, id); err != nil {
			return err
		}
		d.ActionLabel = actionLabels[d.Action.Action]
	}
	if err := s.auditView(ctx, id, "customer"); err != nil {
		return err
	}
	return s.respond(w, r, "customer", p)
}

// customerValue fills the predicted value, churn band and RFM segment from the value
// snapshot; while it is being computed the page says so and reloads.
func (s *server) customerValue(r *http.Request, p *page, d *customerData) error {
	v, _, err := s.valueFor(r.Context())
	switch {
	case errors.Is(err, errComputing):
		d.ValueNote = "Predicted value is being computed; this page reloads itself."
		p.Refresh = true
		return nil
	case err != nil:
		d.ValueNote = "No customer value yet: " + err.Error()
		return nil
	}
	id := strconv.FormatInt(d.ID, 10)
	cv := &customerValue{AsOf: v.AsOf.Format("2 Jan 2006"), Acquired: v.Channels[id]}
	found := false
	if pr, _, ok := v.Prediction(id); ok {
		found = true
		cv.CLV = formatMoney(int64(pr.CLV+0.5), v.Currency)
		cv.PAlive = fmtPct(pAlive(pr))
		cv.Expected = strconv.FormatFloat(pr.ExpectedPurchases, 'f', 1, 64)
		cv.AvgValue = formatMoney(int64(pr.ExpectedAvgValue+0.5), v.Currency)
		cv.Band = pr.ChurnBand
	}
	if sc, ok := v.RFM(id); ok {
		found = true
		cv.Segment = sc.Segment
		cv.RFM = fmt.Sprintf("R%d F%d M%d", sc.R, sc.F, sc.M)
	}
	if !found {
		d.ValueNote = "No prediction: this customer has no order yet."
		return nil
	}
	d.Value = cv
	return nil
}

// jsonText shows a JSON value plainly: strings without quotes, the rest as JSON.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

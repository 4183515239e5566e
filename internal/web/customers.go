package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/auth"
	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/value"
)

type customersData struct {
	Ready bool
	Query string
	Total int64 // customers in the database

	// The list's filters and order, all in the URL (customerListQuery).
	Segment, Band, Channel string
	Sort, Dir              string
	Segments, Channels     []string // what the value snapshot offers to filter by
	Bands                  []string
	Sorts                  []sortOption
	Matching               int64 // customers that pass the search, period and filters
	Page, Pages            int
	Prev, Next             string // links to the neighbouring pages
	ValueNote              string // why value filters or sorts cannot apply now
}

type sortOption struct{ Key, Label string }

// customerSorts are the orders the list offers; every one is descending by default
// (churn risk: the least likely to still be a customer first).
var customerSorts = []sortOption{
	{"last_seen", "Last seen"}, {"value", "Predicted value"}, {"last_order", "Last order"},
	{"orders", "Orders"}, {"churn", "Churn risk"},
}

// likeEscape makes user input literal inside a LIKE pattern (ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

const customerListLimit = 50

// listedCustomer is one row of the customer list: stored data (customers and their
// orders) and, when the value snapshot has them, the customer's predictions.
type listedCustomer struct {
	ID                         int64
	Name, Email, Phone         string
	LastSeen                   int64
	Orders, LastOrder, Revenue int64
	HasValue                   bool
	CLV, PAlive                float64
	Band, Segment, Channel     string
}

func (s *server) customers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	p := s.newPage(r, "/customers", "Customers")
	d := &customersData{Query: strings.TrimSpace(q.Get("q")), Segment: q.Get("segment"), Band: q.Get("band"), Channel: q.Get("channel"),
		Sort: q.Get("sort"), Dir: q.Get("dir"), Sorts: customerSorts, Page: 1,
		Bands: []string{value.BandActive, value.BandCooling, value.BandAtRisk, value.BandLost}}
	if !slices.ContainsFunc(customerSorts, func(o sortOption) bool { return o.Key == d.Sort }) {
		d.Sort = "last_seen"
	}
	if d.Dir != "asc" {
		d.Dir = "desc"
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		d.Page = n
	}
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
	l := &customerList{query: d.Query, cur: cur, loc: p.Range.Loc, from: p.Range.FromMS(), to: p.Range.ToMS(),
		sort: d.Sort, asc: d.Dir == "asc", segment: d.Segment, band: d.Band, channel: d.Channel}
	// Predicted value, churn band, RFM segment and acquisition channel are the value
	// snapshot's (value.Service), the same the Segments page and the API show.
	v, _, verr := s.valueFor(ctx)
	switch {
	case errors.Is(verr, errComputing):
		d.ValueNote = "Predicted value, churn risk and segments are being computed; this page reloads itself."
		p.Refresh = true
	case verr != nil:
		d.ValueNote = "No predicted value yet: " + verr.Error()
	}
	if verr == nil {
		l.snap = v
		d.Segments, d.Channels = valueFilterChoices(v)
	}
	// Without the snapshot, its filters and sorts cannot apply yet: show nothing rather
	// than everything.
	empty := verr != nil && l.needsSnapshot()
	keep := []string{"q", d.Query, "segment", d.Segment, "band", d.Band, "channel", d.Channel, "sort", d.Sort, "dir", d.Dir}
	link := func(kv ...string) string {
		all := append(slices.Clone(keep), kv...)
		var pairs []string
		for i := 0; i+1 < len(all); i += 2 {
			if all[i+1] != "" && !(all[i] == "sort" && all[i+1] == "last_seen") && !(all[i] == "dir" && all[i+1] == "desc") && !(all[i] == "page" && all[i+1] == "1") {
				pairs = append(pairs, all[i], all[i+1])
			}
		}
		return p.Link("/customers", pairs...)
	}
	// paged is told how many customers match before the rows are read; it sets the
	// page and returns the offset of its first row.
	paged := func(matching int64) int {
		d.Matching = matching
		d.Pages = max(1, int((matching+customerListLimit-1)/customerListLimit))
		d.Page = min(d.Page, d.Pages)
		if d.Page > 1 {
			d.Prev = link("page", strconv.Itoa(d.Page-1))
		}
		if d.Page < d.Pages {
			d.Next = link("page", strconv.Itoa(d.Page+1))
		}
		return (d.Page - 1) * customerListLimit
	}

	loc := p.Range.Loc
	caption := "Customers active in the period"
	if d.Query != "" {
		caption = "Customers matching “" + d.Query + "”"
	}
	t := p.addTable(&Table{ID: "customers", Caption: caption,
		Cols: []Col{{Label: "Customer"}, {Label: "Name"}, {Label: "Email"}, {Label: "Last seen"}, {Label: "Orders", Num: true},
			{Label: "Last order"}, {Label: "Revenue", Num: true}, {Label: "Predicted value", Num: true}, {Label: "Churn risk"}, {Label: "Segment"}, {Label: "Acquired through"}},
		Empty: "No customers found."})
	t.CSVHref = link("format", "csv", "table", "customers")
	row := func(c listedCustomer) []Cell {
		href := p.Link("/customers/" + strconv.FormatInt(c.ID, 10))
		clv := Cell{Text: "–"}
		if c.HasValue {
			clv = amount(int64(c.CLV+0.5), v.Currency)
		}
		return []Cell{{Text: "#" + strconv.FormatInt(c.ID, 10), Raw: strconv.FormatInt(c.ID, 10), Href: href}, {Text: c.Name, Href: href}, txt(c.Email),
			txt(formatDate(c.LastSeen, loc)), num(c.Orders), txt(formatDate(c.LastOrder, loc)), amount(c.Revenue, cur), clv, txt(c.Band), txt(c.Segment), txt(c.Channel)}
	}
	if csvWanted(r, t.ID) { // the CSV holds every matching customer, written as they are read
		cs, err := newCSVStream(w, t, csvName(p, t))
		if err != nil || empty {
			return errors.Join(err, cs.close())
		}
		err = s.customerRows(ctx, l, -1, func(int64) int { return 0 }, func(c listedCustomer) error { return cs.row(row(c)) })
		return errors.Join(err, cs.close())
	}
	if empty {
		paged(0)
	} else if err := s.customerRows(ctx, l, customerListLimit, paged, func(c listedCustomer) error {
		t.Rows = append(t.Rows, row(c))
		return nil
	}); err != nil {
		return err
	}
	p.JSON = map[string]any{"customers": map[string]any{"matching": d.Matching, "page": d.Page, "pages": d.Pages, "per_page": customerListLimit}}
	return s.respond(w, r, "customers", p)
}

// valueFilterChoices lists the RFM segments and acquisition channels of the snapshot's
// customers, sorted, for the list's filters.
func valueFilterChoices(v *value.Snapshot) (segments, channels []string) {
	seg, ch := map[string]bool{}, map[string]bool{}
	for _, sc := range v.Segments.Scores {
		seg[sc.Segment] = true
	}
	for _, c := range v.Channels {
		ch[c] = true
	}
	if len(v.Channels) < len(v.Segments.Scores) {
		ch[value.UnknownChannel] = true
	}
	segments, channels = slices.Sorted(maps.Keys(seg)), slices.Sorted(maps.Keys(ch))
	return segments, channels
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
	// The timeline shown: one page of events (newest first), grouped by day.
	TimelineDays                []timelineDay
	TimelinePage, TimelinePages int
	TimelineEvents              int
	Newer, Older                string
	Value                       *customerValue
	ValueNote                   string
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
	var days []time.Time // each timeline row's time, for the grouping by day
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
		days = append(days, tp.Time.In(loc))
	}
	d.timelinePage(p, r, tt, days)
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

// timelineDay is one day's events on the profile's timeline (rows as in the timeline
// table, without the date).
type timelineDay struct {
	Heading string
	Rows    [][]Cell
}

const timelinePerPage = 50

// timelinePage groups one page of the timeline table's rows (newest first; times[i] is
// row i's time in the business time zone) under a heading per day; ?events=N picks the
// page. The CSV and JSON of the "timeline" table keep every row.
func (d *customerData) timelinePage(p *page, r *http.Request, tt *Table, times []time.Time) {
	d.TimelineEvents = len(tt.Rows)
	d.TimelinePages = max(1, (len(tt.Rows)+timelinePerPage-1)/timelinePerPage)
	d.TimelinePage = 1
	if n, err := strconv.Atoi(r.URL.Query().Get("events")); err == nil && n > 1 {
		d.TimelinePage = min(n, d.TimelinePages)
	}
	link := func(n int) string {
		if n == 1 {
			return p.Link(r.URL.Path) + "#timeline"
		}
		return p.Link(r.URL.Path, "events", strconv.Itoa(n)) + "#timeline"
	}
	if d.TimelinePage > 1 {
		d.Newer = link(d.TimelinePage - 1)
	}
	if d.TimelinePage < d.TimelinePages {
		d.Older = link(d.TimelinePage + 1)
	}
	lo := (d.TimelinePage - 1) * timelinePerPage
	hi := min(lo+timelinePerPage, len(tt.Rows))
	for i := lo; i < hi; i++ {
		h := times[i].Format("Monday 2 January 2006")
		if n := len(d.TimelineDays); n == 0 || d.TimelineDays[n-1].Heading != h {
			d.TimelineDays = append(d.TimelineDays, timelineDay{Heading: h})
		}
		day := &d.TimelineDays[len(d.TimelineDays)-1]
		row := slices.Clone(tt.Rows[i])
		row[0] = txt(times[i].Format("15:04"))
		day.Rows = append(day.Rows, row)
	}
}

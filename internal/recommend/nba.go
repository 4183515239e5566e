package recommend

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/value"
	"github.com/omniroi/omniroi/internal/workspace"
)

// Next best actions: one suggestion per customer among the actions the shop enabled.
const (
	ActionRecommend     = "recommend"      // send (or say at the till) the top "for you" product
	ActionWinBack       = "win_back"       // a win-back offer
	ActionReviewRequest = "review_request" // ask for a review of the last order
	ActionServiceCall   = "service_call"   // a person calls: valuable and slipping away
	ActionNone          = "none"
)

var actionsKey = workspace.Register(workspace.Key{Name: "recommend.actions", Group: "recommendations",
	Default: "recommend,win_back,review_request,service_call",
	Summary: "next best actions the shop offers (comma-separated: recommend, win_back, review_request, service_call)",
	Check: func(v string) (string, error) {
		for _, a := range workspace.SplitList(v) {
			switch a {
			case ActionRecommend, ActionWinBack, ActionReviewRequest, ActionServiceCall:
			default:
				return "", fmt.Errorf("unknown action %q (recommend, win_back, review_request, service_call)", a)
			}
		}
		return strings.Join(workspace.SplitList(v), ","), nil
	}})

// NextAction is one customer's suggested action with its reason in words.
type NextAction struct {
	CustomerID     int64           `json:"customer_id"`
	Action         string          `json:"action"`
	Channel        string          `json:"channel,omitempty"` // email, sms, phone
	Reason         string          `json:"reason"`
	Segment        string          `json:"segment,omitempty"`
	PAlive         float64         `json:"p_alive"`         // -1: unknown
	PredictedValue int64           `json:"predicted_value"` // 12-month CLV, minor units
	Currency       string          `json:"currency,omitempty"`
	Product        *Recommendation `json:"product,omitempty"`
}

// NBAOptions tune next best actions.
type NBAOptions struct {
	AsOf          time.Time     // default: the latest order
	QuietPeriod   time.Duration // no action within this long of the last message; default 14 days
	ReviewAfter   time.Duration // a review request from this long after an order...
	ReviewBefore  time.Duration // ...until this long; defaults 3 and 21 days
	ServiceCallPc float64       // service calls go to the top share by predicted value; default 0.1
}

// nbaInputs is what the rules read per customer.
type nbaInputs struct {
	segment      string
	pAlive       float64
	clv          float64
	lastOrder    time.Time
	orders       int
	email, sms   bool // marketing consent
	phone        bool
	lastContact  time.Time
	reviewAsked  bool // a review request after the last order
	personalised bool
}

// NextActions suggests one action for each customer in ids (nil: every customer with an
// order), from their RFM segment, P(alive) and predicted value (internal/value's models),
// consent, and the messages sent to them lately. model may be nil (no product then).
func NextActions(ctx context.Context, db *store.DB, m *Model, ids []int64, o NBAOptions) ([]NextAction, error) {
	if o.QuietPeriod <= 0 {
		o.QuietPeriod = 14 * 24 * time.Hour
	}
	if o.ReviewAfter <= 0 {
		o.ReviewAfter = 3 * 24 * time.Hour
	}
	if o.ReviewBefore <= 0 {
		o.ReviewBefore = 21 * 24 * time.Hour
	}
	if o.ServiceCallPc <= 0 {
		o.ServiceCallPc = 0.1
	}
	v, err := workspace.Get(ctx, db, actionsKey.Name)
	if err != nil {
		return nil, err
	}
	enabled := map[string]bool{}
	for _, a := range workspace.SplitList(v) {
		enabled[a] = true
	}
	rules, err := LoadRules(ctx, db)
	if err != nil {
		return nil, err
	}
	d, err := value.LoadStoreData(ctx, db, o.AsOf)
	if err != nil {
		return nil, err
	}
	if len(d.Transactions) == 0 {
		return nil, nil
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		for _, t := range d.Transactions {
			if t.Time.After(asOf) {
				asOf = t.Time
			}
		}
	}
	in := map[int64]*nbaInputs{}
	get := func(id int64) *nbaInputs {
		x := in[id]
		if x == nil {
			x = &nbaInputs{pAlive: -1}
			in[id] = x
		}
		return x
	}
	for _, t := range d.Transactions {
		id, err := strconv.ParseInt(t.CustomerID, 10, 64)
		if err != nil || t.Amount <= 0 {
			continue
		}
		x := get(id)
		x.orders++
		if t.Time.After(x.lastOrder) {
			x.lastOrder = t.Time
		}
	}
	scores, err := value.RFM(d.Transactions, asOf, nil)
	if err != nil {
		return nil, err
	}
	for _, s := range scores {
		if id, err := strconv.ParseInt(s.ID, 10, 64); err == nil {
			get(id).segment = s.Segment
		}
	}
	// P(alive) and predicted value: the same models as `omniroi clv` (weekly BG/NBD with
	// Pareto/NBD for the churn band, Gamma-Gamma for spend, 12 months).
	if sum, err := value.Summarize(d.Transactions, asOf, value.Week); err == nil {
		if models, err := value.FitModelsContext(ctx, sum, value.Week, true); err == nil {
			for _, p := range models.Score(sum, value.ScoreOptions{HorizonMonths: 12, Discount: 0.01, Bands: value.DefaultChurnBands}) {
				if id, err := strconv.ParseInt(p.ID, 10, 64); err == nil {
					x := get(id)
					x.clv = p.CLV
					x.pAlive = p.PAliveBGNBD
					if p.PAlivePareto >= 0 {
						x.pAlive = p.PAlivePareto
					}
				}
			}
		}
	}
	if ids == nil {
		for id := range in {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	// The value above which a customer is in the top ServiceCallPc.
	var clvs []float64
	for _, x := range in {
		clvs = append(clvs, x.clv)
	}
	sort.Float64s(clvs)
	topCLV := clvs[min(len(clvs)-1, int(float64(len(clvs))*(1-o.ServiceCallPc)))]
	if err := loadContactInputs(ctx, db, in, ids, rules.DefaultConsent); err != nil {
		return nil, err
	}
	out := make([]NextAction, 0, len(ids))
	for _, id := range ids {
		x := get(id)
		a := decide(x, enabled, asOf, o, topCLV, d.Currency)
		a.CustomerID, a.Segment, a.PAlive, a.PredictedValue, a.Currency = id, x.segment, round4(x.pAlive), int64(x.clv), d.Currency
		if a.Action == ActionRecommend && m != nil {
			recs := m.Recommend(Request{CustomerID: id, Placement: "email", List: ListForYou, N: 1, Personalised: true})
			if len(recs) == 0 {
				a = NextAction{CustomerID: id, Action: ActionNone, Reason: "nothing to recommend that they have not bought", Segment: x.segment,
					PAlive: round4(x.pAlive), PredictedValue: int64(x.clv), Currency: d.Currency}
			} else {
				a.Product = &recs[0]
				a.Reason += fmt.Sprintf(": %s, %s", recs[0].Title, recs[0].Reason)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// decide applies the rules, in order; the first that fits wins.
func decide(x *nbaInputs, enabled map[string]bool, asOf time.Time, o NBAOptions, topCLV float64, cur string) NextAction {
	none := func(why string) NextAction { return NextAction{Action: ActionNone, Reason: why} }
	if !x.personalised {
		return none("opted out of personalisation")
	}
	if x.orders == 0 {
		return none("has not bought yet (see omniroi leads)")
	}
	if !x.lastContact.IsZero() && asOf.Sub(x.lastContact) < o.QuietPeriod {
		return none(fmt.Sprintf("messaged %s ago; let them be", days(asOf.Sub(x.lastContact))))
	}
	since := asOf.Sub(x.lastOrder)
	slipping := x.pAlive >= 0 && x.pAlive < 0.5
	value := money.Format(int64(x.clv), cur) + " " + cur
	if enabled[ActionServiceCall] && slipping && x.clv >= topCLV && x.clv > 0 && x.phone {
		return NextAction{Action: ActionServiceCall, Channel: "phone",
			Reason: fmt.Sprintf("among the most valuable customers (predicted %s over 12 months) and slipping away (%.0f%% likely still active, last order %s ago): a call", value, 100*x.pAlive, days(since))}
	}
	winBackSegment := x.segment == "At Risk" || x.segment == "Can't Lose Them" || x.segment == "Hibernating" || x.segment == "About to Sleep"
	if enabled[ActionWinBack] && (winBackSegment || slipping) && (x.email || x.sms) {
		ch := "email"
		if !x.email {
			ch = "sms"
		}
		who := x.segment
		if who == "" {
			who = "slipping away"
		}
		return NextAction{Action: ActionWinBack, Channel: ch,
			Reason: fmt.Sprintf("%s: last order %s ago, %s likely still active; a win-back offer", who, days(since), pct(x.pAlive))}
	}
	if enabled[ActionReviewRequest] && since >= o.ReviewAfter && since <= o.ReviewBefore && !x.reviewAsked && x.email {
		return NextAction{Action: ActionReviewRequest, Channel: "email", Reason: fmt.Sprintf("ordered %s ago and was not asked for a review yet", days(since))}
	}
	if enabled[ActionRecommend] && (x.email || x.sms) {
		ch := "email"
		if !x.email {
			ch = "sms"
		}
		return NextAction{Action: ActionRecommend, Channel: ch, Reason: fmt.Sprintf("active (%s, %s likely still active)", orDash(x.segment), pct(x.pAlive))}
	}
	if !x.email && !x.sms {
		return none("no consent to marketing messages")
	}
	return none("no enabled action fits")
}

func pct(p float64) string {
	if p < 0 {
		return "unknown how"
	}
	return fmt.Sprintf("%.0f%%", 100*p)
}

func orDash(s string) string {
	if s == "" {
		return "no segment"
	}
	return s
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// loadContactInputs reads consent, phone, personalisation and recent messages of ids.
func loadContactInputs(ctx context.Context, db *store.DB, in map[int64]*nbaInputs, ids []int64, def bool) error {
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
		if in[id] == nil {
			in[id] = &nbaInputs{pAlive: -1}
		}
	}
	rows, err := db.Query(ctx, `SELECT id, phone, traits FROM customers`)
	if err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	for rows.Next() {
		var id int64
		var phone, traits string
		if err := rows.Scan(&id, &phone, &traits); err != nil {
			rows.Close()
			return err
		}
		if !want[id] {
			continue
		}
		x := in[id]
		x.phone = phone != ""
		x.personalised = Personalised(traits, def)
		x.email = traitConsent(traits, "email")
		x.sms = traitConsent(traits, "sms")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// journey_consent decisions (unsubscribes, STOP) win over traits.
	crows, err := db.Query(ctx, `SELECT customer_id, channel, granted FROM journey_consent WHERE purpose = 'marketing'`)
	if err != nil {
		return fmt.Errorf("read consent: %w", err)
	}
	for crows.Next() {
		var id int64
		var ch string
		var g int
		if err := crows.Scan(&id, &ch, &g); err != nil {
			crows.Close()
			return err
		}
		if x := in[id]; x != nil && want[id] {
			switch ch {
			case "email":
				x.email = g == 1
			case "sms":
				x.sms = g == 1
			}
		}
	}
	crows.Close()
	if err := crows.Err(); err != nil {
		return err
	}
	srows, err := db.Query(ctx, `SELECT customer_id, journey, MAX(sent_at) FROM journey_sends WHERE status = 'sent' GROUP BY customer_id, journey`)
	if err != nil {
		return fmt.Errorf("read sends: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id, at int64
		var j string
		if err := srows.Scan(&id, &j, &at); err != nil {
			return err
		}
		x := in[id]
		if x == nil || !want[id] {
			continue
		}
		t := time.UnixMilli(at).UTC()
		if t.After(x.lastContact) {
			x.lastContact = t
		}
		if strings.Contains(j, "review") && t.After(x.lastOrder) {
			x.reviewAsked = true
		}
	}
	return srows.Err()
}

// traitConsent reads a verified marketing consent for channel from stored traits
// (consent.<channel>.marketing, or {"consent":{"<channel>":{"marketing":true}}}).
func traitConsent(traits, channel string) bool {
	var raw map[string]struct {
		V any  `json:"v"`
		U bool `json:"u"`
	}
	if jsonUnmarshal(traits, &raw) != nil {
		return false
	}
	if t, ok := raw["consent."+channel+".marketing"]; ok {
		g, _ := choice(t.V)
		return g && !t.U
	}
	if t, ok := raw["consent"]; ok {
		if m, ok := t.V.(map[string]any); ok {
			if c, ok := m[channel].(map[string]any); ok {
				g, _ := choice(c["marketing"])
				return g && !t.U
			}
		}
	}
	return false
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// RankActions keeps the customers with an action (not "none"), most valuable first, up
// to limit: the list a small team works through.
func RankActions(as []NextAction, limit int) []NextAction {
	var out []NextAction
	for _, a := range as {
		if a.Action != ActionNone {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PredictedValue != out[j].PredictedValue {
			return out[i].PredictedValue > out[j].PredictedValue
		}
		return out[i].CustomerID < out[j].CustomerID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

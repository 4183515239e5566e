package demo

// Lever is one thing the business does that can be switched off in a counterfactual:
// a campaign or an owned channel. Ground truth removes levers and re-simulates.
type Lever uint16

const (
	LevGoogleBrand Lever = 1 << iota
	LevGoogleCakes
	LevGoogleLocal
	LevFBProspecting
	LevFBRetargeting
	LevIGAds
	LevIGOrganic
	LevEmail
	LevSMS
	LevReferral
	levCount = iota

	LevAll Lever = 1<<levCount - 1
)

// Campaign is how a lever's touches look in the data (UTMs, click ids, referrer) and
// what it costs.
type Campaign struct {
	Lever     Lever   `json:"-"`
	Key       string  `json:"key"`     // stable id used in ground_truth.json
	Channel   string  `json:"channel"` // GA4 default channel group name it classifies as
	Campaign  string  `json:"campaign"`
	Platform  string  `json:"platform"`
	UTMSource string  `json:"utm_source,omitempty"`
	UTMMedium string  `json:"utm_medium,omitempty"`
	ClickID   string  `json:"click_id,omitempty"` // gclid, fbclid
	Referrer  string  `json:"referrer,omitempty"`
	CPCMinor  int64   `json:"cpc_minor,omitempty"`                   // cost per click (ads)
	SendMinor int64   `json:"cost_per_100_messages_minor,omitempty"` // email/SMS platform fee
	CTR       float64 `json:"ctr,omitempty"`                         // impressions = clicks / CTR
}

// Campaigns lists every lever's appearance. Email and SMS campaigns vary by send; their
// UTMs are filled per message.
var Campaigns = []Campaign{
	{Lever: LevGoogleBrand, Key: "google_brand", Channel: "Paid Search", Campaign: "brand", Platform: "google_ads", UTMSource: "google", UTMMedium: "cpc", ClickID: "gclid", Referrer: "https://www.google.com/", CPCMinor: 32, CTR: 0.21},
	{Lever: LevGoogleCakes, Key: "google_cakes", Channel: "Paid Search", Campaign: "celebration-cakes", Platform: "google_ads", UTMSource: "google", UTMMedium: "cpc", ClickID: "gclid", Referrer: "https://www.google.com/", CPCMinor: 115, CTR: 0.052},
	{Lever: LevGoogleLocal, Key: "google_local", Channel: "Paid Search", Campaign: "bakery-near-me", Platform: "google_ads", UTMSource: "google", UTMMedium: "cpc", ClickID: "gclid", Referrer: "https://www.google.com/", CPCMinor: 160, CTR: 0.064},
	{Lever: LevFBProspecting, Key: "facebook_prospecting", Channel: "Paid Social", Campaign: "fb-prospecting-local", Platform: "meta_ads", UTMSource: "facebook", UTMMedium: "paid_social", ClickID: "fbclid", Referrer: "https://m.facebook.com/", CPCMinor: 90, CTR: 0.011},
	{Lever: LevFBRetargeting, Key: "facebook_retargeting", Channel: "Paid Social", Campaign: "fb-retargeting", Platform: "meta_ads", UTMSource: "facebook", UTMMedium: "paid_social", ClickID: "fbclid", Referrer: "https://m.facebook.com/", CPCMinor: 55, CTR: 0.018},
	{Lever: LevIGAds, Key: "instagram_ads", Channel: "Paid Social", Campaign: "ig-boosted-posts", Platform: "meta_ads", UTMSource: "instagram", UTMMedium: "paid_social", ClickID: "fbclid", Referrer: "https://l.instagram.com/", CPCMinor: 75, CTR: 0.009},
	{Lever: LevIGOrganic, Key: "instagram_organic", Channel: "Organic Social", Campaign: "ig-posts", Platform: "instagram", UTMSource: "instagram", UTMMedium: "social", Referrer: "https://l.instagram.com/"},
	{Lever: LevEmail, Key: "email", Channel: "Email", Campaign: "newsletter", Platform: "mailchimp", UTMSource: "newsletter", UTMMedium: "email", SendMinor: 40},
	{Lever: LevSMS, Key: "sms", Channel: "SMS", Campaign: "sms-offers", Platform: "twilio", UTMSource: "sms", UTMMedium: "sms", SendMinor: 700},
	{Lever: LevReferral, Key: "referral_blog", Channel: "Referral", Campaign: "", Platform: "", Referrer: "https://www.eatlocal-blog.example/best-bakeries"},
}

func campaignOf(l Lever) *Campaign {
	for i := range Campaigns {
		if Campaigns[i].Lever == l {
			return &Campaigns[i]
		}
	}
	panic("demo: no campaign for lever")
}

// route is how a new person first comes into contact with the bakery.
type route uint8

const (
	rExisting route = iota // a customer from before the window
	rWalkIn
	rOrganic
	rDirect
	rReferral
	rIGOrganic
	rIGAds
	rFBProspecting
	rGoogleLocal
	rGoogleCakes
	routeCount
)

var routeNames = [routeCount]string{"existing", "walk_in", "organic_search", "direct", "referral_blog", "instagram_organic", "instagram_ads", "facebook_prospecting", "google_local", "google_cakes"}

// routeLever is the lever a route needs; 0 for natural routes.
var routeLever = [routeCount]Lever{rReferral: LevReferral, rIGOrganic: LevIGOrganic, rIGAds: LevIGAds, rFBProspecting: LevFBProspecting, rGoogleLocal: LevGoogleLocal, rGoogleCakes: LevGoogleCakes}

// Params are the simulation's causal knobs. They are written into ground_truth.json so a
// reader can see what the "true" answer was built from.
type Params struct {
	ExistingShare float64                `json:"existing_share"` // people who are customers before the window
	RouteShare    map[string]float64     `json:"new_person_route_share"`
	Substitution  map[string]float64     `json:"substitution"` // P(the person still finds the bakery, later, by a natural route) when the route's lever is off
	Bouncer       map[string]float64     `json:"bouncer_share"`
	Lift          map[string]LiftSpec    `json:"lift"`
	Rates         map[string]float64     `json:"rates"`
	Segments      map[string]SegmentSpec `json:"segments"`
	// BudgetScale runs a budget channel's campaigns (by channel name, e.g. "Paid Search")
	// at this multiple of their usual budget every day; absent or 0 means 1. The default
	// demo runs Paid Search at 0.6 and Paid Social at 1.3: a misallocated split.
	BudgetScale map[string]float64 `json:"budget_scale,omitempty"`
}

// LiftSpec multiplies the daily purchase probability by Factor for Days days from a touch.
type LiftSpec struct {
	Factor float64 `json:"factor"`
	Days   int     `json:"days"`
}

// SegmentSpec describes a kind of customer.
type SegmentSpec struct {
	Share       float64 `json:"share"`
	MeanPerYear float64 `json:"mean_purchases_per_year"` // gamma-distributed across people (shape 0.8)
	WebShare    float64 `json:"web_share"`
}

// touch kinds that carry a lift.
type kind uint8

const (
	kEmailOpen kind = iota
	kEmailClick
	kCartEmailClick
	kSMSDelivered
	kSMSClick
	kIGOrganicClick
	kIGAdsClick
	kFBProspectingClick
	kFBRetargetingClick
	kCakeSearchPaid
	kCakeSearchOrganic
	kArrival
	kindCount
)

var kindNames = [kindCount]string{"email_open", "email_click", "cart_email_click", "sms_delivered", "sms_click", "instagram_organic_click", "instagram_ads_click", "facebook_prospecting_click", "facebook_retargeting_click", "google_cakes_click", "organic_cake_search_click", "arrival_session"}

type lift struct {
	factor float64
	days   int
}

// DefaultParams is the demo bakery.
func DefaultParams() Params {
	return Params{
		ExistingShare: 0.35,
		RouteShare: map[string]float64{
			"walk_in": 0.28, "organic_search": 0.12, "direct": 0.08, "referral_blog": 0.05,
			"instagram_organic": 0.10, "instagram_ads": 0.11, "facebook_prospecting": 0.09,
			"google_local": 0.10, "google_cakes": 0.07,
		},
		Substitution: map[string]float64{
			"referral_blog": 0.35, "instagram_organic": 0.25, "instagram_ads": 0.2,
			"facebook_prospecting": 0.4, "google_local": 0.7, "google_cakes": 0.45,
		},
		Bouncer: map[string]float64{
			"existing": 0, "walk_in": 0.05, "organic_search": 0.35, "direct": 0.2, "referral_blog": 0.5,
			"instagram_organic": 0.55, "instagram_ads": 0.88, "facebook_prospecting": 0.95,
			"google_local": 0.75, "google_cakes": 0.45,
		},
		Lift: map[string]LiftSpec{
			"email_open": {1.25, 2}, "email_click": {3.5, 2}, "cart_email_click": {3.0, 2},
			"sms_delivered": {1.1, 1}, "sms_click": {3.0, 2},
			"instagram_organic_click": {1.4, 3}, "instagram_ads_click": {1.5, 3},
			"facebook_prospecting_click": {1.3, 3}, "facebook_retargeting_click": {1.1, 2},
			"google_cakes_click": {8, 2}, "organic_cake_search_click": {2.0, 2},
			"arrival_session": {1.5, 7},
		},
		Rates: map[string]float64{
			"first_buy_walk_in":           0.85, // a walk-in usually buys something
			"first_buy_web":               0.22,
			"email_open":                  0.32,
			"email_click_given_open":      0.12,
			"cart_email_open":             0.45,
			"cart_email_click_given_open": 0.3,
			"sms_click":                   0.08,
			"ig_follow_existing":          0.2,
			"ig_follow_via_instagram":     0.5,
			"ig_follow_other":             0.08,
			"ig_organic_click":            0.03,
			"ig_ads_click":                0.005,
			"fb_prospecting_click":        0.0008,
			"fb_retargeting_click":        0.03,
			"fb_retargeting_capture":      0.5,  // share of natural web purchase sessions that arrive via a retargeting ad
			"brand_search_share":          0.5,  // share of natural web sessions that start with a search
			"brand_ad_capture":            0.55, // share of those brand searches that click the paid ad
			"brand_ad_convert":            0.08, // extra purchase chance of a browse session through the brand ad
			"cake_intent_per_day":         0.0025,
			"cake_search_paid":            0.45,
			"cake_search_organic":         0.3,
			"cake_cannibalisation":        0.5, // share of would-be paid cake clicks that click the organic result when there is no ad
			"browse_per_purchase":         1.3,
			"cart_abandon":                0.25,
			"refund":                      0.02,
			"subscribe_at_web_order":      0.55,
			"subscribe_at_loyalty":        0.3,
			"subscribed_existing":         0.45,
			"loyalty_join":                0.3,
			"sms_opt_in":                  0.4,
			"phone_order_share":           0.03,
			"mean_life_days_existing":     900,
			"mean_life_days_new":          500,
		},
		Segments: map[string]SegmentSpec{
			"regular":    {Share: 0.2, MeanPerYear: 30, WebShare: 0.08},
			"occasional": {Share: 0.45, MeanPerYear: 7, WebShare: 0.25},
			"web_lover":  {Share: 0.2, MeanPerYear: 10, WebShare: 0.75},
			"gifter":     {Share: 0.15, MeanPerYear: 3, WebShare: 0.6},
		},
		// Like many small shops, the bakery's budget is misallocated: search ads, which
		// catch people already looking for a cake, run at 0.6× the budget that would
		// pay, and Facebook/Instagram ads, which lose money, at 1.3× (docs/decisions.md,
		// "Budget model": the demo world is misallocated so the planner has a gain to find).
		BudgetScale: map[string]float64{"Paid Search": 0.6, "Paid Social": 1.3},
	}
}

var segmentNames = []string{"regular", "occasional", "web_lover", "gifter"}

// compiled is Params in array form for the hot loop.
type compiled struct {
	existing   float64
	routeShare [routeCount]float64
	subst      [routeCount]float64
	bouncer    [routeCount]float64
	lift       [kindCount]lift
	r          map[string]float64
	segShare   []float64
	segRate    []float64 // per day
	segWeb     []float64

	firstWalkIn, firstWeb, emailOpen, emailClick, cartOpen, cartClick, smsClick float64
	igOrgClick, igAdsClick, fbProsClick, fbRtClick, fbRtCapture                 float64
	brandSearch, brandCapture, brandConvert                                     float64
	cakeIntent, cakePaid, cakeOrganic, cakeCannibal                             float64
	browsePer, cartAbandon, refund                                              float64
	subWeb, subLoyal, subExisting, loyalJoin, smsOpt, phoneShare                float64
	lifeExisting, lifeNew                                                       float64
}

func compile(p Params) *compiled {
	c := &compiled{existing: p.ExistingShare, r: p.Rates}
	for i := route(1); i < routeCount; i++ {
		n := routeNames[i]
		c.routeShare[i] = p.RouteShare[n]
		c.subst[i] = p.Substitution[n]
		c.bouncer[i] = p.Bouncer[n]
	}
	for k := kind(0); k < kindCount; k++ {
		l := p.Lift[kindNames[k]]
		if l.Factor < 1 {
			l.Factor = 1 // a touch never hurts: ground truth relies on lifts >= 1
		}
		c.lift[k] = lift{l.Factor, l.Days}
	}
	for _, n := range segmentNames {
		s := p.Segments[n]
		c.segShare = append(c.segShare, s.Share)
		c.segRate = append(c.segRate, s.MeanPerYear/365)
		c.segWeb = append(c.segWeb, s.WebShare)
	}
	r := p.Rates
	c.firstWalkIn, c.firstWeb = r["first_buy_walk_in"], r["first_buy_web"]
	c.emailOpen, c.emailClick = r["email_open"], r["email_click_given_open"]
	c.cartOpen, c.cartClick = r["cart_email_open"], r["cart_email_click_given_open"]
	c.smsClick = r["sms_click"]
	c.igOrgClick, c.igAdsClick = r["ig_organic_click"], r["ig_ads_click"]
	c.fbProsClick, c.fbRtClick, c.fbRtCapture = r["fb_prospecting_click"], r["fb_retargeting_click"], r["fb_retargeting_capture"]
	c.brandSearch, c.brandCapture, c.brandConvert = r["brand_search_share"], r["brand_ad_capture"], r["brand_ad_convert"]
	c.cakeIntent, c.cakePaid, c.cakeOrganic, c.cakeCannibal = r["cake_intent_per_day"], r["cake_search_paid"], r["cake_search_organic"], r["cake_cannibalisation"]
	c.browsePer, c.cartAbandon, c.refund = r["browse_per_purchase"], r["cart_abandon"], r["refund"]
	c.subWeb, c.subLoyal, c.subExisting = r["subscribe_at_web_order"], r["subscribe_at_loyalty"], r["subscribed_existing"]
	c.loyalJoin, c.smsOpt, c.phoneShare = r["loyalty_join"], r["sms_opt_in"], r["phone_order_share"]
	c.lifeExisting, c.lifeNew = r["mean_life_days_existing"], r["mean_life_days_new"]
	return c
}

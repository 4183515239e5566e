package demo

import (
	"math"
)

type location uint8

const (
	locStore location = iota
	locWeb
	locPhone
)

var locationNames = [...]string{locStore: "store", locWeb: "web", locPhone: "phone"}

// person is one human the bakery meets (or could meet) during the window. Attributes
// are drawn once, identically in every counterfactual.
type person struct {
	id       uint32
	route    route
	arrive   int // day index of first contact; 0 for existing customers
	death    int // first day the person no longer buys (may be past the window)
	bouncer  bool
	seg      int
	rate     float64 // base purchases per day
	webShare float64
	laptop   bool

	uSubWeb, uSubLoyal, uLoyal, uSMS, uFollow, uSubst, uSubRoute, uExistSub, uExistLoyal, uAccount float64
	substDelay                                                                                     int
	uReach                                                                                         float64 // is the person's ad route running enough to reach them?
}

// outcome is what one person's year amounts to in one world.
type outcome struct {
	orders  int64
	revenue int64 // net of refunds, EUR minor units
	touched Lever // levers that touched this person at least once
}

func (w *world) newPerson(id uint32) person {
	c := w.c
	r := splitmix{mix64(w.seedHash ^ uint64(id)*0x9e3779b97f4a7c15 ^ 0xa0761d6478bd642f)}
	p := person{id: id}
	if r.float() < c.existing {
		p.route = rExisting
	} else {
		p.route = route(1 + pick(r.float(), c.routeShare[1:]))
		p.arrive = w.sampleArrival(p.route, r.float())
	}
	p.bouncer = r.float() < c.bouncer[p.route]
	p.seg = pick(r.float(), c.segShare)
	quality := 1.0
	switch p.route {
	case rIGAds, rFBProspecting, rIGOrganic:
		quality = 0.5 // social audiences buy less often than people who sought the shop out
	}
	p.rate = c.segRate[p.seg] * gamma08(&r) / 0.8 * quality
	if p.bouncer {
		p.rate = 0
	}
	p.webShare = math.Min(0.98, math.Max(0.01, c.segWeb[p.seg]*(0.6+0.8*r.float())))
	if p.route == rWalkIn {
		p.webShare *= 0.5
	}
	p.laptop = r.float() < 0.5
	mean := c.lifeNew
	if p.route == rExisting {
		mean = c.lifeExisting
	}
	life := -math.Log(1-r.float()) * mean
	p.death = p.arrive + int(math.Min(life, 10000))
	p.uSubWeb, p.uSubLoyal, p.uLoyal, p.uSMS = r.float(), r.float(), r.float(), r.float()
	p.uFollow, p.uSubst, p.uSubRoute = r.float(), r.float(), r.float()
	p.uExistSub, p.uExistLoyal, p.uAccount = r.float(), r.float(), r.float()
	p.substDelay = 7 + r.intn(60)
	p.uReach = r.float() // drawn last: the attributes before it are the same as without it
	return p
}

// gamma08 draws Gamma(shape 0.8, scale 1): heterogeneous buying rates as in NBD models.
func gamma08(r *splitmix) float64 {
	// Marsaglia–Tsang for shape+1, then the U^(1/shape) boost for shape < 1.
	const a = 1.8
	d := a - 1.0/3
	cc := 1 / math.Sqrt(9*d)
	for {
		x := normal(r)
		v := 1 + cc*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.float()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * math.Pow(1-r.float(), 1/0.8)
		}
	}
}

func normal(r *splitmix) float64 {
	u1 := 1 - r.float()
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// sampleArrival draws a first-contact day for a route, following demand (and the blog
// article for referrals).
func (w *world) sampleArrival(rt route, u float64) int {
	cdf := w.arrivalCDF[0]
	if rt == rReferral {
		cdf = w.arrivalCDF[1]
	}
	lo, hi := 0, len(cdf)-1
	x := u * cdf[len(cdf)-1]
	for lo < hi {
		m := (lo + hi) / 2
		if cdf[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// effective returns the person's route and first day in a world with the given levers
// on; ok is false when the person never finds the bakery there.
//
// A person on an ad route is reached by the campaign when it runs hard enough on the day
// they would meet it (reach of its level); when it is paused or too thin, they are in the
// same position as without the campaign.
func (w *world) effective(p *person, mask Lever) (rt route, arrive int, ok bool) {
	l := routeLever[p.route]
	if l == 0 || mask&l != 0 && (!isPaid(l) || p.uReach < reach(w.lv(l, p.arrive))) {
		return p.route, p.arrive, true
	}
	if p.uSubst >= w.c.subst[p.route] {
		return 0, 0, false
	}
	switch {
	case p.uSubRoute < 0.5:
		rt = rOrganic
	case p.uSubRoute < 0.8:
		rt = rWalkIn
	default:
		rt = rDirect
	}
	return rt, p.arrive + p.substDelay, true
}

// srcKind is where a web session came from.
type srcKind uint8

const (
	srcDirect srcKind = iota
	srcOrganic
	srcReferral
	srcLever // an ad or social click: see lever
	srcEmail
	srcSMS
	srcOrganicCake // organic search for a cake
)

type source struct {
	kind     srcKind
	lever    Lever
	campaign string // email/SMS campaign family
}

// simulate runs one person's year in the world where only mask's levers exist. em is
// nil for counterfactuals, which only need the outcome; the actual world emits events
// through em. Every branch that depends on a lever must draw its coin the same way with
// the lever on or off, and a touch may only raise purchase probability: that keeps the
// counterfactual coupled to the actual world.
func (w *world) simulate(p *person, mask Lever, em *emitter, t *tally) outcome {
	rt, arrive, ok := w.effective(p, mask)
	if !ok {
		return outcome{}
	}
	end := min(p.death, len(w.days))
	if arrive >= end {
		return outcome{}
	}
	y := &personYear{w: w, c: w.c, p: p, mask: mask, em: em, t: t, rt: rt, arrive: arrive, lastVisit: -1000, cartDay: -1000}
	for k := range y.liftUntil {
		y.liftUntil[k] = -1
	}
	y.startRelationship()
	if em != nil {
		em.start(p, y.account, y.loyal)
	}
	for d := arrive; d < end; d++ {
		s := &simDay{d: d, dy: &w.days[d]}
		if em != nil {
			em.newDay(d)
		}
		y.firstContact(s)
		y.ownedMessaging(s)
		y.ads(s)
		y.cakeSearch(s)
		y.decide(s)
		y.webSessions(s)
		if !s.buy {
			continue
		}
		y.order(s)
	}
	y.xp.done(t)
	if em != nil {
		em.finish()
	}
	return y.out
}

// personYear is one person's year in one world while simulate runs it: the
// world and levers, the person's relationship with the bakery so far, and the
// outcome being summed.
type personYear struct {
	w      *world
	c      *compiled
	p      *person
	mask   Lever
	em     *emitter // nil for counterfactuals
	t      *tally   // nil when nothing is tallied
	rt     route    // the route the person takes in this world
	arrive int      // the day of first contact in this world

	out                                          outcome
	subscribed, loyal, smsOpt, follower, account bool
	firstWeb, firstStore                         bool
	lastVisit, cartDay                           int
	boughtSinceVisit                             bool
	liftUntil                                    [kindCount]int
	xp                                           webTestState // the web test (experiments.go)
}

// simDay is what has happened to the person so far on one day of their year.
type simDay struct {
	d          int
	dy         *day
	clickSess  *session // the last ad/message click session today
	clickToday bool     // a click session exists today: a web order happens in it
	webPull    bool     // a click pulls today's purchase to the web store
	cake       bool
	firstBuy   bool
	retarget   bool // a recent visitor who has not bought: the retargeting ad may reach them
	buy        bool
	loc        location
	orderSess  *session // the web session the order is placed in
}

// startRelationship sets what the person is to the bakery before the year: an
// existing customer may be subscribed, in the loyalty scheme, opted in to SMS,
// an Instagram follower and have a web account; a newcomer may follow on
// Instagram, more likely when Instagram brought them.
func (y *personYear) startRelationship() {
	c, p := y.c, y.p
	if y.rt == rExisting {
		y.subscribed = p.uExistSub < c.subExisting
		y.loyal = p.uExistLoyal < c.loyalJoin*(1-p.webShare)*1.4
		y.smsOpt = y.loyal && p.uSMS < c.smsOpt
		y.follower = p.uFollow < c.r["ig_follow_existing"]
		y.account = p.uAccount < p.webShare
		y.firstWeb, y.firstStore = y.account, true
		return
	}
	switch y.rt {
	case rIGAds, rIGOrganic:
		y.follower = p.uFollow < c.r["ig_follow_via_instagram"]
	default:
		y.follower = p.uFollow < c.r["ig_follow_other"]
	}
}

// touch records that lever l touched the person on day d.
func (y *personYear) touch(l Lever, d int) {
	y.out.touched |= l
	if y.t != nil {
		y.t.clicks[d][levIndex(l)]++
	}
}

// firstContact is step 1: on the day a newcomer first meets the bakery, a
// walk-in may buy (an anonymous walk-in who buys nothing leaves no data); anyone
// else arrives in a web session from their route and may buy in it.
func (y *personYear) firstContact(s *simDay) {
	c, p, d := y.c, y.p, s.d
	if d != y.arrive || y.rt == rExisting {
		return
	}
	y.liftUntil[kArrival] = d + c.lift[kArrival].days
	if y.rt == rWalkIn {
		s.firstBuy = !p.bouncer && y.w.u(p.id, d, sFirstBuy) < c.firstWalkIn
		return
	}
	s.firstBuy = !p.bouncer && y.w.u(p.id, d, sFirstBuy) < c.firstWeb
	src := arrivalSource(y.rt)
	if src.kind == srcLever {
		y.touch(src.lever, d)
	}
	if y.em != nil {
		s.clickSess = y.em.webSession(d, src, !s.firstBuy && p.bouncer)
	}
	y.lastVisit, y.boughtSinceVisit = d, false
	s.clickToday, s.webPull = true, true
}

// ownedMessaging is step 2: the day's email campaign and the cart reminder
// for a subscriber (when email runs), then the day's SMS for someone opted in
// (when SMS runs).
func (y *personYear) ownedMessaging(s *simDay) {
	if y.subscribed && y.mask&LevEmail != 0 {
		if s.dy.email != "" {
			y.campaignEmail(s)
		}
		if y.cartDay == s.d-1 {
			y.cartEmail(s)
		}
	}
	if y.smsOpt && s.dy.sms != "" && y.mask&LevSMS != 0 {
		y.campaignSMS(s)
	}
}

// campaignEmail sends the day's email campaign: it may be opened and clicked,
// and each lifts buying for a while; a click opens a web session.
func (y *personYear) campaignEmail(s *simDay) {
	c, p, d, dy := y.c, y.p, s.d, s.dy
	y.out.touched |= LevEmail
	opened := y.w.u(p.id, d, sEmailOpen) < c.emailOpen
	clicked := opened && y.w.u(p.id, d, sEmailClick) < c.emailClick
	if y.t != nil {
		y.t.emailSends[d]++
	}
	if opened {
		y.liftUntil[kEmailOpen] = max(y.liftUntil[kEmailOpen], d+c.lift[kEmailOpen].days)
	}
	if clicked {
		y.liftUntil[kEmailClick] = max(y.liftUntil[kEmailClick], d+c.lift[kEmailClick].days)
		s.clickToday, s.webPull = true, true
	}
	if y.em != nil {
		if ss := y.em.sendEmail(d, dy.email, dy.emailSubj, opened, clicked); ss != nil {
			s.clickSess = ss
		}
	}
}

// cartEmail sends the reminder the day after a basket was left: a click lifts
// buying for a while and opens a web session.
func (y *personYear) cartEmail(s *simDay) {
	c, p, d := y.c, y.p, s.d
	y.out.touched |= LevEmail
	opened := y.w.u(p.id, d, sCartEmailOpen) < c.cartOpen
	clicked := opened && y.w.u(p.id, d, sCartEmailClick) < c.cartClick
	if y.t != nil {
		y.t.cartSends[d]++
	}
	if clicked {
		y.liftUntil[kCartEmailClick] = max(y.liftUntil[kCartEmailClick], d+c.lift[kCartEmailClick].days)
		s.clickToday, s.webPull = true, true
	}
	if y.em != nil {
		if ss := y.em.sendEmail(d, "cart-reminder", "You left something in your basket", opened, clicked); ss != nil {
			s.clickSess = ss
		}
	}
}

// campaignSMS sends the day's SMS: delivery lifts buying for a while, and a
// click more and opens a web session.
func (y *personYear) campaignSMS(s *simDay) {
	c, p, d, dy := y.c, y.p, s.d, s.dy
	y.out.touched |= LevSMS
	clicked := y.w.u(p.id, d, sSMSClick) < c.smsClick
	if y.t != nil {
		y.t.smsSends[d]++
	}
	y.liftUntil[kSMSDelivered] = max(y.liftUntil[kSMSDelivered], d+c.lift[kSMSDelivered].days)
	if clicked {
		y.liftUntil[kSMSClick] = max(y.liftUntil[kSMSClick], d+c.lift[kSMSClick].days)
		s.clickToday, s.webPull = true, true
	}
	if y.em != nil {
		if ss := y.em.sms(d, dy.sms, clicked); ss != nil {
			s.clickSess = ss
		}
	}
}

// adClick is a click on lever l's post or ad: it touches the person, lifts
// buying for a while (kind k) and opens a web session.
func (y *personYear) adClick(s *simDay, l Lever, k kind) {
	d := s.d
	y.touch(l, d)
	y.liftUntil[k] = max(y.liftUntil[k], d+y.c.lift[k].days)
	s.clickToday = true
	// A retargeted regular still buys where they always do.
	s.webPull = s.webPull || l != LevFBRetargeting
	y.lastVisit, y.boughtSinceVisit = d, false
	if y.em != nil {
		s.clickSess = y.em.webSession(d, source{kind: srcLever, lever: l}, false)
	}
}

// ads is step 3: clicks on Instagram posts (followers), boosted posts
// (followers twice as likely), Facebook prospecting, and Facebook retargeting
// for a recent visitor who has not bought; the paid ones click more when they
// run harder.
func (y *personYear) ads(s *simDay) {
	c, p, d, dy, w, mask := y.c, y.p, s.d, s.dy, y.w, y.mask
	if y.follower && dy.igPost && mask&LevIGOrganic != 0 && w.u(p.id, d, sIGOrganic) < c.igOrgClick {
		y.adClick(s, LevIGOrganic, kIGOrganicClick)
	}
	if dy.igBoost && mask&LevIGAds != 0 {
		q := c.igAdsClick * eff(w.lv(LevIGAds, d))
		if y.follower {
			q *= 2
		}
		if w.u(p.id, d, sIGAds) < q {
			y.adClick(s, LevIGAds, kIGAdsClick)
		}
	}
	if mask&LevFBProspecting != 0 && w.u(p.id, d, sFBProspecting) < c.fbProsClick*dy.web*eff(w.lv(LevFBProspecting, d)) {
		y.adClick(s, LevFBProspecting, kFBProspectingClick)
	}
	s.retarget = d-y.lastVisit <= 14 && d > y.lastVisit && !y.boughtSinceVisit
	if s.retarget && mask&LevFBRetargeting != 0 && w.u(p.id, d, sFBRetargeting) < c.fbRtClick*eff(w.lv(LevFBRetargeting, d)) {
		y.adClick(s, LevFBRetargeting, kFBRetargetingClick)
	}
}

// cakeSearch is step 4: a cake occasion sends the person to a search engine,
// where they click the cake ad (more of them when it runs harder) or an
// organic result; a click on the ad that only took an organic click is the
// ad's cannibalisation.
func (y *personYear) cakeSearch(s *simDay) {
	c, p, d, dy, w := y.c, y.p, s.d, s.dy, y.w
	if !(!p.bouncer && w.u(p.id, d, sCakeIntent) < c.cakeIntent*dy.cake*segCake[p.seg]) {
		return
	}
	us := w.u(p.id, d, sCakeSearch)
	paid := 0.0 // share of cake searchers who click the ad: more of them when it runs harder
	if y.mask&LevGoogleCakes != 0 {
		paid = math.Min(0.9, c.cakePaid*eff(w.lv(LevGoogleCakes, d)))
	}
	switch {
	case us < paid:
		s.cake = true
		y.adClick(s, LevGoogleCakes, kCakeSearchPaid)
	case us < c.cakePaid && w.u(p.id, d, sCakeCannibal) < c.cakeCannibal,
		us >= c.cakePaid && us < c.cakePaid+c.cakeOrganic:
		s.cake = true
		y.liftUntil[kCakeSearchOrganic] = max(y.liftUntil[kCakeSearchOrganic], d+c.lift[kCakeSearchOrganic].days)
		s.clickToday, s.webPull = true, true
		y.lastVisit, y.boughtSinceVisit = d, false
		if y.em != nil {
			s.clickSess = y.em.webSession(d, source{kind: srcOrganicCake}, false)
		}
	}
}

// decide is step 5: whether the person buys today (the day's demand times
// every lift still running) and where: the web store (likelier after a click;
// never for a walk-in's first visit), the phone or the shop; nothing from a
// closed shop.
func (y *personYear) decide(s *simDay) {
	c, p, d, dy, w := y.c, y.p, s.d, s.dy, y.w
	lf := 1.0
	for k := kind(0); k < kindCount; k++ {
		if d < y.liftUntil[k] {
			lf *= c.lift[k].factor
		}
	}
	demand := (1-p.webShare)*dy.store + p.webShare*dy.web
	pr := math.Min(0.95, p.rate*demand*lf)
	s.buy = s.firstBuy || w.u(p.id, d, sBuy) < pr
	s.loc = locStore
	if !s.buy {
		return
	}
	ul := w.u(p.id, d, sLocation)
	webP := p.webShare
	if s.webPull {
		webP = math.Max(webP, 0.85)
	}
	if y.rt == rWalkIn && d == y.arrive {
		webP = 0
	}
	switch {
	case ul < webP:
		s.loc = locWeb
	case (ul-webP)/(1-webP) < c.phoneShare:
		s.loc = locPhone
	}
	if s.loc != locWeb && dy.closedStore {
		s.buy = false
	}
}

// webSessions is step 6: the web sessions that are not clicks. A web order
// happens in today's click session, else in a session of its own; without one,
// the person may browse, which may turn into a brand-search order or an
// abandoned basket.
func (y *personYear) webSessions(s *simDay) {
	p, d := y.p, s.d
	if s.buy && s.loc == locWeb {
		if s.clickToday {
			s.orderSess = s.clickSess
			return
		}
		src := y.w.naturalSource(p, d, sPurchaseNatural, y.mask, s.retarget)
		if src.kind == srcLever {
			y.touch(src.lever, d)
		}
		if y.em != nil {
			s.orderSess = y.em.webSession(d, src, false)
		}
		return
	}
	y.browse(s)
}

// browse is a web session the person may start without buying in it: from a
// brand search it may still become an order; otherwise it may leave a basket
// behind (the cart reminder goes out the next day).
func (y *personYear) browse(s *simDay) {
	c, p, d, w := y.c, y.p, s.d, y.w
	pb := (p.rate*c.browsePer*p.webShare + bouncerBrowse(p)) * s.dy.web
	if !(w.u(p.id, d, sBrowse) < pb) {
		return
	}
	src := w.naturalSource(p, d, sBrowseSource, y.mask, s.retarget)
	if src.kind == srcLever {
		y.touch(src.lever, d)
	}
	var ss *session
	if y.em != nil {
		ss = y.em.webSession(d, src, p.bouncer)
	}
	y.lastVisit, y.boughtSinceVisit = d, false
	if src.kind == srcLever && src.lever == LevGoogleBrand && !s.buy && !p.bouncer &&
		w.u(p.id, d, sBrandConvert) < c.brandConvert {
		s.buy, s.loc, s.orderSess = true, locWeb, ss
	} else if !s.buy && !p.bouncer && w.u(p.id, d, sBrowseCart) < c.cartAbandon {
		y.cartDay = d
		if y.em != nil {
			y.em.abandon(ss)
		}
	}
}

// order is step 7: the basket, a refund (revenue inside the window counts net
// of it), the web test, the tally, and what the order starts: a first web order
// may subscribe, a first shop order may join the loyalty scheme (and with it
// email and SMS).
func (y *personYear) order(s *simDay) {
	c, p, d, dy, w, em, t := y.c, y.p, s.d, s.dy, y.w, y.em, y.t
	var b basket
	fillBasket(&b, w.key64(p.id, d, sBasket), s.loc, s.cake && s.loc == locWeb, dy)
	y.out.orders++
	refundDay := -1
	if w.u(p.id, d, sRefund) < c.refund {
		refundDay = d + 1 + int(w.key64(p.id, d, sRefund)%9)
	}
	exposure := w.webTestOrder(p, &y.xp, d, s.loc, &b, refundDay)
	if refundDay < 0 || refundDay >= len(w.days) {
		y.out.revenue += b.total
		refundDay = -1
	}
	if t != nil {
		t.orders[d]++
		if y.out.orders == 1 && p.route != rExisting {
			t.newCust[d]++
		}
		t.revenue[d] += b.total
		if refundDay >= 0 {
			t.revenue[refundDay] -= b.total
		}
	}
	if s.loc == locWeb {
		y.lastVisit, y.boughtSinceVisit = d, true
		if !y.firstWeb {
			y.firstWeb = true
			if p.uSubWeb < c.subWeb {
				y.subscribed = true
			}
		}
		if em != nil {
			em.subscribed, em.exposure = y.subscribed, exposure
			em.webOrder(s.orderSess, &b, refundDay)
		}
		y.account = true
		return
	}
	newLoyal := false
	if !y.firstStore {
		y.firstStore = true
		if p.uLoyal < c.loyalJoin {
			y.loyal, newLoyal = true, true
			if p.uSubLoyal < c.subLoyal {
				y.subscribed = true
			}
			y.smsOpt = p.uSMS < c.smsOpt
		}
	}
	if em != nil {
		em.subscribed, em.smsOpt = y.subscribed, y.smsOpt
		em.tillOrder(d, s.loc, &b, refundDay, y.loyal, newLoyal)
	}
}

// segCake scales cake occasions by segment: gifters buy cakes.
var segCake = []float64{0.6, 1, 1, 3}

func bouncerBrowse(p *person) float64 {
	if p.bouncer {
		return 0.004
	}
	return 0
}

func arrivalSource(rt route) source {
	switch rt {
	case rOrganic:
		return source{kind: srcOrganic}
	case rDirect:
		return source{kind: srcDirect}
	case rReferral:
		return source{kind: srcReferral}
	default:
		return source{kind: srcLever, lever: routeLever[rt]}
	}
}

// naturalSource picks how a self-motivated web session starts: typed in (direct), a
// search (organic or, when the brand campaign runs, often its ad), or, for a recent
// visitor who has not bought, the retargeting ad they happen to click. The ad choices
// take sessions that would have happened anyway: that is their cannibalisation.
func (w *world) naturalSource(p *person, d int, s stream, mask Lever, retarget bool) source {
	c := w.c
	if retarget && mask&LevFBRetargeting != 0 && w.u(p.id, d, sRetargetCapture) < math.Min(0.95, c.fbRtCapture*eff(w.lv(LevFBRetargeting, d))) {
		return source{kind: srcLever, lever: LevFBRetargeting}
	}
	u := w.u(p.id, d, s)
	if u < c.brandSearch {
		if mask&LevGoogleBrand != 0 && u/c.brandSearch < math.Min(0.95, c.brandCapture*eff(w.lv(LevGoogleBrand, d))) {
			return source{kind: srcLever, lever: LevGoogleBrand}
		}
		return source{kind: srcOrganic}
	}
	return source{kind: srcDirect}
}

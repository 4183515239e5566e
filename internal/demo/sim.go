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
	var out outcome
	c := w.c
	rt, arrive, ok := w.effective(p, mask)
	if !ok {
		return out
	}
	end := min(p.death, len(w.days))
	if arrive >= end {
		return out
	}
	var (
		subscribed, loyal, smsOpt, follower, account bool
		firstWeb, firstStore                         bool
		lastVisit, cartDay                           = -1000, -1000
		boughtSinceVisit                             bool
		liftUntil                                    [kindCount]int
	)
	for k := range liftUntil {
		liftUntil[k] = -1
	}
	if rt == rExisting {
		subscribed = p.uExistSub < c.subExisting
		loyal = p.uExistLoyal < c.loyalJoin*(1-p.webShare)*1.4
		smsOpt = loyal && p.uSMS < c.smsOpt
		follower = p.uFollow < c.r["ig_follow_existing"]
		account = p.uAccount < p.webShare
		firstWeb, firstStore = account, true
	} else {
		switch rt {
		case rIGAds, rIGOrganic:
			follower = p.uFollow < c.r["ig_follow_via_instagram"]
		default:
			follower = p.uFollow < c.r["ig_follow_other"]
		}
	}
	if em != nil {
		em.start(p, account, loyal)
	}
	touch := func(l Lever, d int) {
		out.touched |= l
		if t != nil {
			t.clicks[d][levIndex(l)]++
		}
	}
	for d := arrive; d < end; d++ {
		dy := &w.days[d]
		var (
			clickSess  *session // the last ad/message click session today
			clickToday bool     // a click session exists today: a web order happens in it
			webPull    bool     // a click pulls today's purchase to the web store
			cake       bool
			firstBuy   bool
		)
		if em != nil {
			em.newDay(d)
		}
		// 1. First contact.
		if d == arrive && rt != rExisting {
			liftUntil[kArrival] = d + c.lift[kArrival].days
			if rt == rWalkIn {
				// An anonymous walk-in who buys nothing leaves no data.
				firstBuy = !p.bouncer && w.u(p.id, d, sFirstBuy) < c.firstWalkIn
			} else {
				firstBuy = !p.bouncer && w.u(p.id, d, sFirstBuy) < c.firstWeb
				src := arrivalSource(rt)
				if src.kind == srcLever {
					touch(src.lever, d)
				}
				if em != nil {
					clickSess = em.webSession(d, src, !firstBuy && p.bouncer)
				}
				lastVisit, boughtSinceVisit = d, false
				clickToday, webPull = true, true
			}
		}
		// 2. Owned messaging.
		if subscribed && mask&LevEmail != 0 {
			if dy.email != "" {
				out.touched |= LevEmail
				opened := w.u(p.id, d, sEmailOpen) < c.emailOpen
				clicked := opened && w.u(p.id, d, sEmailClick) < c.emailClick
				if t != nil {
					t.emailSends[d]++
				}
				if opened {
					liftUntil[kEmailOpen] = max(liftUntil[kEmailOpen], d+c.lift[kEmailOpen].days)
				}
				if clicked {
					liftUntil[kEmailClick] = max(liftUntil[kEmailClick], d+c.lift[kEmailClick].days)
					clickToday, webPull = true, true
				}
				if em != nil {
					if s := em.sendEmail(d, dy.email, dy.emailSubj, opened, clicked); s != nil {
						clickSess = s
					}
				}
			}
			if cartDay == d-1 {
				out.touched |= LevEmail
				opened := w.u(p.id, d, sCartEmailOpen) < c.cartOpen
				clicked := opened && w.u(p.id, d, sCartEmailClick) < c.cartClick
				if t != nil {
					t.cartSends[d]++
				}
				if clicked {
					liftUntil[kCartEmailClick] = max(liftUntil[kCartEmailClick], d+c.lift[kCartEmailClick].days)
					clickToday, webPull = true, true
				}
				if em != nil {
					if s := em.sendEmail(d, "cart-reminder", "You left something in your basket", opened, clicked); s != nil {
						clickSess = s
					}
				}
			}
		}
		if smsOpt && dy.sms != "" && mask&LevSMS != 0 {
			out.touched |= LevSMS
			clicked := w.u(p.id, d, sSMSClick) < c.smsClick
			if t != nil {
				t.smsSends[d]++
			}
			liftUntil[kSMSDelivered] = max(liftUntil[kSMSDelivered], d+c.lift[kSMSDelivered].days)
			if clicked {
				liftUntil[kSMSClick] = max(liftUntil[kSMSClick], d+c.lift[kSMSClick].days)
				clickToday, webPull = true, true
			}
			if em != nil {
				if s := em.sms(d, dy.sms, clicked); s != nil {
					clickSess = s
				}
			}
		}
		// 3. Social and display ads.
		adClick := func(l Lever, k kind) {
			touch(l, d)
			liftUntil[k] = max(liftUntil[k], d+c.lift[k].days)
			clickToday = true
			// A retargeted regular still buys where they always do.
			webPull = webPull || l != LevFBRetargeting
			lastVisit, boughtSinceVisit = d, false
			if em != nil {
				clickSess = em.webSession(d, source{kind: srcLever, lever: l}, false)
			}
		}
		if follower && dy.igPost && mask&LevIGOrganic != 0 && w.u(p.id, d, sIGOrganic) < c.igOrgClick {
			adClick(LevIGOrganic, kIGOrganicClick)
		}
		if dy.igBoost && mask&LevIGAds != 0 {
			q := c.igAdsClick * eff(w.lv(LevIGAds, d))
			if follower {
				q *= 2
			}
			if w.u(p.id, d, sIGAds) < q {
				adClick(LevIGAds, kIGAdsClick)
			}
		}
		if mask&LevFBProspecting != 0 && w.u(p.id, d, sFBProspecting) < c.fbProsClick*dy.web*eff(w.lv(LevFBProspecting, d)) {
			adClick(LevFBProspecting, kFBProspectingClick)
		}
		retarget := d-lastVisit <= 14 && d > lastVisit && !boughtSinceVisit
		if retarget && mask&LevFBRetargeting != 0 && w.u(p.id, d, sFBRetargeting) < c.fbRtClick*eff(w.lv(LevFBRetargeting, d)) {
			adClick(LevFBRetargeting, kFBRetargetingClick)
		}
		// 4. A cake occasion sends the person to a search engine.
		if !p.bouncer && w.u(p.id, d, sCakeIntent) < c.cakeIntent*dy.cake*segCake[p.seg] {
			us := w.u(p.id, d, sCakeSearch)
			paid := 0.0 // share of cake searchers who click the ad: more of them when it runs harder
			if mask&LevGoogleCakes != 0 {
				paid = math.Min(0.9, c.cakePaid*eff(w.lv(LevGoogleCakes, d)))
			}
			switch {
			case us < paid:
				cake = true
				adClick(LevGoogleCakes, kCakeSearchPaid)
			case us < c.cakePaid && w.u(p.id, d, sCakeCannibal) < c.cakeCannibal,
				us >= c.cakePaid && us < c.cakePaid+c.cakeOrganic:
				cake = true
				liftUntil[kCakeSearchOrganic] = max(liftUntil[kCakeSearchOrganic], d+c.lift[kCakeSearchOrganic].days)
				clickToday, webPull = true, true
				lastVisit, boughtSinceVisit = d, false
				if em != nil {
					clickSess = em.webSession(d, source{kind: srcOrganicCake}, false)
				}
			}
		}
		// 5. Does the person buy today, and where?
		lf := 1.0
		for k := kind(0); k < kindCount; k++ {
			if d < liftUntil[k] {
				lf *= c.lift[k].factor
			}
		}
		demand := (1-p.webShare)*dy.store + p.webShare*dy.web
		pr := math.Min(0.95, p.rate*demand*lf)
		buy := firstBuy || w.u(p.id, d, sBuy) < pr
		loc := locStore
		if buy {
			ul := w.u(p.id, d, sLocation)
			webP := p.webShare
			if webPull {
				webP = math.Max(webP, 0.85)
			}
			if rt == rWalkIn && d == arrive {
				webP = 0
			}
			switch {
			case ul < webP:
				loc = locWeb
			case (ul-webP)/(1-webP) < c.phoneShare:
				loc = locPhone
			}
			if loc != locWeb && dy.closedStore {
				buy = false
			}
		}
		// 6. Web sessions that are not clicks: the purchase session, or a browse.
		var orderSess *session
		if buy && loc == locWeb {
			if clickToday {
				orderSess = clickSess
			} else {
				src := w.naturalSource(p, d, sPurchaseNatural, mask, retarget)
				if src.kind == srcLever {
					touch(src.lever, d)
				}
				if em != nil {
					orderSess = em.webSession(d, src, false)
				}
			}
		} else {
			pb := (p.rate*c.browsePer*p.webShare + bouncerBrowse(p)) * dy.web
			if w.u(p.id, d, sBrowse) < pb {
				src := w.naturalSource(p, d, sBrowseSource, mask, retarget)
				if src.kind == srcLever {
					touch(src.lever, d)
				}
				var s *session
				if em != nil {
					s = em.webSession(d, src, p.bouncer)
				}
				lastVisit, boughtSinceVisit = d, false
				if src.kind == srcLever && src.lever == LevGoogleBrand && !buy && !p.bouncer &&
					w.u(p.id, d, sBrandConvert) < c.brandConvert {
					buy, loc, orderSess = true, locWeb, s
				} else if !buy && !p.bouncer && w.u(p.id, d, sBrowseCart) < c.cartAbandon {
					cartDay = d
					if em != nil {
						em.abandon(s)
					}
				}
			}
		}
		if !buy {
			continue
		}
		// 7. The order.
		var b basket
		fillBasket(&b, w.key64(p.id, d, sBasket), loc, cake && loc == locWeb, dy)
		out.orders++
		refundDay := -1
		if w.u(p.id, d, sRefund) < c.refund {
			refundDay = d + 1 + int(w.key64(p.id, d, sRefund)%9)
		}
		if refundDay < 0 || refundDay >= len(w.days) {
			out.revenue += b.total
			refundDay = -1
		}
		if t != nil {
			t.orders[d]++
			t.revenue[d] += b.total
			if refundDay >= 0 {
				t.revenue[refundDay] -= b.total
			}
		}
		if loc == locWeb {
			lastVisit, boughtSinceVisit = d, true
			if !firstWeb {
				firstWeb = true
				if p.uSubWeb < c.subWeb {
					subscribed = true
				}
			}
			if em != nil {
				em.subscribed = subscribed
				em.webOrder(orderSess, &b, refundDay)
			}
			account = true
		} else {
			newLoyal := false
			if !firstStore {
				firstStore = true
				if p.uLoyal < c.loyalJoin {
					loyal, newLoyal = true, true
					if p.uSubLoyal < c.subLoyal {
						subscribed = true
					}
					smsOpt = p.uSMS < c.smsOpt
				}
			}
			if em != nil {
				em.subscribed, em.smsOpt = subscribed, smsOpt
				em.tillOrder(d, loc, &b, refundDay, loyal, newLoyal)
			}
		}
	}
	if em != nil {
		em.finish()
	}
	return out
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

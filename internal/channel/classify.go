package channel

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// regexCache remembers a regex's answer for values seen before. Mediums and
// campaign names repeat across millions of events, and Go's regexp costs
// hundreds of nanoseconds per call; a map read costs tens. Reads are lock-free
// (copy-on-write map); the cache stops growing at regexCacheMax values so
// high-cardinality input cannot grow memory without bound.
type regexCache struct {
	m  atomic.Pointer[map[string]bool]
	mu sync.Mutex
}

const regexCacheMax = 1024

func (c *regexCache) match(re *regexp.Regexp, v string) bool {
	m := c.m.Load()
	if m != nil {
		if ok, hit := (*m)[v]; hit {
			return ok
		}
		if len(*m) >= regexCacheMax {
			return re.MatchString(v)
		}
	}
	ok := re.MatchString(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= regexCacheMax {
		return ok
	}
	next := make(map[string]bool, 1+lenMap(old))
	if old != nil {
		for k, b := range *old {
			next[k] = b
		}
	}
	next[strings.Clone(v)] = ok // v may point into a large URL
	c.m.Store(&next)
	return ok
}

func lenMap(m *map[string]bool) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

type srcInfo struct{ name, category string }

// sourceTable maps utm_source values and referrer hosts to a canonical source
// and its category (search, social, shopping, video, ...).
type sourceTable struct {
	alias map[string]*srcInfo // exact utm_source values (and host tokens)
	host  map[string]*srcInfo // host or parent domain
	wild  map[string]*srcInfo // "google" for google.* (any TLD)
}

// lookupHost finds the most specific entry for host: mail.google.com beats
// google.*, and l.facebook.com falls back to facebook.com.
func (t *sourceTable) lookupHost(h string) *srcInfo {
	if t == nil {
		return nil
	}
	for s := h; s != ""; {
		if si := t.host[s]; si != nil {
			return si
		}
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			return nil
		}
		if si := t.wild[s[:dot]]; si != nil && tldLike(s[dot+1:]) {
			return si
		}
		s = s[dot+1:]
	}
	return nil
}

// tldLike reports whether s looks like a public suffix: "com", "de", "co.uk",
// "com.au". It is a heuristic for name.* patterns, not a public-suffix list.
func tldLike(s string) bool {
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return len(s) >= 2
	}
	first, rest := s[:dot], s[dot+1:]
	return len(first) >= 2 && len(first) <= 3 && len(rest) == 2 && strings.IndexByte(rest, '.') < 0
}

// lookup resolves a utm_source value or a host.
func (t *sourceTable) lookup(s string) *srcInfo {
	if t == nil || s == "" {
		return nil
	}
	if si := t.alias[s]; si != nil {
		return si
	}
	if strings.IndexByte(s, '.') >= 0 {
		return t.lookupHost(strings.TrimPrefix(s, "www."))
	}
	return nil
}

// Classify gives a touch its channel and campaign. Derivation of source and
// medium, in order: utm_* (context.campaign, then the page URL query, field by
// field); a click id in the page URL; the referrer (search engine -> organic,
// anything else -> referral; the business's own hosts are ignored); else
// (direct)/(none). The rules then run in order; the first match wins.
func (r *Rules) Classify(t Touch) Result {
	if r == nil || r.parseErr != nil {
		return Result{Channel: Unassigned, Campaign: NoCampaign, Source: DirectSource, Medium: NoMedium, Rule: "(rules failed to load)"}
	}
	var f [maxFields]string
	f[fType] = normalise(t.Type)
	f[fEvent] = normalise(t.Event)
	f[fHint] = foldSeparators(normalise(t.Hint))
	f[fLocation] = foldSeparators(normalise(t.Location))
	u := utmFields{source: normalise(t.Source), medium: normalise(t.Medium),
		campaign: normalise(t.Campaign), term: normalise(t.Term), content: normalise(t.Content)}

	// Page URL: utm_* fill what context.campaign left empty; click ids.
	pageHost, pagePath, query := splitURL(t.PageURL)
	f[fPageHost], f[fPagePath] = pageHost, strings.ToLower(pagePath)
	click := r.readPageQuery(query, &u, &f)
	f[fCampaign], f[fTerm], f[fContent] = u.campaign, u.term, u.content

	refHost, ref := r.referrer(t, pageHost, &f)
	if click >= 0 {
		f[fClickID] = r.clickIDs[click].param
	}
	source, medium, cat := r.sourceAndMedium(u.source, u.medium, click, refHost, ref)
	f[fSource], f[fMedium], f[fSourceCategory] = source, medium, cat
	return r.firstMatch(&f, u.campaign, source, medium)
}

// utmFields are a touch's campaign fields: from context.campaign, else the page URL.
type utmFields struct {
	source, medium, campaign, term, content string
}

// readPageQuery reads the page URL's query: utm_* parameters fill the fields context.campaign
// left empty, parameters the rules name fill their fields, and the earliest click id of
// the rule set found is returned (-1: none).
func (r *Rules) readPageQuery(query string, u *utmFields, f *[maxFields]string) int {
	click := -1
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || v == "" {
			continue
		}
		k = strings.ToLower(k)
		if rest, ok := strings.CutPrefix(k, "utm_"); ok {
			u.fill(rest, v)
		} else if i, ok := r.clickIdx[k]; ok && (click < 0 || i < click) {
			click = i
		}
		if fi, ok := r.queryFields[k]; ok && f[fi] == "" {
			f[fi] = queryValue(v)
		}
	}
	return click
}

// fill sets the utm field named (source, medium, campaign, term, content) from a query
// value, when it is still empty.
func (u *utmFields) fill(name, v string) {
	var dst *string
	switch name {
	case "source":
		dst = &u.source
	case "medium":
		dst = &u.medium
	case "campaign":
		dst = &u.campaign
	case "term":
		dst = &u.term
	case "content":
		dst = &u.content
	default:
		return
	}
	if *dst == "" {
		*dst = queryValue(v)
	}
}

// referrer is the touch's referring host (without www.) and what the source table knows
// of it. A referral from the page's own site or the business's own hosts counts as none
// and is marked a self-referral.
func (r *Rules) referrer(t Touch, pageHost string, f *[maxFields]string) (string, *srcInfo) {
	refHost := ""
	if t.Referrer != "" {
		refHost, _, _ = splitURL(t.Referrer)
		refHost = strings.TrimPrefix(refHost, "www.")
	}
	if refHost != "" && (ownHost(refHost, pageHost) || ownHosts(refHost, t.OwnHosts)) {
		f[fSelfReferral] = "true"
		refHost = ""
	}
	f[fReferrerHost] = refHost
	var ref *srcInfo
	if refHost != "" {
		ref = r.src.lookupHost(refHost)
		if ref != nil {
			f[fReferrerCategory] = ref.category
		}
	}
	return refHost, ref
}

// sourceAndMedium derives the touch's source, medium and source category: from utm
// fields, else a click id, else the referrer, else (direct)/(none).
func (r *Rules) sourceAndMedium(source, medium string, click int, refHost string, ref *srcInfo) (string, string, string) {
	var cat string
	switch {
	case source != "" || medium != "":
		if source == "" {
			source = NotSet
		}
		if medium == "" {
			medium = NotSet
		}
		if si := r.src.lookup(source); si != nil {
			source, cat = si.name, si.category
		}
	case click >= 0:
		c := &r.clickIDs[click]
		source, medium = c.source, c.medium
		if si := r.src.lookup(source); si != nil {
			source, cat = si.name, si.category
		}
		if c.preferReferrer && ref != nil && ref.category == cat {
			source = ref.name // fbclid from l.instagram.com is Instagram
		}
	case refHost != "" && ref != nil:
		source, cat = ref.name, ref.category
		medium = "referral"
		if cat == "search" {
			medium = "organic"
		}
	case refHost != "":
		source, medium = shortHost(refHost), "referral"
	default:
		source, medium = DirectSource, NoMedium
	}
	return source, medium, cat
}

// firstMatch runs the rules in order over the touch's fields and gives the first match's
// result, or Unassigned.
func (r *Rules) firstMatch(f *[maxFields]string, campaign, source, medium string) Result {
	var present uint32
	for i := range f {
		if f[i] != "" {
			present |= 1 << i
		}
	}
	var memo [64]int8 // per-call regex results: 0 unknown, 1 true, -1 false
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.allNeed&^present != 0 || (ru.anyNeed != 0 && ru.anyNeed&present == 0) {
			continue
		}
		if !ru.match(f, memo[:]) {
			continue
		}
		res := Result{Channel: ru.channel, Campaign: campaign, Source: source, Medium: medium, Rule: ru.name}
		res.apply(ru)
		return res
	}
	res := Result{Channel: Unassigned, Campaign: campaign, Source: source, Medium: medium, Rule: "(no rule matched)"}
	if res.Campaign == "" {
		res.Campaign = NoCampaign
	}
	return res
}

func (res *Result) apply(ru *rule) {
	if ru.set.source != "" {
		res.Source = ru.set.source
	}
	if ru.set.medium != "" {
		res.Medium = ru.set.medium
	}
	if ru.set.campaign != "" {
		res.Campaign = ru.set.campaign
	}
	if ru.dflt.source != "" && placeholder(res.Source) {
		res.Source = ru.dflt.source
	}
	if ru.dflt.medium != "" && placeholder(res.Medium) {
		res.Medium = ru.dflt.medium
	}
	if ru.dflt.campaign != "" && placeholder(res.Campaign) {
		res.Campaign = ru.dflt.campaign
	}
	if res.Campaign == "" {
		res.Campaign = NoCampaign
	}
}

func placeholder(s string) bool {
	return s == "" || s == DirectSource || s == NoMedium || s == NotSet
}

func (ru *rule) match(f *[maxFields]string, memo []int8) bool {
	for i := range ru.all {
		if !ru.all[i].match(f, memo) {
			return false
		}
	}
	if len(ru.any) == 0 {
		return true
	}
	for i := range ru.any {
		if ru.any[i].match(f, memo) {
			return true
		}
	}
	return false
}

func (c *cond) match(f *[maxFields]string, memo []int8) bool {
	v := f[c.field]
	var ok bool
	switch c.op {
	case opEquals:
		ok = v == c.str
	case opIn, opInList:
		if len(v) >= c.minLen && len(v) <= c.maxLen {
			if c.set != nil {
				_, ok = c.set[v]
			} else {
				for _, m := range c.list {
					if m == v {
						ok = true
						break
					}
				}
			}
		}
	case opPrefix:
		ok = strings.HasPrefix(v, c.str)
	case opSuffix:
		ok = strings.HasSuffix(v, c.str)
	case opContains:
		ok = strings.Contains(v, c.str)
	case opExists:
		ok = v != ""
	case opRegex:
		if c.memo < len(memo) && memo[c.memo] != 0 {
			ok = memo[c.memo] > 0
		} else {
			ok = c.cache.match(c.re, v)
			if c.memo < len(memo) {
				memo[c.memo] = -1
				if ok {
					memo[c.memo] = 1
				}
			}
		}
	}
	return ok != c.neg
}

// splitURL returns the lower-case host (no port, no userinfo), the path and the
// raw query of u, without allocating. A value without a dot in its host
// ("(direct)", "$direct") has no host.
func splitURL(u string) (host, path, query string) {
	u = strings.TrimSpace(u)
	if u == "" {
		return "", "", ""
	}
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if strings.HasPrefix(u, "//") {
		u = u[2:]
	}
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, query = u[:i], u[i+1:]
	}
	host = u
	if i := strings.IndexByte(u, '/'); i >= 0 {
		host, path = u[:i], u[i:]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ']') < 0 {
		host = host[:i]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if strings.IndexByte(host, '.') < 0 && host != "localhost" {
		host = ""
	}
	return host, path, query
}

// queryValue decodes and normalises one query value; it allocates only when
// the value is escaped or has capitals.
func queryValue(v string) string {
	if strings.IndexByte(v, '%') >= 0 || strings.IndexByte(v, '+') >= 0 {
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
	}
	return normalise(v)
}

// ownHost reports whether host is own or a subdomain of it ("www." ignored).
func ownHost(host, own string) bool {
	own = strings.TrimPrefix(own, "www.")
	if own == "" {
		return false
	}
	if host == own {
		return true
	}
	return len(host) > len(own) && host[len(host)-len(own)-1] == '.' && host[len(host)-len(own):] == own
}

func ownHosts(host string, own []string) bool {
	for _, o := range own {
		if !plainHost(o) {
			o, _, _ = splitURL(o)
		}
		if ownHost(host, o) {
			return true
		}
	}
	return false
}

// plainHost reports whether s is already a bare lower-case host name.
func plainHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// shortHost is the source name of an unknown referrer: the host without the
// mobile, link-shim and www prefixes sites put in front of their domain.
func shortHost(h string) string {
	for _, p := range [...]string{"www.", "m.", "l.", "lm.", "amp.", "mobile."} {
		if rest, ok := strings.CutPrefix(h, p); ok && strings.IndexByte(rest, '.') >= 0 {
			return rest
		}
	}
	return h
}

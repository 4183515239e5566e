package channel

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rules is a compiled rule set. It is immutable after Parse and safe for
// concurrent use.
type Rules struct {
	parseErr error

	rules    []rule
	src      *sourceTable
	clickIDs []clickID
	clickIdx map[string]int // lower-case param -> index in clickIDs
	lists    map[string][]string

	queryFields map[string]int // lower-case query param -> field index
	memoSlots   map[string]int // distinct (field, regex) pairs, memoised per call
	caches      []*regexCache  // one per memo slot
}

type rule struct {
	name, channel string
	all, any      []cond
	set, dflt     outputs
	// Fields that must be non-empty for the rule to match (all of allNeed,
	// one of anyNeed): lets Classify skip most rules with two bit tests.
	allNeed, anyNeed uint32
}

// needsValue reports whether c can only hold for a non-empty field.
func (c *cond) needsValue() bool {
	if c.neg {
		return false
	}
	switch c.op {
	case opExists:
		return true
	case opEquals, opPrefix, opSuffix, opContains:
		return c.str != ""
	case opIn, opInList:
		return c.minLen > 0
	case opRegex:
		return !c.re.MatchString("")
	}
	return false
}

func (ru *rule) index() {
	ru.allNeed, ru.anyNeed = 0, 0
	for i := range ru.all {
		if ru.all[i].needsValue() {
			ru.allNeed |= 1 << ru.all[i].field
		}
	}
	for i := range ru.any {
		if !ru.any[i].needsValue() {
			ru.anyNeed = 0
			return
		}
		ru.anyNeed |= 1 << ru.any[i].field
	}
}

type outputs struct{ source, medium, campaign string }

type opKind uint8

const (
	opEquals opKind = iota + 1
	opIn
	opInList
	opRegex
	opPrefix
	opSuffix
	opContains
	opExists
)

var opNames = map[string]opKind{
	"equals": opEquals, "in": opIn, "in_list": opInList, "regex": opRegex,
	"prefix": opPrefix, "suffix": opSuffix, "contains": opContains, "exists": opExists,
}

type cond struct {
	field          int
	op             opKind
	neg            bool
	str            string
	set            map[string]struct{} // in, in_list: large sets
	list           []string            // in, in_list: small sets, scanned (faster than hashing)
	minLen, maxLen int                 // in, in_list: lengths of the members, a cheap pre-filter
	re             *regexp.Regexp
	memo           int         // slot in the per-call regex memo (regex only)
	cache          *regexCache // results across calls, shared by the slot's conditions
}

type clickID struct {
	param, source, medium string
	preferReferrer        bool
}

// smallSet is the size up to which an "in" list is scanned rather than hashed.
const smallSet = 8

// Field indexes. Query-parameter fields (query.<param>) follow numFixed.
const (
	fType = iota
	fEvent
	fSource
	fMedium
	fCampaign
	fTerm
	fContent
	fSourceCategory
	fReferrerHost
	fReferrerCategory
	fPageHost
	fPagePath
	fClickID
	fHint
	fLocation
	fSelfReferral
	numFixed

	maxFields = 32 // a fixed array keeps Classify allocation-free
)

var fieldNames = map[string]int{
	"type": fType, "event": fEvent, "source": fSource, "medium": fMedium,
	"campaign": fCampaign, "term": fTerm, "content": fContent,
	"source_category": fSourceCategory, "referrer_host": fReferrerHost,
	"referrer_category": fReferrerCategory, "page_host": fPageHost,
	"page_path": fPagePath, "click_id": fClickID, "hint": fHint,
	"location": fLocation, "self_referral": fSelfReferral,
}

func knownFields() string {
	names := make([]string, 0, len(fieldNames)+1)
	for n := range fieldNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(append(names, "query.<param>"), ", ")
}

func knownOps() string {
	names := make([]string, 0, len(opNames))
	for n := range opNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseErrorf prefixes the YAML line of n.
func parseErrorf(n *yaml.Node, format string, args ...any) error {
	if n != nil && n.Line > 0 {
		return fmt.Errorf("channel rules: line %d: "+format, append([]any{n.Line}, args...)...)
	}
	return fmt.Errorf("channel rules: "+format, args...)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapPairs returns the key/value pairs of a mapping node, in file order.
func mapPairs(n *yaml.Node, what string) ([][2]*yaml.Node, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, parseErrorf(n, "%s must be a mapping", what)
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if seen[k.Value] {
			return nil, parseErrorf(k, "%s: duplicate key %q", what, k.Value)
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out, nil
}

func scalar(n *yaml.Node, what string) (string, error) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", parseErrorf(n, "%s must be a single value", what)
	}
	return n.Value, nil
}

func boolean(n *yaml.Node, what string) (bool, error) {
	s, err := scalar(n, what)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, parseErrorf(n, "%s must be true or false, not %q", what, s)
	}
	return b, nil
}

// strList accepts a sequence of values or a single value.
func strList(n *yaml.Node, what string) ([]string, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		s, err := scalar(n, what)
		return []string{s}, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, parseErrorf(n, "%s must be a list", what)
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		s, err := scalar(c, fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parse compiles data. base supplies sections the file leaves out (nil when
// parsing the embedded defaults, which must be complete).
func parse(data []byte, base *Rules) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("channel rules: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("channel rules: empty file")
	}
	top, err := mapPairs(doc.Content[0], "the rules file")
	if err != nil {
		return nil, err
	}
	r := &Rules{queryFields: map[string]int{}, memoSlots: map[string]int{}}
	var rulesNode *yaml.Node
	appendDefaults := false
	haveSources, haveClicks, haveLists := false, false, false
	for _, kv := range top {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "version":
			s, err := scalar(v, "version")
			if err != nil {
				return nil, err
			}
			if s != "1" {
				return nil, parseErrorf(v, "unsupported version %q (this omniroi reads version 1)", s)
			}
		case "sources":
			if r.src, err = parseSources(v); err != nil {
				return nil, err
			}
			haveSources = true
		case "click_ids":
			if err := r.parseClickIDs(v); err != nil {
				return nil, err
			}
			haveClicks = true
		case "lists":
			if r.lists, err = parseLists(v); err != nil {
				return nil, err
			}
			haveLists = true
		case "rules":
			rulesNode = v
		case "append_default_rules":
			if appendDefaults, err = boolean(v, "append_default_rules"); err != nil {
				return nil, err
			}
		default:
			return nil, parseErrorf(k, "unknown top-level key %q (known: version, sources, click_ids, lists, rules, append_default_rules)", k.Value)
		}
	}
	if base == nil && (!haveSources || !haveClicks) {
		return nil, errors.New("channel rules: the default file needs sources and click_ids")
	}
	if !haveSources {
		r.src = base.src
	}
	if !haveClicks {
		r.clickIDs, r.clickIdx = base.clickIDs, base.clickIdx
	}
	if !haveLists && base != nil {
		r.lists = base.lists
	}
	if rulesNode == nil {
		return nil, errors.New("channel rules: missing rules section")
	}
	if err := r.parseRules(rulesNode); err != nil {
		return nil, err
	}
	if appendDefaults {
		if base == nil {
			return nil, errors.New("channel rules: append_default_rules in the default file")
		}
		if err := r.appendRules(base); err != nil {
			return nil, err
		}
	}
	if len(r.rules) == 0 {
		return nil, parseErrorf(rulesNode, "rules: no rules")
	}
	return r, nil
}

func parseLists(n *yaml.Node) (map[string][]string, error) {
	pairs, err := mapPairs(n, "lists")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(pairs))
	for _, kv := range pairs {
		vals, err := strList(kv[1], "lists."+kv[0].Value)
		if err != nil {
			return nil, err
		}
		out[kv[0].Value] = vals
	}
	return out, nil
}

func (r *Rules) parseClickIDs(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		return parseErrorf(n, "click_ids must be a list")
	}
	r.clickIDs = nil
	r.clickIdx = map[string]int{}
	for i, item := range n.Content {
		what := fmt.Sprintf("click_ids[%d]", i)
		pairs, err := mapPairs(item, what)
		if err != nil {
			return err
		}
		var c clickID
		for _, kv := range pairs {
			k, v := kv[0], kv[1]
			switch k.Value {
			case "param", "source", "medium":
				s, err := scalar(v, what+"."+k.Value)
				if err != nil {
					return err
				}
				s = normalise(s)
				switch k.Value {
				case "param":
					c.param = s
				case "source":
					c.source = s
				default:
					c.medium = s
				}
			case "prefer_referrer":
				if c.preferReferrer, err = boolean(v, what+".prefer_referrer"); err != nil {
					return err
				}
			default:
				return parseErrorf(k, "%s: unknown key %q (known: param, source, medium, prefer_referrer)", what, k.Value)
			}
		}
		if c.param == "" || c.source == "" || c.medium == "" {
			return parseErrorf(item, "%s needs param, source and medium", what)
		}
		if _, dup := r.clickIdx[c.param]; dup {
			return parseErrorf(item, "%s: param %q listed twice", what, c.param)
		}
		r.clickIdx[c.param] = len(r.clickIDs)
		r.clickIDs = append(r.clickIDs, c)
	}
	return nil
}

func (r *Rules) parseRules(n *yaml.Node) error {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		return parseErrorf(n, "rules must be a list")
	}
	names := map[string]int{}
	for i, item := range n.Content {
		ru, err := r.parseRule(i, item)
		if err != nil {
			return err
		}
		if j, dup := names[ru.name]; dup {
			return parseErrorf(item, "rules[%d]: name %q already used by rules[%d]", i, ru.name, j)
		}
		names[ru.name] = i
		ru.index()
		r.rules = append(r.rules, ru)
	}
	return nil
}

func (r *Rules) appendRules(base *Rules) error {
	names := map[string]bool{}
	for _, ru := range r.rules {
		names[ru.name] = true
	}
	for _, ru := range base.rules {
		if names[ru.name] {
			return fmt.Errorf("channel rules: rule %q is also a default rule name; rename it or drop append_default_rules", ru.name)
		}
		// Recompile against this rule set: field indexes of query.<param> and
		// memo slots are per rule set.
		cp := ru
		var err error
		if cp.all, err = r.rebind(ru.all, base); err != nil {
			return fmt.Errorf("channel rules: default rule %q: %w", ru.name, err)
		}
		if cp.any, err = r.rebind(ru.any, base); err != nil {
			return fmt.Errorf("channel rules: default rule %q: %w", ru.name, err)
		}
		cp.index()
		r.rules = append(r.rules, cp)
	}
	return nil
}

func (r *Rules) rebind(cs []cond, base *Rules) ([]cond, error) {
	out := make([]cond, len(cs))
	for i, c := range cs {
		if c.field >= numFixed {
			param := ""
			for p, idx := range base.queryFields {
				if idx == c.field {
					param = p
					break
				}
			}
			idx, ok := r.queryField(param)
			if !ok {
				return nil, fmt.Errorf("too many query.<param> fields with the defaults appended (at most %d)", maxFields-numFixed)
			}
			c.field = idx
		}
		if c.op == opRegex {
			c.memo = r.memoSlot(c.field, c.re.String())
			c.cache = r.caches[c.memo]
		}
		out[i] = c
	}
	return out, nil
}

// memoSlot shares one per-call result between conditions that run the same
// regex on the same field (GA4's paid-medium regex appears five times).
func (r *Rules) memoSlot(field int, pattern string) int {
	key := strconv.Itoa(field) + "\x00" + pattern
	if i, ok := r.memoSlots[key]; ok {
		return i
	}
	i := len(r.memoSlots)
	r.memoSlots[key] = i
	r.caches = append(r.caches, &regexCache{})
	return i
}

func (r *Rules) queryField(param string) (int, bool) {
	if idx, ok := r.queryFields[param]; ok {
		return idx, true
	}
	idx := numFixed + len(r.queryFields)
	if idx >= maxFields {
		return 0, false
	}
	r.queryFields[param] = idx
	return idx, true
}

func (r *Rules) parseRule(i int, n *yaml.Node) (rule, error) {
	var ru rule
	pairs, err := mapPairs(n, fmt.Sprintf("rules[%d]", i))
	if err != nil {
		return ru, err
	}
	// Name first, so every later error can quote it.
	for _, kv := range pairs {
		if kv[0].Value == "name" {
			if ru.name, err = scalar(kv[1], fmt.Sprintf("rules[%d].name", i)); err != nil {
				return ru, err
			}
			ru.name = strings.TrimSpace(ru.name)
		}
	}
	if ru.name == "" {
		return ru, parseErrorf(n, "rules[%d]: missing name", i)
	}
	where := fmt.Sprintf("rules[%d] (%q)", i, ru.name)
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
		case "channel":
			if ru.channel, err = scalar(v, where+".channel"); err != nil {
				return ru, err
			}
			ru.channel = strings.TrimSpace(ru.channel)
		case "all", "any":
			cs, err := r.parseConds(v, where+"."+k.Value)
			if err != nil {
				return ru, err
			}
			if k.Value == "all" {
				ru.all = cs
			} else {
				ru.any = cs
			}
		case "set", "default":
			o, err := parseOutputs(v, where+"."+k.Value)
			if err != nil {
				return ru, err
			}
			if k.Value == "set" {
				ru.set = o
			} else {
				ru.dflt = o
			}
		default:
			return ru, parseErrorf(k, "%s: unknown key %q (known: name, channel, all, any, set, default)", where, k.Value)
		}
	}
	if ru.channel == "" {
		return ru, parseErrorf(n, "%s: missing channel name", where)
	}
	for _, c := range channelNames {
		if ru.channel != c && strings.EqualFold(strings.ReplaceAll(ru.channel, " ", ""), strings.ReplaceAll(c, " ", "")) {
			return ru, parseErrorf(n, "%s: channel %q: did you mean %q?", where, ru.channel, c)
		}
	}
	return ru, nil
}

func parseOutputs(n *yaml.Node, what string) (outputs, error) {
	var o outputs
	pairs, err := mapPairs(n, what)
	if err != nil {
		return o, err
	}
	for _, kv := range pairs {
		s, err := scalar(kv[1], what+"."+kv[0].Value)
		if err != nil {
			return o, err
		}
		s = normalise(s)
		switch kv[0].Value {
		case "source":
			o.source = s
		case "medium":
			o.medium = s
		case "campaign":
			o.campaign = s
		default:
			return o, parseErrorf(kv[0], "%s: unknown key %q (known: source, medium, campaign)", what, kv[0].Value)
		}
	}
	return o, nil
}

func (r *Rules) parseConds(n *yaml.Node, where string) ([]cond, error) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		return nil, parseErrorf(n, "%s must be a list of conditions", where)
	}
	out := make([]cond, 0, len(n.Content))
	for j, item := range n.Content {
		c, err := r.parseCond(item, fmt.Sprintf("%s[%d]", where, j))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (r *Rules) parseCond(n *yaml.Node, where string) (cond, error) {
	var c cond
	pairs, err := mapPairs(n, where)
	if err != nil {
		return c, err
	}
	var fieldName string
	var opNode *yaml.Node
	var opName string
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		switch {
		case k.Value == "field":
			if fieldName, err = scalar(v, where+".field"); err != nil {
				return c, err
			}
		case k.Value == "not":
			if c.neg, err = boolean(v, where+".not"); err != nil {
				return c, err
			}
		case opNames[k.Value] != 0:
			if opNode != nil {
				return c, parseErrorf(k, "%s: two operators (%s and %s); use one per condition", where, opName, k.Value)
			}
			opNode, opName, c.op = v, k.Value, opNames[k.Value]
		default:
			return c, parseErrorf(k, "%s: unknown operator %q (known: %s; plus field and not)", where, k.Value, knownOps())
		}
	}
	if fieldName == "" {
		return c, parseErrorf(n, "%s: missing field", where)
	}
	fieldName = strings.ToLower(strings.TrimSpace(fieldName))
	if p, ok := strings.CutPrefix(fieldName, "query."); ok && p != "" {
		idx, ok := r.queryField(p)
		if !ok {
			return c, parseErrorf(n, "%s: too many query.<param> fields (at most %d)", where, maxFields-numFixed)
		}
		c.field = idx
	} else if idx, ok := fieldNames[fieldName]; ok {
		c.field = idx
	} else {
		return c, parseErrorf(n, "%s: unknown field %q (known: %s)", where, fieldName, knownFields())
	}
	if opNode == nil {
		return c, parseErrorf(n, "%s: missing operator (one of: %s)", where, knownOps())
	}
	norm := func(s string) string { return normaliseFor(c.field, s) }
	what := where + "." + opName
	switch c.op {
	case opEquals, opPrefix, opSuffix, opContains:
		s, err := scalar(opNode, what)
		if err != nil {
			return c, err
		}
		c.str = norm(s)
	case opIn, opInList:
		var vals []string
		if c.op == opIn {
			if vals, err = strList(opNode, what); err != nil {
				return c, err
			}
		} else {
			name, err := scalar(opNode, what)
			if err != nil {
				return c, err
			}
			var ok bool
			if vals, ok = r.lists[name]; !ok {
				return c, parseErrorf(opNode, "%s: no list named %q in lists", where, name)
			}
		}
		c.set = make(map[string]struct{}, len(vals))
		c.minLen = -1
		for _, v := range vals {
			v = norm(v)
			c.set[v] = struct{}{}
			if c.minLen < 0 || len(v) < c.minLen {
				c.minLen = len(v)
			}
			c.maxLen = max(c.maxLen, len(v))
		}
		if len(c.set) <= smallSet {
			for v := range c.set {
				c.list = append(c.list, v)
			}
			sort.Strings(c.list)
			c.set = nil
		}
	case opRegex:
		s, err := scalar(opNode, what)
		if err != nil {
			return c, err
		}
		pat := s
		// Inputs are lower-cased; a pattern written with capitals would never
		// match, so make it case-insensitive instead.
		if strings.ToLower(s) != s {
			pat = "(?i)" + s
		}
		if c.re, err = regexp.Compile(pat); err != nil {
			return c, parseErrorf(opNode, "%s: bad regex %q: %w", where, s, err)
		}
		c.memo = r.memoSlot(c.field, pat)
		c.cache = r.caches[c.memo]
	case opExists:
		b, err := boolean(opNode, what)
		if err != nil {
			return c, err
		}
		if !b {
			c.neg = !c.neg
		}
	}
	return c, nil
}

// parseSources reads category -> canonical name -> tokens.
func parseSources(n *yaml.Node) (*sourceTable, error) {
	cats, err := mapPairs(n, "sources")
	if err != nil {
		return nil, err
	}
	t := &sourceTable{alias: map[string]*srcInfo{}, host: map[string]*srcInfo{}, wild: map[string]*srcInfo{}}
	owner := map[string]string{}
	claim := func(node *yaml.Node, key, who string) error {
		if prev, dup := owner[key]; dup && prev != who {
			return parseErrorf(node, "sources: %q is listed under both %s and %s", key, prev, who)
		}
		owner[key] = who
		return nil
	}
	for _, ckv := range cats {
		cat := normalise(ckv[0].Value)
		srcs, err := mapPairs(ckv[1], "sources."+cat)
		if err != nil {
			return nil, err
		}
		for _, skv := range srcs {
			name := normalise(skv[0].Value)
			who := cat + "." + name
			info := &srcInfo{name: name, category: cat}
			if err := claim(skv[0], "alias "+name, who); err != nil {
				return nil, err
			}
			t.alias[name] = info
			toks, err := strList(skv[1], "sources."+who)
			if err != nil {
				return nil, err
			}
			for _, tok := range toks {
				tok = normalise(tok)
				switch {
				case strings.HasSuffix(tok, ".*"):
					label := strings.TrimSuffix(tok, ".*")
					if label == "" || strings.Contains(label, ".") {
						return nil, parseErrorf(skv[1], "sources.%s: wildcard %q must be one label followed by .*", who, tok)
					}
					if err := claim(skv[1], "host "+tok, who); err != nil {
						return nil, err
					}
					t.wild[label] = info
				case strings.Contains(tok, "."):
					tok = strings.TrimPrefix(tok, "www.")
					if err := claim(skv[1], "host "+tok, who); err != nil {
						return nil, err
					}
					t.host[tok] = info
					t.alias[tok] = info
				case tok == "":
					return nil, parseErrorf(skv[1], "sources.%s: empty token", who)
				default:
					if err := claim(skv[1], "alias "+tok, who); err != nil {
						return nil, err
					}
					t.alias[tok] = info
				}
			}
		}
	}
	return t, nil
}

// normalise lower-cases and trims a value the way Classify treats its input.
func normalise(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// normaliseFor also folds the separators of hint and location values, which
// come from till and phone systems spelled "In Store", "in-store", "in_store".
func normaliseFor(field int, s string) string {
	s = normalise(s)
	if field == fHint || field == fLocation {
		s = foldSeparators(s)
	}
	return s
}

func foldSeparators(s string) string {
	if strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '-') < 0 {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

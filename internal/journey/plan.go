package journey

import (
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/omniroi/omniroi/internal/identity"
)

// Plan is a compiled journey: what Compile returns, what the database stores as JSON
// and what the engine executes. Steps are nodes whose branches are node indices (End: -1).
type Plan struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Purpose     string  `json:"purpose"` // marketing or transactional
	Entry       Entry   `json:"entry"`
	ReEntry     ReEntry `json:"reentry"`
	Exit        []Match `json:"exit,omitempty"`
	Holdout     float64 `json:"holdout"` // fraction of runs sent nothing
	Policy      Policy  `json:"policy"`
	Nodes       []Node  `json:"nodes"`
}

// End is the branch target that finishes a run.
const End = -1

// Entry says who enters: on an event, on a segment change, on a date, or when a lead
// score rises above a threshold.
type Entry struct {
	Kind        string  `json:"kind"`            // event, segment, date, lead_score
	Event       string  `json:"event,omitempty"` // event entry: the track event name
	Key         string  `json:"key,omitempty"`   // property holding the entry key (cart_id): one run per key
	Segment     string  `json:"segment,omitempty"`
	PAliveBelow float64 `json:"p_alive_below,omitempty"`
	Date        string  `json:"date,omitempty"` // birthday, first_purchase_anniversary
	// LeadScoreAbove: a lead_score entry enters a person when their lead score
	// (recommend.ScoreLeads) rises from at most this to above it.
	LeadScoreAbove float64 `json:"lead_score_above,omitempty"`
}

// Match is an event that ends a wait or a run; Key names the property of that event
// which must equal the run's entry key ("" matches any).
type Match struct {
	Event string `json:"event"`
	Key   string `json:"key,omitempty"`
}

// ReEntry says when a customer may enter again: never, after_exit (once the previous
// run with the same key ended) or cooldown (Cooldown after the previous run started).
type ReEntry struct {
	Mode     string        `json:"mode"`
	Cooldown time.Duration `json:"cooldown,omitempty"`
	// PerCustomer applies the rule across all of a customer's entry keys: one review
	// request a month however many orders. Otherwise each key is its own (one run per cart).
	PerCustomer bool `json:"per_customer,omitempty"`
}

// Policy holds a journey's guardrails; unset parts fall back to the workspace policy.
type Policy struct {
	Cap   *Cap   `json:"frequency_cap,omitempty"`
	Quiet *Quiet `json:"quiet_hours,omitempty"`
}

// Cap limits marketing sends per customer and channel across all journeys.
type Cap struct {
	Max  int           `json:"max"`
	Per  time.Duration `json:"per"`
	Over string        `json:"over"` // skip or delay
}

// Quiet is a daily window in the customer's time zone when nothing is sent; sends are
// held until it ends. From > To wraps midnight (21:00-08:00).
type Quiet struct {
	From int `json:"from"` // minutes after midnight
	To   int `json:"to"`
}

// Node is one step.
type Node struct {
	ID      string        `json:"id"`
	Kind    string        `json:"kind"` // wait, wait_until, condition, split, send, goto
	Wait    time.Duration `json:"wait,omitempty"`
	Until   *Match        `json:"until,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	OnEvent int           `json:"on_event,omitempty"`
	Cond    *Cond         `json:"cond,omitempty"`
	Then    int           `json:"then,omitempty"`
	Else    int           `json:"else,omitempty"`
	Split   []Branch      `json:"split,omitempty"`
	Send    *Action       `json:"send,omitempty"`
	Test    *Test         `json:"test,omitempty"` // a send step's variants, tested or optimised
	Next    int           `json:"next"`
}

// Branch is one arm of a random split.
type Branch struct {
	Percent float64 `json:"percent"`
	Goto    int     `json:"goto"`
}

// Cond is a condition: an event since entry, a trait, a segment, consent, whether this
// run's send at a step was opened or clicked, or all/any/not of others.
type Cond struct {
	Kind    string `json:"kind"` // event, trait, segment, consent, opened, clicked, next_best_action, all, any, not
	Name    string `json:"name,omitempty"`
	Op      string `json:"op,omitempty"` // trait: exists, equals, not_equals, gt, lt
	Value   string `json:"value,omitempty"`
	Channel string `json:"channel,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	Step    int    `json:"step,omitempty"`
	Sub     []Cond `json:"sub,omitempty"`
}

// Action is a send: a message on a channel, a webhook call or a profile update.
type Action struct {
	Channel       string            `json:"channel"` // email, sms, push, webhook, profile
	Transactional bool              `json:"transactional,omitempty"`
	Template      string            `json:"template,omitempty"`
	Subject       string            `json:"subject,omitempty"`
	Text          string            `json:"text,omitempty"`
	HTML          string            `json:"html,omitempty"`
	Title         string            `json:"title,omitempty"`
	URL           string            `json:"url,omitempty"`
	Traits        map[string]string `json:"traits,omitempty"`

	// Smarter sending. SendTime "best" holds the send until the customer's most engaged
	// hour of day (at most MaxDelay away, given at least MinEvents engaged events).
	SendTime  string        `json:"send_time,omitempty"`
	MaxDelay  time.Duration `json:"max_delay,omitempty"`
	MinEvents int           `json:"min_events,omitempty"`
	// Channel "best": one message per channel in Options (listed order breaks ties); the
	// engine picks the consented, reachable one this customer engages with most.
	Choose  string   `json:"choose,omitempty"` // most_engaged
	Options []Action `json:"options,omitempty"`
}

// Send-time defaults: enough evidence to call an hour "theirs", and never later than a day.
const (
	DefaultMaxDelay  = 24 * time.Hour
	DefaultMinEvents = 3
)

var channels = []string{"email", "sms", "push", "webhook", "profile"}

// Compile parses, validates and compiles a journey document (YAML or JSON).
func Compile(src []byte) (*Plan, error) {
	d, err := ParseDocument(src)
	if err != nil {
		return nil, err
	}
	return d.plan, nil
}

// Document is a validated journey document.
type Document struct{ plan *Plan }

var topFields = []string{"name", "description", "purpose", "entry", "reentry", "exit", "holdout", "policy", "steps"}

func (p *parser) document(n *yaml.Node) *Document {
	o := p.object("", n)
	pl := &Plan{}
	pl.Name = o.str("name", true)
	if pl.Name != "" && !validName(pl.Name) {
		p.errorf("name", o.keys["name"], "%q: use lower-case letters, digits and dashes", pl.Name)
	} else if reservedName[pl.Name] {
		p.errorf("name", o.keys["name"], "%q is reserved (an API path under /api/v1/journeys/); choose another name", pl.Name)
	}
	pl.Description = o.str("description", false)
	pl.Purpose = o.str("purpose", false)
	switch pl.Purpose {
	case "":
		pl.Purpose = "marketing"
	case "marketing", "transactional":
	default:
		p.errorf("purpose", o.keys["purpose"], "%q is not marketing or transactional", pl.Purpose)
	}
	if en := o.node("entry"); en != nil {
		pl.Entry = p.entry("entry", en)
	} else {
		p.errorf("entry", n, "is required")
	}
	pl.ReEntry = ReEntry{Mode: "after_exit"}
	if rn := o.node("reentry"); rn != nil {
		pl.ReEntry = p.reentry("reentry", rn)
	}
	if en := o.node("exit"); en != nil {
		if en.Kind != yaml.SequenceNode {
			en = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{en}, Line: en.Line}
		}
		for i, c := range en.Content {
			pl.Exit = append(pl.Exit, p.match(fmt.Sprintf("exit[%d]", i), c, pl.Entry.Key))
		}
	}
	pl.Holdout = 0.10
	if v, ok := o.percent("holdout"); ok {
		pl.Holdout = v
	}
	if pn := o.node("policy"); pn != nil {
		pl.Policy = p.policy("policy", pn)
	}
	sn := o.node("steps")
	if sn == nil || sn.Kind != yaml.SequenceNode || len(sn.Content) == 0 {
		p.errorf("steps", orNode(sn, n), "must be a non-empty list")
	} else {
		pl.Nodes = p.steps(sn, pl)
	}
	o.done(topFields...)
	return &Document{plan: pl}
}

func orNode(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

var reservedName = map[string]bool{"templates": true, "policy": true, "validate": true}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func (p *parser) entry(path string, n *yaml.Node) Entry {
	o := p.object(path, n)
	var e Entry
	kinds := 0
	if o.has("event") {
		kinds++
		e.Kind = "event"
		e.Event = o.str("event", true)
		e.Key = o.str("key", false)
	}
	if o.has("segment") {
		kinds++
		e.Kind = "segment"
		e.Segment = o.str("segment", false)
	}
	if o.has("p_alive_below") {
		if e.Kind != "segment" {
			kinds++
		}
		e.Kind = "segment"
		if v, ok := o.number("p_alive_below"); ok {
			if v <= 0 || v > 1 {
				p.errorf(join(path, "p_alive_below"), o.keys["p_alive_below"], "%v must be in (0, 1]", v)
			}
			e.PAliveBelow = v
		}
	}
	if o.has("date") {
		kinds++
		e.Kind = "date"
		e.Date = o.str("date", true)
		if e.Date != "" && e.Date != "birthday" && e.Date != "first_purchase_anniversary" {
			p.errorf(join(path, "date"), o.keys["date"], "%q is not birthday or first_purchase_anniversary", e.Date)
		}
	}
	if o.has("lead_score_above") {
		kinds++
		e.Kind = "lead_score"
		if v, ok := o.number("lead_score_above"); ok {
			if v <= 0 || v >= 1 {
				p.errorf(join(path, "lead_score_above"), o.keys["lead_score_above"], "%v must be between 0 and 1 (a probability)", v)
			}
			e.LeadScoreAbove = v
		}
	}
	if kinds != 1 {
		p.errorf(path, n, "needs exactly one of event, segment (and/or p_alive_below), date, lead_score_above")
	}
	o.done("event", "key", "segment", "p_alive_below", "date", "lead_score_above")
	return e
}

func (p *parser) reentry(path string, n *yaml.Node) ReEntry {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "never", "after_exit":
			return ReEntry{Mode: n.Value}
		}
		p.errorf(path, n, "%q is not never, after_exit or {cooldown: DURATION, per: key|customer}", n.Value)
		return ReEntry{}
	}
	o := p.object(path, n)
	r := ReEntry{Mode: "cooldown", Cooldown: o.duration("cooldown", true)}
	switch per := o.str("per", false); per {
	case "", "key":
	case "customer":
		r.PerCustomer = true
	default:
		p.errorf(path+".per", o.keys["per"], "%q is not key or customer", per)
	}
	o.done("cooldown", "per")
	return r
}

func (p *parser) match(path string, n *yaml.Node, entryKey string) Match {
	if n.Kind == yaml.ScalarNode {
		return Match{Event: n.Value, Key: entryKey}
	}
	o := p.object(path, n)
	m := Match{Event: o.str("event", true), Key: entryKey}
	if o.has("key") {
		m.Key = o.str("key", false)
		if entryKey == "" && m.Key != "" {
			p.errorf(join(path, "key"), o.keys["key"], "the entry has no key to match")
		}
	}
	o.done("event", "key")
	return m
}

func (p *parser) policy(path string, n *yaml.Node) Policy {
	o := p.object(path, n)
	var pol Policy
	if cn := o.node("frequency_cap"); cn != nil {
		c := p.cap(join(path, "frequency_cap"), cn)
		pol.Cap = &c
	}
	if qn := o.node("quiet_hours"); qn != nil {
		q := p.quiet(join(path, "quiet_hours"), qn)
		pol.Quiet = &q
	}
	o.done("frequency_cap", "quiet_hours")
	return pol
}

func (p *parser) cap(path string, n *yaml.Node) Cap {
	o := p.object(path, n)
	c := Cap{Over: "skip"}
	if v, ok := o.number("max"); ok {
		if v < 1 || v != float64(int(v)) {
			p.errorf(join(path, "max"), o.keys["max"], "must be a whole number of at least 1")
		}
		c.Max = int(v)
	} else if !o.has("max") {
		p.errorf(join(path, "max"), n, "is required")
	}
	c.Per = o.duration("per", true)
	if o.has("over") {
		c.Over = o.str("over", true)
		if c.Over != "skip" && c.Over != "delay" {
			p.errorf(join(path, "over"), o.keys["over"], "%q is not skip or delay", c.Over)
		}
	}
	o.done("max", "per", "over")
	return c
}

func (p *parser) quiet(path string, n *yaml.Node) Quiet {
	o := p.object(path, n)
	var q Quiet
	q.From = p.clock(join(path, "from"), o.node("from"), n)
	q.To = p.clock(join(path, "to"), o.node("to"), n)
	o.done("from", "to")
	return q
}

func (p *parser) clock(path string, n, parent *yaml.Node) int {
	if n == nil {
		p.errorf(path, parent, "is required")
		return 0
	}
	t, err := time.Parse("15:04", n.Value)
	if err != nil {
		p.errorf(path, n, "%q is not a time of day (HH:MM)", n.Value)
		return 0
	}
	return t.Hour()*60 + t.Minute()
}

var stepKinds = []string{"wait", "condition", "split", "goto", "email", "sms", "push", "webhook", "update_profile", "message"}

// steps parses the list in two passes: ids first, so branches may point forward.
func (p *parser) steps(sn *yaml.Node, pl *Plan) []Node {
	nodes := make([]Node, len(sn.Content))
	refs := stepRefs{p: p, ids: p.stepIDs(sn, nodes), n: len(nodes)}
	for i, c := range sn.Content {
		p.step(i, c, &nodes[i], refs, pl)
	}
	p.checkTestNames(sn, nodes)
	return nodes
}

// stepIDs names the steps: their own ids first, then "stepN" for those without one (an
// explicit id may not take such a name from another step). It gives each id's index.
func (p *parser) stepIDs(sn *yaml.Node, nodes []Node) map[string]int {
	ids := map[string]int{}
	idNode := make([]*yaml.Node, len(sn.Content))
	for i, c := range sn.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(c.Content); j += 2 {
			if c.Content[j].Value != "id" {
				continue
			}
			vn := c.Content[j+1]
			id := vn.Value
			path := fmt.Sprintf("steps[%d].id", i)
			if _, dup := ids[id]; dup || id == "end" || id == "next" {
				p.errorf(path, vn, "%q is already used", id)
			} else if vn.Kind != yaml.ScalarNode || strings.TrimSpace(id) == "" {
				p.errorf(path, vn, "must be a name")
			}
			ids[id], idNode[i] = i, vn
			nodes[i].ID = id
		}
	}
	for i := range nodes {
		if idNode[i] != nil {
			continue
		}
		id := fmt.Sprintf("step%d", i+1)
		if j, taken := ids[id]; taken {
			p.errorf(fmt.Sprintf("steps[%d].id", j), idNode[j], "%q is the name of step %d, which has no id of its own; choose another", id, i+1)
		}
		ids[id] = i
		nodes[i].ID = id
	}
	return ids
}

// stepRefs resolve where a step goes next: a step id (only forward), next or end.
type stepRefs struct {
	p   *parser
	ids map[string]int
	n   int // steps in the journey
}

// target is the index of the step n names from step i (End for end, or past the last
// step); nil or "next" is the following step.
func (r stepRefs) target(path string, n *yaml.Node, i int) int {
	if n == nil || n.Value == "next" {
		if i+1 < r.n {
			return i + 1
		}
		return End
	}
	if n.Value == "end" {
		return End
	}
	if j, ok := r.ids[n.Value]; ok {
		if j <= i {
			r.p.errorf(path, n, "%q points backwards; journeys only go forward", n.Value)
		}
		return j
	}
	r.p.errorf(path, n, "no step has id %q (use a step id, next or end)", n.Value)
	return End
}

// step parses step i into nd: its one action and, on a message step, its test.
func (p *parser) step(i int, c *yaml.Node, nd *Node, refs stepRefs, pl *Plan) {
	path := fmt.Sprintf("steps[%d]", i)
	o := p.object(path, c)
	o.node("id")
	nd.Next = refs.target(path, nil, i)
	kind := p.stepKind(path, c, o)
	if kind == "" {
		return
	}
	kn := o.node(kind)
	kpath := path + "." + kind
	switch kind {
	case "wait":
		p.waitStep(kpath, kn, nd, refs, i, pl)
	case "condition":
		p.conditionStep(kpath, kn, nd, refs, i)
	case "split":
		p.splitStep(kpath, kn, nd, refs, i)
	case "goto":
		nd.Kind = "goto"
		nd.Next = refs.target(kpath, kn, i)
	case "message":
		nd.Kind = "send"
		a := p.message(kpath, kn, pl)
		nd.Send = &a
	default:
		nd.Kind = "send"
		a := p.action(kpath, kind, kn, pl)
		nd.Send = &a
	}
	if tn := o.node("test"); tn != nil {
		if nd.Kind != "send" || nd.Send == nil || nd.Send.Channel == "webhook" || nd.Send.Channel == "profile" {
			p.errorf(path+".test", tn, "a test goes on a message step (email, sms, push or message)")
		} else {
			nd.Test = p.test(path+".test", tn, nd, pl)
		}
	}
	o.done(append(append([]string{"id"}, stepKinds...), "test")...)
}

// stepKind is the step's one action of stepKinds, or "" (with the problem reported) when
// it has none. A second action is reported and skipped.
func (p *parser) stepKind(path string, c *yaml.Node, o *obj) string {
	kind := ""
	for _, k := range stepKinds {
		if o.has(k) {
			if kind != "" {
				p.errorf(path, c, "has both %s and %s; one action per step", kind, k)
				o.node(k)
				continue
			}
			kind = k
		}
	}
	if kind == "" {
		p.errorf(path, c, "needs one of: %s", strings.Join(stepKinds, ", "))
		o.done(append([]string{"id"}, stepKinds...)...)
	}
	return kind
}

// waitStep parses a wait: a duration, or until an event with a timeout.
func (p *parser) waitStep(kpath string, kn *yaml.Node, nd *Node, refs stepRefs, i int, pl *Plan) {
	if kn.Kind == yaml.ScalarNode {
		nd.Kind, nd.Wait = "wait", p.duration(kpath, kn)
		return
	}
	wo := p.object(kpath, kn)
	if wo.has("until") {
		nd.Kind = "wait_until"
		m := p.match(kpath+".until", wo.node("until"), pl.Entry.Key)
		nd.Until = &m
		nd.Timeout = wo.duration("timeout", true)
		nd.OnEvent = refs.target(kpath+".on_event", wo.node("on_event"), i)
		if tn := wo.node("on_timeout"); tn != nil {
			nd.Next = refs.target(kpath+".on_timeout", tn, i)
		}
		wo.done("until", "timeout", "on_event", "on_timeout")
	} else {
		nd.Kind = "wait"
		nd.Wait = wo.duration("duration", true)
		wo.done("duration", "until")
	}
}

// conditionStep parses a condition with its then and else branches.
func (p *parser) conditionStep(kpath string, kn *yaml.Node, nd *Node, refs stepRefs, i int) {
	nd.Kind = "condition"
	co := p.object(kpath, kn)
	if cn := co.node("if"); cn != nil {
		c := p.cond(kpath+".if", cn, refs.ids)
		nd.Cond = &c
	} else {
		p.errorf(kpath+".if", kn, "is required")
	}
	nd.Then = refs.target(kpath+".then", co.node("then"), i)
	nd.Else = refs.target(kpath+".else", co.node("else"), i)
	co.done("if", "then", "else")
}

// splitStep parses a random split: two or more branches whose percentages add up to 100.
func (p *parser) splitStep(kpath string, kn *yaml.Node, nd *Node, refs stepRefs, i int) {
	nd.Kind = "split"
	if kn.Kind != yaml.SequenceNode || len(kn.Content) < 2 {
		p.errorf(kpath, kn, "must list at least two branches")
		return
	}
	total := 0.0
	for j, bn := range kn.Content {
		bpath := fmt.Sprintf("%s[%d]", kpath, j)
		bo := p.object(bpath, bn)
		v, ok := bo.number("percent")
		if !ok || v <= 0 {
			p.errorf(bpath+".percent", bn, "must be a positive percentage")
		}
		total += v
		nd.Split = append(nd.Split, Branch{Percent: v, Goto: refs.target(bpath+".goto", bo.node("goto"), i)})
		bo.done("percent", "goto")
	}
	if total < 99.999 || total > 100.001 {
		p.errorf(kpath, kn, "percentages add up to %v, not 100", total)
	}
}

// checkTestNames reports two steps testing under the same name.
func (p *parser) checkTestNames(sn *yaml.Node, nodes []Node) {
	seen := map[string]string{}
	for _, nd := range nodes {
		if nd.Test == nil {
			continue
		}
		if prev, dup := seen[nd.Test.Name]; dup {
			p.errorf("steps", sn, "steps %s and %s both test %q: each test needs its own name", prev, nd.ID, nd.Test.Name)
		}
		seen[nd.Test.Name] = nd.ID
	}
}

func (p *parser) cond(path string, n *yaml.Node, ids map[string]int) Cond {
	o := p.object(path, n)
	defer o.done("event", "trait", "segment", "consent", "opened", "clicked", "next_best_action", "all", "any", "not")
	if len(o.ord) != 1 {
		p.errorf(path, n, "needs exactly one of event, trait, segment, consent, opened, clicked, next_best_action, all, any, not")
		for _, k := range o.ord {
			o.node(k)
		}
		return Cond{}
	}
	k := o.ord[0]
	v := o.node(k)
	kp := join(path, k)
	switch k {
	case "event":
		if v.Kind == yaml.ScalarNode {
			return Cond{Kind: "event", Name: v.Value}
		}
		eo := p.object(kp, v)
		c := Cond{Kind: "event", Name: eo.str("name", true)}
		eo.done("name")
		return c
	case "trait":
		to := p.object(kp, v)
		c := Cond{Kind: "trait", Name: to.str("name", true), Op: "exists"}
		for _, op := range []string{"equals", "not_equals", "gt", "lt"} {
			if to.has(op) {
				c.Op, c.Value = op, to.str(op, false)
				if op == "gt" || op == "lt" {
					if _, err := parseFinite(c.Value); err != nil {
						p.errorf(join(kp, op), to.keys[op], "%q is not a number", c.Value)
					}
				}
			}
		}
		to.done("name", "equals", "not_equals", "gt", "lt")
		return c
	case "segment":
		return Cond{Kind: "segment", Value: v.Value}
	case "next_best_action":
		if !slices.Contains(NextBestActions, v.Value) {
			p.errorf(kp, v, "%q is not a next best action (%s)", v.Value, strings.Join(NextBestActions, ", "))
		}
		return Cond{Kind: "next_best_action", Value: v.Value}
	case "consent":
		co := p.object(kp, v)
		c := Cond{Kind: "consent", Channel: co.str("channel", true), Purpose: co.str("purpose", false)}
		if c.Purpose == "" {
			c.Purpose = "marketing"
		}
		if !slices.Contains(channels[:3], c.Channel) && c.Channel != "" {
			p.errorf(join(kp, "channel"), co.keys["channel"], "%q is not email, sms or push", c.Channel)
		}
		co.done("channel", "purpose")
		return c
	case "opened", "clicked":
		j, ok := ids[v.Value]
		if !ok {
			p.errorf(kp, v, "no step has id %q", v.Value)
		}
		return Cond{Kind: k, Step: j, Name: v.Value}
	case "all", "any":
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			p.errorf(kp, v, "must be a non-empty list of conditions")
			return Cond{Kind: k}
		}
		c := Cond{Kind: k}
		for i, sn := range v.Content {
			c.Sub = append(c.Sub, p.cond(fmt.Sprintf("%s[%d]", kp, i), sn, ids))
		}
		return c
	case "not":
		return Cond{Kind: "not", Sub: []Cond{p.cond(kp, v, ids)}}
	}
	return Cond{}
}

func (p *parser) action(path, kind string, n *yaml.Node, pl *Plan) Action {
	o := p.object(path, n)
	a := Action{Channel: kind}
	if kind == "update_profile" {
		a.Channel = "profile"
	}
	a.Transactional = pl.Purpose == "transactional" || o.boolean("transactional")
	tmpl := func(field string, html bool) string {
		s := o.str(field, false)
		if s == "" {
			return ""
		}
		var err error
		if html {
			_, err = htmltemplate.New(field).Funcs(htmlFuncs(nil)).Parse(s)
		} else {
			_, err = template.New(field).Funcs(textFuncs(nil)).Parse(s)
		}
		if err != nil {
			p.errorf(join(path, field), o.keys[field], "%v", err)
		}
		return s
	}
	switch kind {
	case "email":
		a.Template = o.str("template", false)
		if a.Template != "" {
			if _, ok := emailTemplates[a.Template]; !ok {
				p.errorf(join(path, "template"), o.keys["template"], "no built-in email template %q (have: %s)", a.Template, strings.Join(emailTemplateNames(), ", "))
			}
		}
		a.Subject, a.Text, a.HTML = tmpl("subject", false), tmpl("text", false), tmpl("html", true)
		if a.Template == "" && (a.Subject == "" || a.Text == "" && a.HTML == "") {
			p.errorf(path, n, "needs a template, or a subject and a text or html body")
		}
		p.sendTime(path, o, &a)
		o.done("template", "subject", "text", "html", "transactional", "send_time")
	case "sms":
		a.Text = tmpl("text", false)
		if a.Text == "" {
			p.errorf(join(path, "text"), n, "is required")
		}
		p.sendTime(path, o, &a)
		o.done("text", "transactional", "send_time")
	case "push":
		a.Title, a.Text, a.URL = tmpl("title", false), tmpl("text", false), tmpl("url", false)
		if a.Text == "" {
			p.errorf(join(path, "text"), n, "is required")
		}
		p.sendTime(path, o, &a)
		o.done("title", "text", "url", "transactional", "send_time")
	case "webhook":
		a.URL = o.str("url", true)
		if a.URL != "" && !strings.HasPrefix(a.URL, "https://") && !strings.HasPrefix(a.URL, "http://") {
			p.errorf(join(path, "url"), o.keys["url"], "%q is not an http(s) URL", a.URL)
		}
		// The body is JSON: its values are escaped for where they stand (jsonbody.go).
		if a.Text = o.str("body", false); a.Text != "" {
			if _, err := parseJSONBody("body", a.Text); err != nil {
				p.errorf(join(path, "body"), o.keys["body"], "%v", err)
			}
		}
		o.done("url", "body", "transactional")
	case "update_profile":
		a.Transactional = true // changes our own data, contacts nobody
		tn := o.node("traits")
		to := p.object(join(path, "traits"), tn)
		if tn == nil || len(to.ord) == 0 {
			p.errorf(join(path, "traits"), n, "must set at least one trait")
		}
		a.Traits = map[string]string{}
		for _, k := range to.ord {
			if identity.ProtectedTrait(k) {
				// The journeys source is a trusted one: a profile update would turn whatever
				// a template renders (a public key's unverified address) into a verified one.
				p.errorf(join(join(path, "traits"), k), to.keys[k], "a journey cannot set %s: contact points and consent come from the customer, a server source or a confirmation", k)
				continue
			}
			a.Traits[k] = to.str(k, false)
			if _, err := template.New(k).Funcs(textFuncs(nil)).Parse(a.Traits[k]); err != nil {
				p.errorf(join(join(path, "traits"), k), to.keys[k], "%v", err)
			}
		}
		o.done("traits")
	}
	return a
}

// sendTime reads send_time: now | best | {at: best, max_delay: 24h, min_events: 3}.
func (p *parser) sendTime(path string, o *obj, a *Action) {
	n := o.node("send_time")
	if n == nil {
		return
	}
	path = join(path, "send_time")
	at, sub := n.Value, (*obj)(nil)
	if n.Kind == yaml.MappingNode {
		sub = p.object(path, n)
		at = sub.str("at", true)
	}
	switch at {
	case "now":
		return
	case "best":
	default:
		if at != "" {
			p.errorf(path, n, "%q is not now or best", at)
		}
		return
	}
	a.SendTime, a.MaxDelay, a.MinEvents = "best", DefaultMaxDelay, DefaultMinEvents
	if sub == nil {
		return
	}
	if sub.has("max_delay") {
		a.MaxDelay = sub.duration("max_delay", true)
		if a.MaxDelay > 7*24*time.Hour {
			p.errorf(join(path, "max_delay"), sub.keys["max_delay"], "must be at most 7d")
		}
	}
	if v, ok := sub.number("min_events"); ok {
		if v < 1 || v != float64(int(v)) {
			p.errorf(join(path, "min_events"), sub.keys["min_events"], "must be a whole number of at least 1")
		}
		a.MinEvents = int(v)
	}
	sub.done("at", "max_delay", "min_events")
}

var messageChannels = []string{"email", "sms", "push"}

// message reads a step that sends on the channel this customer engages with most:
//
//	message:
//	  channels: [sms, email]   # or channel: best (every channel given below, email first)
//	  choose: most_engaged
//	  send_time: best
//	  email: {template: abandoned_cart}
//	  sms: {text: "…"}
func (p *parser) message(path string, n *yaml.Node, pl *Plan) Action {
	o := p.object(path, n)
	a := Action{Channel: "best", Choose: "most_engaged"}
	a.Transactional = pl.Purpose == "transactional" || o.boolean("transactional")
	if o.has("choose") {
		if c := o.str("choose", true); c != "most_engaged" && c != "" {
			p.errorf(join(path, "choose"), o.keys["choose"], "%q is not most_engaged", c)
		}
	}
	var listed []string
	switch {
	case o.has("channel") && o.has("channels"):
		p.errorf(path, n, "has both channel and channels; use one")
		o.node("channel")
		o.node("channels")
	case o.has("channel"):
		if v := o.str("channel", true); v != "best" {
			p.errorf(join(path, "channel"), o.keys["channel"], "%q is not best (a single channel is an email, sms or push step)", v)
		}
		for _, ch := range messageChannels {
			if o.has(ch) {
				listed = append(listed, ch)
			}
		}
	case o.has("channels"):
		cn := o.node("channels")
		if cn.Kind != yaml.SequenceNode || len(cn.Content) == 0 {
			p.errorf(join(path, "channels"), cn, "must be a non-empty list of email, sms, push")
			break
		}
		for i, c := range cn.Content {
			if !slices.Contains(messageChannels, c.Value) {
				p.errorf(fmt.Sprintf("%s.channels[%d]", path, i), c, "%q is not email, sms or push", c.Value)
				continue
			}
			if slices.Contains(listed, c.Value) {
				p.errorf(fmt.Sprintf("%s.channels[%d]", path, i), c, "%q is listed twice", c.Value)
				continue
			}
			listed = append(listed, c.Value)
			if !o.has(c.Value) {
				p.errorf(join(path, c.Value), n, "is required: channels lists %s", c.Value)
			}
		}
	default:
		p.errorf(path, n, "needs channel: best or channels: [email, sms, push]")
	}
	for _, ch := range messageChannels {
		cn := o.node(ch)
		if cn == nil {
			continue
		}
		if !slices.Contains(listed, ch) {
			if o.has("channels") {
				p.errorf(join(path, ch), cn, "is not in channels")
			}
			continue
		}
		sub := pl.Purpose
		if a.Transactional {
			sub = "transactional"
		}
		opt := p.action(join(path, ch), ch, cn, &Plan{Purpose: sub})
		if opt.SendTime != "" {
			p.errorf(join(join(path, ch), "send_time"), cn, "goes on the message, not on one channel")
		}
		a.Options = append(a.Options, opt)
	}
	if len(a.Options) == 0 && len(listed) == 0 && (o.has("channel") || o.has("channels")) {
		p.errorf(path, n, "needs a message for at least one of email, sms, push")
	}
	// Keep the listed order: it breaks ties.
	slices.SortStableFunc(a.Options, func(x, y Action) int {
		return slices.Index(listed, x.Channel) - slices.Index(listed, y.Channel)
	})
	p.sendTime(path, o, &a)
	o.done("channel", "channels", "choose", "send_time", "transactional", "email", "sms", "push")
	return a
}

// option returns the message for channel ch of a send (the action itself unless it chooses).
func (a *Action) option(ch string) *Action {
	if a.Channel != "best" {
		return a
	}
	for i := range a.Options {
		if a.Options[i].Channel == ch {
			return &a.Options[i]
		}
	}
	return nil
}

package journey

import (
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// A message step can carry a test: named variants of the message (another subject line,
// another text or offer, another channel, another send time), each run that reaches the
// step getting one of them. With mode test the variants keep fixed weights and the journey
// report reads them with internal/experiment's statistics and verdicts; with mode
// optimise a bandit (Thompson sampling) moves the share of runs towards the variant that
// gets more opens or clicks, never below a floor per variant, recomputing the shares at an
// update cadence.
//
//	- id: welcome-email
//	  email: {subject: "Welcome to {{.Business}}", text: "…"}
//	  test:
//	    name: welcome-subject      # the experiment's name (default: JOURNEY-STEP)
//	    mode: test                 # or optimise
//	    metric: conversion         # conversion (default for test), revenue, open, click (default for optimise)
//	    variants:
//	      - key: control           # the step as written
//	      - key: warm
//	        subject: "Baked at 5 am, on your table by 8"
//	      - key: by-sms
//	        sms: {text: "…"}         # a whole other message
//	      - key: evening
//	        send_time: best
//	    floor: 5%                  # optimise: the least share a variant keeps (default 1 %)
//	    update: 1d                 # optimise: how often the shares are recomputed (default 1 day)

// Test is a message step's variants.
type Test struct {
	Name     string        `json:"name"`
	Mode     string        `json:"mode"`   // test or optimise
	Metric   string        `json:"metric"` // conversion, revenue, open, click
	Floor    float64       `json:"floor,omitempty"`
	Update   time.Duration `json:"update,omitempty"`
	Variants []TestVariant `json:"variants"`
}

// TestVariant is one variant: its key, its weight (test mode) and the whole message it sends.
type TestVariant struct {
	Key    string  `json:"key"`
	Weight float64 `json:"weight"`
	Send   *Action `json:"send"`
}

// Test modes and metrics.
const (
	ModeTest     = "test"
	ModeOptimise = "optimise"

	TestConversion = "conversion" // an order within the report's window after the send
	TestRevenue    = "revenue"    // revenue in that window
	TestOpen       = "open"
	TestClick      = "click"
)

// Bandit defaults.
const (
	DefaultTestFloor  = 0.01
	DefaultTestUpdate = 24 * time.Hour
)

var testNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
var testKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// variant returns the variant with key k, or nil.
func (t *Test) variant(k string) *TestVariant {
	for i := range t.Variants {
		if t.Variants[i].Key == k {
			return &t.Variants[i]
		}
	}
	return nil
}

// TestName makes the default name of a step's test: journey and step id, lower-cased,
// other characters as dashes.
func TestName(journey, step string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(journey + "-" + step) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// overrideFields are the parts of a message a variant may change, per channel.
var overrideFields = map[string][]string{
	"email": {"subject", "text", "html", "template"},
	"sms":   {"text"},
	"push":  {"title", "text", "url"},
	"best":  {},
}

func (p *parser) test(path string, n *yaml.Node, nd *Node, pl *Plan) *Test {
	o := p.object(path, n)
	t := &Test{Name: o.str("name", false), Mode: ModeTest}
	if t.Name == "" {
		t.Name = TestName(pl.Name, nd.ID)
	}
	if !testNameRE.MatchString(t.Name) {
		p.errorf(join(path, "name"), orNode(o.keys["name"], n), "%q: use 1–64 lower-case letters, digits, - and _ (it is the experiment's name)", t.Name)
	}
	if o.has("mode") {
		t.Mode = o.str("mode", true)
		if t.Mode == "optimize" {
			t.Mode = ModeOptimise
		}
		if t.Mode != ModeTest && t.Mode != ModeOptimise {
			p.errorf(join(path, "mode"), o.keys["mode"], "%q is not test or optimise", t.Mode)
		}
	}
	t.Metric = TestConversion
	if t.Mode == ModeOptimise {
		t.Metric = TestClick
		t.Floor, t.Update = DefaultTestFloor, DefaultTestUpdate
	}
	if o.has("metric") {
		t.Metric = o.str("metric", true)
		switch t.Metric {
		case TestConversion, TestRevenue, TestOpen, TestClick:
		default:
			p.errorf(join(path, "metric"), o.keys["metric"], "%q is not conversion, revenue, open or click", t.Metric)
		}
		if t.Mode == ModeOptimise && (t.Metric == TestConversion || t.Metric == TestRevenue) {
			p.errorf(join(path, "metric"), o.keys["metric"], "optimise learns from opens or clicks: orders arrive too late to steer the next sends (use mode: test to compare %s)", t.Metric)
		}
		if t.Metric == TestOpen && nd.Send.Channel != "email" {
			p.errorf(join(path, "metric"), o.keys["metric"], "only email has opens")
		}
	}
	if o.has("floor") {
		if t.Mode != ModeOptimise {
			p.errorf(join(path, "floor"), o.keys["floor"], "a floor is for mode: optimise")
		}
		if v, ok := o.percent("floor"); ok {
			t.Floor = v
		}
	}
	if o.has("update") {
		if t.Mode != ModeOptimise {
			p.errorf(join(path, "update"), o.keys["update"], "update is for mode: optimise")
		}
		t.Update = o.duration("update", true)
		if t.Update > 0 && t.Update < time.Hour {
			p.errorf(join(path, "update"), o.keys["update"], "update at most every hour: shares move on counts, not on each send")
		}
	}
	vn := o.node("variants")
	if vn == nil || vn.Kind != yaml.SequenceNode || len(vn.Content) < 2 {
		p.errorf(join(path, "variants"), orNode(vn, n), "must list at least two variants (the first is control)")
		o.done("name", "mode", "metric", "floor", "update", "variants")
		return t
	}
	seen := map[string]bool{}
	for i, c := range vn.Content {
		vp := fmt.Sprintf("%s.variants[%d]", path, i)
		vo := p.object(vp, c)
		v := TestVariant{Key: vo.str("key", true), Weight: 1}
		if v.Key != "" && !testKeyRE.MatchString(v.Key) {
			p.errorf(join(vp, "key"), vo.keys["key"], "%q: use 1–64 letters, digits, '.', '-' and '_'", v.Key)
		}
		if seen[v.Key] {
			p.errorf(join(vp, "key"), vo.keys["key"], "%q appears twice", v.Key)
		}
		seen[v.Key] = true
		if w, ok := vo.number("weight"); ok {
			if !(w > 0) {
				p.errorf(join(vp, "weight"), vo.keys["weight"], "must be positive")
			}
			if t.Mode == ModeOptimise {
				p.errorf(join(vp, "weight"), vo.keys["weight"], "optimise sets the shares itself: leave weights out")
			}
			v.Weight = w
		}
		v.Send = p.variantAction(vp, vo, nd.Send, pl)
		v.Send.Transactional = nd.Send.Transactional
		t.Variants = append(t.Variants, v)
		allowed := []string{"key", "weight", "send_time", "email", "sms", "push"}
		for _, fs := range overrideFields {
			allowed = append(allowed, fs...)
		}
		vo.done(allowed...)
	}
	if t.Mode == ModeOptimise && t.Floor*float64(len(t.Variants)) > 1 {
		p.errorf(join(path, "floor"), orNode(o.keys["floor"], n), "a floor of %.0f %% for %d variants is more than all the sends", 100*t.Floor, len(t.Variants))
	}
	o.done("name", "mode", "metric", "floor", "update", "variants")
	return t
}

// variantAction is a variant's whole message: another message (email:, sms:, push:), or
// the step's own with some fields changed, or the step's own.
func (p *parser) variantAction(path string, vo *obj, base *Action, pl *Plan) *Action {
	var whole *Action
	for _, ch := range []string{"email", "sms", "push"} {
		if !vo.has(ch) {
			continue
		}
		if whole != nil {
			p.errorf(join(path, ch), vo.keys[ch], "a variant sends one message")
			vo.node(ch)
			continue
		}
		sub := pl.Purpose
		if base.Transactional {
			sub = "transactional"
		}
		a := p.action(join(path, ch), ch, vo.node(ch), &Plan{Purpose: sub})
		whole = &a
	}
	a := cloneAction(base)
	if whole != nil {
		a = whole
	}
	fields := overrideFields[base.Channel]
	for _, fs := range overrideFields {
		for _, f := range fs {
			if !vo.has(f) {
				continue
			}
			if whole != nil {
				p.errorf(join(path, f), vo.keys[f], "goes inside the variant's %s message", whole.Channel)
				vo.node(f)
				continue
			}
			ok := false
			for _, g := range fields {
				ok = ok || g == f
			}
			if !ok {
				p.errorf(join(path, f), vo.keys[f], "a %s step has no %s to change", base.Channel, f)
				vo.node(f)
				continue
			}
			v := vo.str(f, false)
			switch f {
			case "html":
				if _, err := htmltemplate.New(f).Funcs(htmlFuncs(nil)).Parse(v); err != nil {
					p.errorf(join(path, f), vo.keys[f], "%v", err)
				}
			case "template":
				if _, ok := emailTemplates[v]; !ok {
					p.errorf(join(path, f), vo.keys[f], "no built-in email template %q (have: %s)", v, strings.Join(emailTemplateNames(), ", "))
				}
			default:
				if _, err := template.New(f).Funcs(textFuncs(nil)).Parse(v); err != nil {
					p.errorf(join(path, f), vo.keys[f], "%v", err)
				}
			}
			switch f {
			case "subject":
				a.Subject = v
			case "text":
				a.Text = v
			case "html":
				a.HTML = v
			case "template":
				a.Template = v
			case "title":
				a.Title = v
			case "url":
				a.URL = v
			}
		}
	}
	if vo.has("send_time") {
		a.SendTime, a.MaxDelay, a.MinEvents = "", 0, 0
		p.sendTime(path, vo, a)
	}
	return a
}

func cloneAction(a *Action) *Action {
	c := *a
	if a.Options != nil {
		c.Options = append([]Action(nil), a.Options...)
	}
	if a.Traits != nil {
		c.Traits = map[string]string{}
		for k, v := range a.Traits {
			c.Traits[k] = v
		}
	}
	return &c
}

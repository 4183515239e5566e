// Package journey runs customer journeys: documents (YAML or JSON) that say who enters
// (an event, a segment change, a date), what happens (waits, branches, email, SMS, push,
// webhooks, profile updates) and when a customer leaves. Documents compile into plans;
// the engine keeps runs, timers and a send outbox in the database so that a restart
// neither drops nor repeats a send, and applies workspace guardrails (consent, frequency
// caps, quiet hours, suppressions, holdout) at send time rather than as steps.
package journey

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a document, with the field path and line it is at.
type FieldError struct {
	Path string
	Line int
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// DocError lists every problem found in a document.
type DocError struct{ Errs []*FieldError }

func (e *DocError) Error() string {
	s := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		s[i] = fe.Error()
	}
	return strings.Join(s, "\n")
}

// parser walks a yaml.Node tree, so every error can name its path and line. JSON
// documents parse the same way: JSON is YAML.
type parser struct{ errs []*FieldError }

func (p *parser) errorf(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

type obj struct {
	p    *parser
	path string
	n    *yaml.Node
	keys map[string]*yaml.Node
	kpos map[string]*yaml.Node
	used map[string]bool
	ord  []string
}

func join(path, key string) string {
	if key == "" {
		key = `""` // an empty key still needs a name in messages
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) object(path string, n *yaml.Node) *obj {
	o := &obj{p: p, path: path, n: n, keys: map[string]*yaml.Node{}, kpos: map[string]*yaml.Node{}, used: map[string]bool{}}
	if n == nil {
		return o
	}
	if n.Kind != yaml.MappingNode {
		if path == "" {
			path = "document" // the top level: a list or a scalar instead of fields
		}
		p.errorf(path, n, "must be a mapping")
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind != yaml.ScalarNode {
			where := path
			if where == "" {
				where = "document"
			}
			p.errorf(where, n.Content[i], "a key must be a name, not a list or a mapping")
			continue
		}
		k := n.Content[i].Value
		if _, dup := o.keys[k]; dup {
			p.errorf(join(path, k), n.Content[i], "duplicate key")
		}
		o.keys[k] = n.Content[i+1]
		o.kpos[k] = n.Content[i]
		o.ord = append(o.ord, k)
	}
	return o
}

func (o *obj) has(k string) bool { _, ok := o.keys[k]; return ok }

func (o *obj) node(k string) *yaml.Node {
	o.used[k] = true
	return o.keys[k]
}

// done reports keys nobody asked for: a misspelt field must not be ignored silently.
func (o *obj) done(allowed ...string) {
	for _, k := range o.ord {
		if !o.used[k] {
			hint := ""
			if len(allowed) > 0 {
				hint = " (expected one of: " + strings.Join(allowed, ", ") + ")"
			}
			o.p.errorf(join(o.path, k), o.kpos[k], "unknown field%s", hint)
		}
	}
}

func (o *obj) str(k string, required bool) string {
	n := o.node(k)
	if n == nil {
		if required {
			o.p.errorf(join(o.path, k), o.n, "is required")
		}
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		o.p.errorf(join(o.path, k), n, "must be a string")
		return ""
	}
	if required && strings.TrimSpace(n.Value) == "" {
		o.p.errorf(join(o.path, k), n, "must not be empty")
	}
	return n.Value
}

func (o *obj) duration(k string, required bool) time.Duration {
	n := o.node(k)
	if n == nil {
		if required {
			o.p.errorf(join(o.path, k), o.n, "is required")
		}
		return 0
	}
	return o.p.duration(join(o.path, k), n)
}

func (p *parser) duration(path string, n *yaml.Node) time.Duration {
	d, err := parseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		p.errorf(path, n, "%q is not a duration (e.g. 30m, 1h, 24h, 7d)", n.Value)
		return 0
	}
	if d <= 0 {
		p.errorf(path, n, "%q must be positive", n.Value)
	}
	return d
}

// parseDuration is time.ParseDuration plus days and weeks ("7d", "2w"), which journeys need.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suf, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if v, ok := strings.CutSuffix(s, suf); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, err
			}
			// NaN, infinities and more than 292 years do not fit a Duration.
			if d := n * float64(unit); !(math.Abs(d) < math.MaxInt64) {
				return 0, errors.New("out of range")
			}
			return time.Duration(n * float64(unit)), nil
		}
	}
	return time.ParseDuration(s)
}

// parseFinite is strconv.ParseFloat without NaN and the infinities, which compare false
// with every bound and cannot be stored as JSON.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = errors.New("not a finite number")
	}
	return v, err
}

func (o *obj) number(k string) (float64, bool) {
	n := o.node(k)
	if n == nil {
		return 0, false
	}
	v, err := parseFinite(strings.TrimSuffix(n.Value, "%"))
	if n.Kind != yaml.ScalarNode || err != nil {
		o.p.errorf(join(o.path, k), n, "%q is not a number", n.Value)
		return 0, false
	}
	return v, true
}

// percent reads "10%", "10" or "0.1"-style fractions below 1 as a fraction.
func (o *obj) percent(k string) (float64, bool) {
	n := o.node(k)
	if n == nil {
		return 0, false
	}
	path := join(o.path, k)
	pct := strings.HasSuffix(n.Value, "%")
	v, err := parseFinite(strings.TrimSuffix(n.Value, "%"))
	if n.Kind != yaml.ScalarNode || err != nil {
		o.p.errorf(path, n, "%q is not a percentage (e.g. 10%%)", n.Value)
		return 0, false
	}
	if pct || v > 1 {
		v /= 100
	}
	if v < 0 || v >= 1 {
		o.p.errorf(path, n, "%q must be from 0%% to below 100%%", n.Value)
		return 0, false
	}
	return v, true
}

func (o *obj) boolean(k string) bool {
	n := o.node(k)
	if n == nil {
		return false
	}
	switch n.Value {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	o.p.errorf(join(o.path, k), n, "%q is not true or false", n.Value)
	return false
}

// ParseDocument reads a journey document (YAML or JSON) and validates it. Errors are a
// *DocError listing every problem with its field path and line.
func ParseDocument(src []byte) (*Document, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("parse journey document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, errors.New("parse journey document: empty document")
	}
	p := &parser{}
	d := p.document(root.Content[0])
	if len(p.errs) > 0 {
		return nil, &DocError{Errs: p.errs}
	}
	return d, nil
}

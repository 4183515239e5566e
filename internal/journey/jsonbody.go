package journey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"text/template"
	"text/template/parse"
)

// A webhook step's body is JSON, and its values often come from traits and event
// properties that anyone with the public write key can set. So every {{…}} in a body is
// JSON-escaped for where it stands, the way html/template escapes for HTML: inside a
// JSON string ("name": "{{.Profile.Name}}") the value becomes string content; outside
// one ("total": {{.Event.total}}) it becomes a JSON value (a string is quoted, a number
// stays a number, a list stays a list, nothing is null). A value can therefore never
// close a string or add a key. {{json X}} writes X as a JSON value explicitly.

const (
	jsonValueFn  = "_omniroi_json_value"
	jsonStringFn = "_omniroi_json_string"
)

func jsonFuncs(l linker) template.FuncMap {
	m := textFuncs(l)
	m["json"] = jsonValue
	m[jsonValueFn] = jsonValue
	m[jsonStringFn] = jsonString
	return m
}

// jsonValue writes v as a JSON value.
func jsonValue(v any) (string, error) {
	if v == nil {
		return "null", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// jsonString writes v as the content of a JSON string (no quotes).
func jsonString(v any) string {
	s := ""
	if v != nil {
		s = fmt.Sprint(v)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// jsonState is where a JSON text stands: outside a string, inside one, or just after a
// backslash inside one.
type jsonState int

const (
	jsonOutside jsonState = iota
	jsonInString
	jsonAfterBackslash
)

func (s jsonState) after(text []byte) jsonState {
	for _, c := range text {
		switch s {
		case jsonOutside:
			if c == '"' {
				s = jsonInString
			}
		case jsonInString:
			if c == '\\' {
				s = jsonAfterBackslash
			} else if c == '"' {
				s = jsonOutside
			}
		case jsonAfterBackslash:
			s = jsonInString
		}
	}
	return s
}

// parseJSONBody parses a webhook body template and adds the escaper each action needs.
func parseJSONBody(name, src string) (*template.Template, error) {
	t, err := template.New(name).Funcs(jsonFuncs(nil)).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("{{define}} is not supported in a webhook body")
	}
	if t.Tree == nil {
		return t, nil
	}
	end, err := escapeJSONList(t.Tree.Root, jsonOutside)
	if err != nil {
		return nil, err
	}
	if end != jsonOutside {
		return nil, errors.New("the body ends inside a JSON string (a quote is missing)")
	}
	return t, nil
}

func escapeJSONList(l *parse.ListNode, s jsonState) (jsonState, error) {
	if l == nil {
		return s, nil
	}
	var err error
	for _, n := range l.Nodes {
		if s, err = escapeJSONNode(n, s); err != nil {
			return s, err
		}
	}
	return s, nil
}

func escapeJSONNode(n parse.Node, s jsonState) (jsonState, error) {
	switch n := n.(type) {
	case *parse.TextNode:
		return s.after(n.Text), nil
	case *parse.ActionNode:
		p := n.Pipe
		if len(p.Decl) > 0 || len(p.Cmds) == 0 {
			return s, nil // {{$x := …}} writes nothing
		}
		if s == jsonAfterBackslash {
			return s, fmt.Errorf("%s: a value right after a backslash in a JSON string", n)
		}
		explicit := false
		if c := p.Cmds[len(p.Cmds)-1]; len(c.Args) > 0 {
			if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "json" {
				explicit = true
			}
		}
		if explicit {
			if s == jsonInString {
				return s, fmt.Errorf("%s: json writes a JSON value, here inside a string: remove the quotes around it, or write the value without json", n)
			}
			return s, nil
		}
		fn := jsonValueFn
		if s == jsonInString {
			fn = jsonStringFn
		}
		p.Cmds = append(p.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: p.Pos,
			Args: []parse.Node{parse.NewIdentifier(fn).SetTree(nil).SetPos(p.Pos)}})
		return s, nil
	case *parse.IfNode:
		return escapeJSONBranch("if", &n.BranchNode, s, false)
	case *parse.WithNode:
		return escapeJSONBranch("with", &n.BranchNode, s, false)
	case *parse.RangeNode:
		return escapeJSONBranch("range", &n.BranchNode, s, true)
	case *parse.TemplateNode:
		return s, fmt.Errorf("%s: {{template}} is not supported in a webhook body", n)
	}
	return s, nil // comments, break, continue
}

// escapeJSONBranch escapes both branches; each must leave the JSON where it found it
// (or where the other branch leaves it; a range body must end where it began).
func escapeJSONBranch(what string, b *parse.BranchNode, s jsonState, loop bool) (jsonState, error) {
	s1, err := escapeJSONList(b.List, s)
	if err != nil {
		return s, err
	}
	s2, err := escapeJSONList(b.ElseList, s)
	if err != nil {
		return s, err
	}
	if s1 != s2 || loop && s1 != s {
		return s, fmt.Errorf("line %d: the parts of {{%s}} must open and close the same JSON strings (a quote is inside one part only)", b.Line, what)
	}
	return s1, nil
}

var jsonCache sync.Map // source → *cachedText

// renderJSON renders a webhook body; values are escaped as parseJSONBody arranged.
func renderJSON(name, src string, data *renderData, cl clickLinker) (string, error) {
	if src == "" {
		return "", nil
	}
	var c *cachedText
	if v, ok := jsonCache.Load(src); ok {
		c = v.(*cachedText)
	} else {
		p, err := parseJSONBody(name, src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		c = &cachedText{t: p, lits: literals(p.Tree)}
		jsonCache.Store(src, c)
	}
	t, err := c.t.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(jsonFuncs(cl.bind(c.lits)))
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return b.String(), nil
}

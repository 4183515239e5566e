package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
)

// Profile is what templates and conditions know about the customer.
type Profile struct {
	ID        int64
	Name      string
	FirstName string
	Email     string
	Phone     string
	Timezone  string
	Segment   string
	Traits    map[string]any

	UserID      string `json:"-"`
	AnonymousID string `json:"-"`

	// EmailVerified and PhoneVerified say whether Email and Phone came from a trusted
	// source or were confirmed (verify.go); an unverified address is never messaged.
	EmailVerified bool             `json:"-"`
	PhoneVerified bool             `json:"-"`
	unverified    map[string]bool  // protected traits (contact points, consent) whose value is unverified
	traitSeq      map[string]int64 // event that set each protected trait
}

// renderData is the dot of every template: {{.Profile.FirstName}}, {{.Event.cart_id}}.
type renderData struct {
	Profile  Profile
	Event    map[string]any // the entry event's properties
	Journey  string
	Business string
	ShopURL  string // the shop's website (Options.ShopURL), without a trailing slash
	Now      string

	recommend func(list string, n int) []RecommendedProduct // the "recommend" function (recommend.go)
}

// linker rewrites links for click tracking; nil leaves them alone (validation).
type linker func(url string) string

// clickLinker makes a click-tracked link; fixed says the URL is one of the template's own
// string literals (the author wrote it), not a value that came from a trait or an event.
type clickLinker func(url string, fixed bool) string

// bind gives a template's link function its literals.
func (cl clickLinker) bind(lits map[string]bool) linker {
	if cl == nil {
		return nil
	}
	return func(u string) string { return cl(u, lits[u]) }
}

// literals collects the string constants written in templates' source.
func literals(trees ...*parse.Tree) map[string]bool {
	out := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.StringNode:
			out[n.Text] = true
		}
	}
	for _, t := range trees {
		if t != nil {
			walk(t.Root)
		}
	}
	return out
}

func dflt(def any, v any) any {
	if v == nil {
		return def
	}
	if s, ok := v.(string); ok && s == "" {
		return def
	}
	return v
}

func textFuncs(l linker, data ...*renderData) template.FuncMap {
	rec := func(string, int) []RecommendedProduct { return nil }
	if len(data) > 0 && data[0] != nil && data[0].recommend != nil {
		rec = data[0].recommend
	}
	return template.FuncMap{
		"default":   dflt,
		"upper":     strings.ToUpper,
		"recommend": rec,
		"link": func(u any) string {
			s := fmt.Sprint(u)
			if l == nil {
				return s
			}
			return l(s)
		},
	}
}

func htmlFuncs(l linker, data ...*renderData) htmltemplate.FuncMap {
	return htmltemplate.FuncMap(textFuncs(l, data...))
}

// Parsed templates are cached by source, with their string literals: parsing was a tenth
// of a send's CPU. Each use clones the cached one to bind its own link function.
var textCache, htmlCache sync.Map

type cachedText struct {
	t    *template.Template
	lits map[string]bool
}

type cachedHTML struct {
	t    *htmltemplate.Template
	lits map[string]bool
}

func renderText(name, src string, data *renderData, cl clickLinker) (string, error) {
	if src == "" {
		return "", nil
	}
	var c *cachedText
	if v, ok := textCache.Load(src); ok {
		c = v.(*cachedText)
	} else {
		p, err := template.New(name).Funcs(textFuncs(nil)).Option("missingkey=zero").Parse(src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		var trees []*parse.Tree
		for _, x := range p.Templates() {
			trees = append(trees, x.Tree)
		}
		c = &cachedText{t: p, lits: literals(trees...)}
		textCache.Store(src, c)
	}
	t, err := c.t.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(textFuncs(cl.bind(c.lits), data))
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

func renderHTML(name, src string, data *renderData, cl clickLinker) (string, error) {
	if src == "" {
		return "", nil
	}
	var c *cachedHTML
	if v, ok := htmlCache.Load(src); ok {
		c = v.(*cachedHTML)
	} else {
		p, err := htmltemplate.New(name).Funcs(htmlFuncs(nil)).Option("missingkey=zero").Parse(src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		var trees []*parse.Tree
		for _, x := range p.Templates() {
			trees = append(trees, x.Tree)
		}
		c = &cachedHTML{t: p, lits: literals(trees...)}
		htmlCache.Store(src, c)
	}
	// html/template refuses to clone a template that has executed; clone the cached,
	// never-executed one.
	t, err := c.t.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(htmlFuncs(cl.bind(c.lits), data))
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return b.String(), nil
}

// Message is one rendered send handed to a Sender.
type Message struct {
	IdemKey    string // run x step x channel: the same send always has the same key
	SendID     int64
	RunID      int64
	CustomerID int64
	Journey    string
	Channel    string // email, sms, push, webhook
	Purpose    string
	To         string // email address, phone, push device/user id, or webhook URL
	Subject    string
	Text       string
	HTML       string
	Title      string
	URL        string
	Headers    map[string]string // email: List-Unsubscribe, List-Unsubscribe-Post
	Data       json.RawMessage   // webhook body
}

// render builds the message for action a; links are click-tracked through l.
func render(a *Action, data *renderData, l clickLinker) (*Message, error) {
	m := &Message{Channel: a.Channel}
	var err error
	r := func(name, src string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = renderText(name, src, data, l)
		return s
	}
	switch a.Channel {
	case "email":
		subj, text, html := a.Subject, a.Text, a.HTML
		if t, ok := emailTemplates[a.Template]; ok {
			subj, text, html = or(subj, t.Subject), or(text, t.Text), or(html, t.HTML)
		}
		m.Subject = strings.TrimSpace(r("subject", subj))
		m.Text = r("text", text)
		if err == nil {
			m.HTML, err = renderHTML("html", html, data, l)
		}
	case "sms":
		m.Text = r("text", a.Text)
	case "push":
		m.Title, m.Text, m.URL = r("title", a.Title), r("text", a.Text), r("url", a.URL)
	case "webhook":
		m.To = a.URL
		var body string
		if body, err = renderJSON("body", a.Text, data, l); err != nil {
			return m, err
		}
		if body == "" {
			b, _ := json.Marshal(map[string]any{"journey": data.Journey, "customer_id": data.Profile.ID, "email": data.Profile.Email, "event": data.Event})
			body = string(b)
		}
		m.Data = json.RawMessage(body)
	}
	return m, err
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

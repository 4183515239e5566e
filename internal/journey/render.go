package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync"
	"text/template"
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
}

// linker rewrites links for click tracking; nil leaves them alone (validation).
type linker func(url string) string

func dflt(def any, v any) any {
	if v == nil {
		return def
	}
	if s, ok := v.(string); ok && s == "" {
		return def
	}
	return v
}

func textFuncs(l linker) template.FuncMap {
	return template.FuncMap{
		"default": dflt,
		"upper":   strings.ToUpper,
		"link": func(u any) string {
			s := fmt.Sprint(u)
			if l == nil {
				return s
			}
			return l(s)
		},
	}
}

func htmlFuncs(l linker) htmltemplate.FuncMap { return htmltemplate.FuncMap(textFuncs(l)) }

// Parsed templates are cached by source: parsing was a tenth of a send's CPU. Each use
// clones the cached one to bind its own link function.
var textCache, htmlCache sync.Map

func renderText(name, src string, data *renderData, l linker) (string, error) {
	if src == "" {
		return "", nil
	}
	var t *template.Template
	if c, ok := textCache.Load(src); ok {
		t = c.(*template.Template)
	} else {
		p, err := template.New(name).Funcs(textFuncs(nil)).Option("missingkey=zero").Parse(src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		textCache.Store(src, p)
		t = p
	}
	t, err := t.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(textFuncs(l))
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return strings.ReplaceAll(b.String(), "<no value>", ""), nil
}

func renderHTML(name, src string, data *renderData, l linker) (string, error) {
	if src == "" {
		return "", nil
	}
	var t *htmltemplate.Template
	if c, ok := htmlCache.Load(src); ok {
		t = c.(*htmltemplate.Template)
	} else {
		p, err := htmltemplate.New(name).Funcs(htmlFuncs(nil)).Option("missingkey=zero").Parse(src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		htmlCache.Store(src, p)
		t = p
	}
	// html/template refuses to clone a template that has executed; clone the cached,
	// never-executed one.
	t, err := t.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(htmlFuncs(l))
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
func render(a *Action, data *renderData, l linker) (*Message, error) {
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
		body := r("body", a.Text)
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

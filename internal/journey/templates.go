package journey

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed templates/*.yaml
var templateFS embed.FS

// Template is a built-in journey document.
type Template struct {
	Name        string
	Description string
	Source      []byte
}

// Templates lists the built-in journeys by name.
func Templates() []Template {
	entries, _ := fs.ReadDir(templateFS, "templates")
	var out []Template
	for _, e := range entries {
		src, _ := templateFS.ReadFile("templates/" + e.Name())
		t := Template{Name: strings.TrimSuffix(e.Name(), ".yaml"), Source: src}
		if p, err := Compile(src); err == nil {
			t.Description = p.Description
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TemplateSource returns a built-in journey's document.
func TemplateSource(name string) ([]byte, error) {
	src, err := templateFS.ReadFile("templates/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in journey %q: %w", name, ErrNotFound)
	}
	return src, nil
}

// emailTemplate is a built-in message a document names with `template:`.
type emailTemplate struct{ Subject, Text, HTML string }

var emailTemplates = map[string]emailTemplate{
	"abandoned_cart": {
		Subject: `{{with .Profile.FirstName}}{{.}}, you{{else}}You{{end}} left something in your cart`,
		Text: `Hi {{default "there" .Profile.FirstName}},

You left {{with .Event.name}}{{.}}{{else}}something{{end}} in your cart at {{.Business}}.
{{with .Event.url}}Pick up where you left off: {{link .}}{{else}}{{with .ShopURL}}Pick up where you left off: {{link (print . "/cart")}}{{end}}{{end}}
` + recommendText("together", "Often bought with it"),
		HTML: `<p>Hi {{default "there" .Profile.FirstName}},</p>
<p>You left {{with .Event.name}}<b>{{.}}</b>{{else}}something{{end}} in your cart at {{.Business}}.</p>
{{with .Event.url}}<p><a href="{{link .}}">Pick up where you left off</a></p>{{else}}{{with .ShopURL}}<p><a href="{{link (print . "/cart")}}">Pick up where you left off</a></p>{{end}}{{end}}` + recommendHTML("together", "Often bought with it"),
	},
	"welcome": {
		Subject: `Welcome to {{.Business}}`,
		Text:    "Hi {{default \"there\" .Profile.FirstName}},\n\nThanks for joining {{.Business}}. We're glad you're here.\n{{with .ShopURL}}See what's fresh today: {{link .}}\n{{end}}",
		HTML:    `<p>Hi {{default "there" .Profile.FirstName}},</p><p>Thanks for joining {{.Business}}. We're glad you're here.</p>{{with .ShopURL}}<p><a href="{{link .}}">See what's fresh today</a></p>{{end}}`,
	},
	"review_request": {
		Subject: `How was your order?`,
		Text:    "Hi {{default \"there\" .Profile.FirstName}},\n\nHow did you like your order {{.Event.order_id}}?{{with .ShopURL}} Tell us: {{link (print . \"/review?order=\" $.Event.order_id)}}{{else}} Just reply to this email.{{end}}\n",
		HTML:    `<p>Hi {{default "there" .Profile.FirstName}},</p><p>How did you like your order {{.Event.order_id}}? {{with .ShopURL}}<a href="{{link (print . "/review?order=" $.Event.order_id)}}">Leave a review</a>{{else}}Just reply to this email.{{end}}</p>`,
	},
	"win_back": {
		Subject: `We miss you{{with .Profile.FirstName}}, {{.}}{{end}}`,
		Text:    "Hi {{default \"there\" .Profile.FirstName}},\n\nIt's been a while. Here is 15% off your next visit to {{.Business}}: COMEBACK15\n{{with .ShopURL}}Order online: {{link .}}\n{{end}}" + recommendText("for-you", "Picked for you"),
		HTML:    `<p>Hi {{default "there" .Profile.FirstName}},</p><p>It's been a while. Here is 15% off your next visit to {{.Business}}: <b>COMEBACK15</b></p>{{with .ShopURL}}<p><a href="{{link .}}">Order online</a></p>{{end}}` + recommendHTML("for-you", "Picked for you"),
	},
}

// recommendText and recommendHTML render a list of recommendations after a message, or
// nothing when there is none (no Recommender, or nothing to recommend).
func recommendText(list, heading string) string {
	return `{{with recommend "` + list + `" 3}}
` + heading + `:
{{range .}}- {{.Title}}, {{.Price}}: {{link .URL}} ({{.Reason}})
{{end}}{{end}}`
}

func recommendHTML(list, heading string) string {
	return `{{with recommend "` + list + `" 3}}<p>` + heading + `:</p><ul>{{range .}}<li><a href="{{link .URL}}">{{.Title}}</a>, {{.Price}}<br><small>{{.Reason}}</small></li>{{end}}</ul>{{end}}`
}

func emailTemplateNames() []string {
	var n []string
	for k := range emailTemplates {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

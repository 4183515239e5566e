package journey

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/omniroi/omniroi/internal/store"
)

// TemplateSetting is one value of a built-in journey that may be chosen when it is
// applied: its name, its holdout and its waits. Key is the value's path in the journey
// document (name, holdout, steps[2].wait, steps[0].wait.timeout), the same path the
// document's errors name.
type TemplateSetting struct {
	Key     string `json:"key"`
	Label   string `json:"label"`
	Kind    string `json:"kind"` // name, percent or duration
	Default string `json:"default"`
	Help    string `json:"help"`
}

// TemplateSettings lists the values of a built-in journey that may be chosen when it is
// applied, in document order, with their defaults (the template's own values).
func TemplateSettings(template string) ([]TemplateSetting, error) {
	src, err := TemplateSource(template)
	if err != nil {
		return nil, err
	}
	root, err := parseYAML(src)
	if err != nil {
		return nil, err
	}
	var out []TemplateSetting
	for _, f := range templateFields(root) {
		out = append(out, f.TemplateSetting)
	}
	return out, nil
}

// TemplateDocument is a built-in journey's document with values (by TemplateSetting.Key)
// in place of its defaults; a key not given keeps the template's value. A refused value
// is reported in fields, by key, in words (the document is then nil); a key that is not
// a setting of the template is an error.
func TemplateDocument(template string, values map[string]string) (doc []byte, fields map[string]string, err error) {
	src, err := TemplateSource(template)
	if err != nil {
		return nil, nil, err
	}
	root, err := parseYAML(src)
	if err != nil {
		return nil, nil, err
	}
	fs := templateFields(root)
	known := map[string]bool{}
	for _, f := range fs {
		known[f.Key] = true
	}
	var unknown []string
	for k := range values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, nil, fmt.Errorf("journey %s has no setting %s (its settings: %s)", template, strings.Join(unknown, ", "), strings.Join(settingKeys(fs), ", "))
	}
	fields = map[string]string{}
	for _, f := range fs {
		v, ok := values[f.Key]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" {
			fields[f.Key] = "is required"
			continue
		}
		f.node.Value, f.node.Tag, f.node.Style = v, "!!str", 0
	}
	doc, err = yaml.Marshal(root)
	if err != nil {
		return nil, nil, err
	}
	// The compiler checks the values (one set of rules for documents and forms); each
	// refusal is shown beside the setting it is about.
	if _, err := Compile(doc); err != nil {
		var de *DocError
		if !errors.As(err, &de) {
			return nil, nil, err
		}
		for _, fe := range de.Errs {
			key := ""
			for _, f := range fs {
				if fe.Path == f.Key || strings.HasPrefix(fe.Path, f.Key+".") {
					key = f.Key
				}
			}
			if key == "" {
				return nil, nil, err
			}
			if fields[key] == "" {
				fields[key] = fe.Msg
			}
		}
	}
	if len(fields) > 0 {
		return nil, fields, nil
	}
	return doc, nil, nil
}

// ApplyTemplate applies a built-in journey with chosen settings (TemplateDocument, then
// Apply): what `omniroi journey apply NAME [--set KEY=VALUE]` and the dashboard's form do.
// Refused values come back in fields, and nothing is applied.
func ApplyTemplate(ctx context.Context, db *store.DB, template string, values map[string]string) (Applied, map[string]string, error) {
	doc, fields, err := TemplateDocument(template, values)
	if err != nil || len(fields) > 0 {
		return Applied{}, fields, err
	}
	a, err := Apply(ctx, db, doc)
	return a, nil, err
}

type templateField struct {
	TemplateSetting
	node *yaml.Node
}

func parseYAML(src []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("parse journey document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("parse journey document: not a mapping")
	}
	return &root, nil
}

// mapValue is the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// templateFields finds a document's settings: the name, the holdout (added with the
// default when the document has none) and every wait.
func templateFields(root *yaml.Node) []templateField {
	top := root.Content[0]
	var out []templateField
	if n := mapValue(top, "name"); n != nil && n.Kind == yaml.ScalarNode {
		out = append(out, templateField{TemplateSetting{Key: "name", Label: "Journey name", Kind: "name", Default: n.Value,
			Help: "lower-case letters, digits and dashes; another name applies a copy beside this one"}, n})
	}
	hn := mapValue(top, "holdout")
	if hn == nil {
		hn = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "10%"}
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "holdout"}, hn)
	}
	if hn.Kind == yaml.ScalarNode {
		out = append(out, templateField{TemplateSetting{Key: "holdout", Label: "Holdout", Kind: "percent", Default: hn.Value,
			Help: "the share of customers who enter but are sent nothing, so the report can measure what the messages earn (e.g. 10%)"}, hn})
	}
	steps := mapValue(top, "steps")
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return out
	}
	for i, st := range steps.Content {
		w := mapValue(st, "wait")
		if w == nil {
			continue
		}
		step := fmt.Sprintf("Step %d", i+1)
		if id := mapValue(st, "id"); id != nil && id.Kind == yaml.ScalarNode {
			step += " (" + id.Value + ")"
		}
		path := fmt.Sprintf("steps[%d].wait", i)
		switch {
		case w.Kind == yaml.ScalarNode:
			out = append(out, templateField{TemplateSetting{Key: path, Label: step + ": wait", Kind: "duration", Default: w.Value,
				Help: "how long to wait before the next step (e.g. 30m, 1h, 3d, 2w)"}, w})
		case mapValue(w, "timeout") != nil && mapValue(w, "timeout").Kind == yaml.ScalarNode:
			what := "the event"
			if ev := mapValue(mapValue(w, "until"), "event"); ev != nil {
				what = ev.Value
			}
			out = append(out, templateField{TemplateSetting{Key: path + ".timeout", Label: step + ": longest wait for " + what, Kind: "duration", Default: mapValue(w, "timeout").Value,
				Help: "how long to wait for " + what + " before going on (e.g. 1h, 2d)"}, mapValue(w, "timeout")})
		case mapValue(w, "duration") != nil && mapValue(w, "duration").Kind == yaml.ScalarNode:
			out = append(out, templateField{TemplateSetting{Key: path + ".duration", Label: step + ": wait", Kind: "duration", Default: mapValue(w, "duration").Value,
				Help: "how long to wait before the next step (e.g. 30m, 1h, 3d, 2w)"}, mapValue(w, "duration")})
		}
	}
	return out
}

func settingKeys(fs []templateField) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

package web

import (
	"html/template"
	"regexp"
	"sort"
	"strings"
)

// glossary explains, in plain words, every statistical or marketing term the dashboard
// shows. Templates use it through {{term "ROAS"}} (an <abbr> whose title is the
// explanation, shown on hover and read by screen readers) and table headings through
// {{terms .Label}}, which marks every known term inside a heading.
var glossary = map[string]string{
	"ROAS":            "Return on ad spend: revenue credited to ads divided by what the ads cost. 3.0 means €3 of sales for every €1 spent.",
	"POAS":            "Profit on ad spend: gross profit (revenue × margin) credited to ads divided by what the ads cost. Above 1.0 the ads paid for themselves.",
	"ROI":             "Return on investment: what a channel earned minus what it cost, as a share of the cost. 0 % is break-even, −100 % means nothing came back.",
	"CAC":             "Customer acquisition cost: spend on a channel divided by the new customers it brought.",
	"CLV":             "Customer lifetime value: what a customer is expected to spend over the next 12 months, predicted from how often and how much they bought.",
	"LTV:CAC":         "Predicted value of a new customer divided by what it cost to win them. Above 3 is usually healthy; below 1 the customer costs more than they bring.",
	"Predicted value": "What the customer is expected to spend over the next 12 months, predicted from how often and how much they bought (CLV).",
	"Churn risk":      "How likely the customer has stopped buying, from the time since their last order compared with how often they usually order: active, cooling, at risk or lost.",
	"P(alive)":        "The chance that the customer still buys from you, given how often they used to order and how long it has been.",
	"RFM":             "Recency, frequency, monetary: each customer scored 1 to 5 on how recently, how often and how much they bought; the scores name the segment.",
	"Segment":         "A group of customers with similar recency, frequency and spend (RFM scores), e.g. Champions or At Risk.",
	"Interval":        "The range the true figure most likely lies in (90 % sure unless stated). A wide interval means the data cannot tell precisely.",
	"Credible":        "A credible interval: given the data and the model, the true figure lies in this range with the stated probability.",
	"p-value":         "How surprising the result would be if there were no real effect. Below 0.05 is usually read as a real difference; it is not the chance the result is wrong.",
	"MAPE":            "Mean absolute percentage error: how far the model's fitted figures were from the real ones, on average, in per cent. Lower is better.",
	"Holdout":         "Customers left out of a campaign on purpose, so that what they do shows what would have happened without it.",
	"Lift":            "How much more the treated group did than the holdout: the effect the campaign caused, not just the sales that followed it.",
	"Payback":         "How many months of a new customer's gross profit it takes to earn back what it cost to acquire them.",
	"Coverage":        "The share of orders that carry marketing data (a campaign, a click id, a visit): only those can be credited to ads.",
	"Markov":          "An attribution model that credits each channel by how many sales would be lost if that channel were taken out of customers' paths.",
	"Shapley":         "An attribution model that splits each sale's credit fairly between the channels that appeared together in paths, like sharing a team's win.",
	"Cohort":          "Customers grouped by the month of their first order, followed over the months that came after.",
	"Retention":       "The share of a cohort that ordered again in a later month.",
}

// termPattern finds glossary terms inside a text as whole words, longest first (so
// "LTV:CAC" wins over "CAC").
var termPattern = func() *regexp.Regexp {
	keys := make([]string, 0, len(glossary))
	for k := range glossary {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	for i, k := range keys {
		keys[i] = regexp.QuoteMeta(k)
	}
	return regexp.MustCompile(`(?i)(^|[^\pL\pN])(` + strings.Join(keys, "|") + `)($|[^\pL\pN])`)
}()

// glossaryLower finds a term's explanation whatever its case ("interval", "Interval").
var glossaryLower = func() map[string]string {
	m := make(map[string]string, len(glossary))
	for k, v := range glossary {
		m[strings.ToLower(k)] = v
	}
	return m
}()

// term renders a glossary term as an <abbr> with its explanation; an unknown term is
// shown as plain (escaped) text, and a test checks that every template term is known.
func term(name string) template.HTML {
	expl, ok := glossaryLower[strings.ToLower(name)]
	if !ok {
		return template.HTML(template.HTMLEscapeString(name))
	}
	return template.HTML(`<abbr class="term" title="` + template.HTMLEscapeString(expl) + `">` + template.HTMLEscapeString(name) + `</abbr>`)
}

// terms escapes a text (a table heading) and marks each glossary term in it with term.
func terms(text string) template.HTML {
	var b strings.Builder
	rest := text
	for {
		m := termPattern.FindStringSubmatchIndex(rest)
		if m == nil {
			break
		}
		// m[4]:m[5] is the term; the groups around it are the word boundaries.
		b.WriteString(template.HTMLEscapeString(rest[:m[4]]))
		b.WriteString(string(term(rest[m[4]:m[5]])))
		rest = rest[m[5]:]
	}
	b.WriteString(template.HTMLEscapeString(rest))
	return template.HTML(b.String())
}

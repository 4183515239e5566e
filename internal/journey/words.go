package journey

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// StepWords says what step i of the plan does, in plain words for the dashboard: no
// template syntax (a message's own text is seen in its preview), durations in words.
func (p *Plan) StepWords(i int) string {
	if i < 0 || i >= len(p.Nodes) {
		return ""
	}
	n := &p.Nodes[i]
	then := func(t int) string {
		if t == End {
			return "the journey ends"
		}
		if t == i+1 {
			return "go on"
		}
		return fmt.Sprintf("go to step %d (%s)", t+1, p.Nodes[t].ID)
	}
	switch n.Kind {
	case "wait":
		return "Wait " + durWords(n.Wait) + ", then " + then(n.Next) + "."
	case "wait_until":
		return fmt.Sprintf("Wait up to %s for %s; if it comes, %s; if not, %s.", durWords(n.Timeout), matchWords(*n.Until), then(n.OnEvent), then(n.Next))
	case "condition":
		return fmt.Sprintf("If %s, %s; otherwise %s.", condWords(n.Cond), then(n.Then), then(n.Else))
	case "split":
		var s []string
		for _, br := range n.Split {
			s = append(s, fmt.Sprintf("%g %% %s", br.Percent, then(br.Goto)))
		}
		return "Split at random: " + strings.Join(s, ", ") + "."
	case "goto":
		return "Then " + then(n.Next) + "."
	case "send":
		s := sendWords(n.Send)
		if n.Test != nil {
			s += fmt.Sprintf(", in %d variants (%s %s)", len(n.Test.Variants), n.Test.Mode, n.Test.Name)
		}
		if n.Send.SendTime == "best" {
			s += ", at the hour the customer is most active (up to " + durWords(n.Send.MaxDelay) + " later)"
		}
		return s + ", then " + then(n.Next) + "."
	}
	return n.Kind
}

func sendWords(a *Action) string {
	kind := map[string]string{"email": "an email", "sms": "a text message", "push": "a push notification"}
	purpose := ""
	if a.Transactional {
		purpose = " (transactional)"
	}
	switch a.Channel {
	case "email":
		if a.Template != "" {
			return "Send " + kind["email"] + purpose + ": the built-in “" + strings.ReplaceAll(a.Template, "_", " ") + "” message"
		}
		return "Send " + kind["email"] + purpose + " written for this journey"
	case "sms", "push":
		return "Send " + kind[a.Channel] + purpose
	case "webhook":
		return "Call a webhook"
	case "profile":
		keys := make([]string, 0, len(a.Traits))
		for k := range a.Traits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "Update the customer's profile (" + strings.Join(keys, ", ") + ")"
	case "best":
		var chs []string
		for _, o := range a.Options {
			chs = append(chs, strings.TrimPrefix(strings.TrimPrefix(kind[o.Channel], "an "), "a "))
		}
		return "Send one message, on the channel the customer engages with most: " + strings.Join(chs, " or ")
	}
	return "Send " + a.Channel
}

func matchWords(m Match) string {
	if m.Key != "" {
		return fmt.Sprintf("“%s” (same %s)", m.Event, m.Key)
	}
	return "“" + m.Event + "”"
}

func condWords(c *Cond) string {
	if c == nil {
		return "?"
	}
	switch c.Kind {
	case "event":
		return "the customer did “" + c.Name + "” since entering"
	case "trait":
		if c.Op == "exists" {
			return "the profile has " + c.Name
		}
		op := map[string]string{"equals": "is", "not_equals": "is not", "gt": "is more than", "lt": "is less than"}[c.Op]
		return fmt.Sprintf("the profile's %s %s %q", c.Name, op, c.Value)
	case "segment":
		return "the customer is in the segment " + c.Value
	case "next_best_action":
		return "the next best action is " + c.Value
	case "consent":
		return "the customer agreed to " + map[string]string{"email": "email", "sms": "text messages", "push": "push notifications"}[c.Channel]
	case "opened", "clicked":
		return fmt.Sprintf("the message of step %s was %s", c.Name, c.Kind)
	case "not":
		return "not (" + condWords(&c.Sub[0]) + ")"
	case "all", "any":
		var s []string
		for i := range c.Sub {
			s = append(s, condWords(&c.Sub[i]))
		}
		j := " and "
		if c.Kind == "any" {
			j = " or "
		}
		return strings.Join(s, j)
	}
	return c.Kind
}

// durWords writes a duration in words: 1 hour, 3 days, 2 weeks, 90 minutes.
func durWords(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d <= 0:
		return "no time"
	case d%(7*24*time.Hour) == 0:
		return unit(int64(d/(7*24*time.Hour)), "week")
	case d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return d.String()
}

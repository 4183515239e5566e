package journey

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// String renders the plan one line per fact, for golden files and `journey show`.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journey %s purpose=%s holdout=%s\n", p.Name, p.Purpose, pct(p.Holdout))
	switch p.Entry.Kind {
	case "event":
		fmt.Fprintf(&b, "entry event %q", p.Entry.Event)
		if p.Entry.Key != "" {
			fmt.Fprintf(&b, " key=%s", p.Entry.Key)
		}
		b.WriteByte('\n')
	case "segment":
		fmt.Fprintf(&b, "entry segment")
		if p.Entry.Segment != "" {
			fmt.Fprintf(&b, " becomes=%q", p.Entry.Segment)
		}
		if p.Entry.PAliveBelow > 0 {
			fmt.Fprintf(&b, " p_alive<%g", p.Entry.PAliveBelow)
		}
		b.WriteByte('\n')
	case "date":
		fmt.Fprintf(&b, "entry date %s\n", p.Entry.Date)
	case "lead_score":
		fmt.Fprintf(&b, "entry lead score rises above %g\n", p.Entry.LeadScoreAbove)
	}
	fmt.Fprintf(&b, "reentry %s", p.ReEntry.Mode)
	if p.ReEntry.Mode == "cooldown" {
		fmt.Fprintf(&b, " %s", dur(p.ReEntry.Cooldown))
	}
	b.WriteByte('\n')
	for _, m := range p.Exit {
		fmt.Fprintf(&b, "exit on %s\n", matchText(m))
	}
	if c := p.Policy.Cap; c != nil {
		fmt.Fprintf(&b, "policy frequency_cap max=%d per=%s over=%s\n", c.Max, dur(c.Per), c.Over)
	}
	if q := p.Policy.Quiet; q != nil {
		fmt.Fprintf(&b, "policy quiet_hours %02d:%02d-%02d:%02d\n", q.From/60, q.From%60, q.To/60, q.To%60)
	}
	for i, n := range p.Nodes {
		fmt.Fprintf(&b, "%d %s: %s\n", i, n.ID, p.nodeText(&n))
	}
	return b.String()
}

func matchText(m Match) string {
	s := fmt.Sprintf("%q", m.Event)
	if m.Key != "" {
		s += " key=" + m.Key
	}
	return s
}

func (p *Plan) target(i int) string {
	if i == End {
		return "end"
	}
	return fmt.Sprintf("%d(%s)", i, p.Nodes[i].ID)
}

func (p *Plan) nodeText(n *Node) string {
	switch n.Kind {
	case "wait":
		return fmt.Sprintf("wait %s -> %s", dur(n.Wait), p.target(n.Next))
	case "wait_until":
		return fmt.Sprintf("wait until %s timeout=%s; event -> %s; timeout -> %s", matchText(*n.Until), dur(n.Timeout), p.target(n.OnEvent), p.target(n.Next))
	case "condition":
		return fmt.Sprintf("if %s then -> %s else -> %s", condText(n.Cond), p.target(n.Then), p.target(n.Else))
	case "split":
		var s []string
		for _, br := range n.Split {
			s = append(s, fmt.Sprintf("%g%% -> %s", br.Percent, p.target(br.Goto)))
		}
		return "split " + strings.Join(s, ", ")
	case "goto":
		return "goto " + p.target(n.Next)
	case "send":
		a := n.Send
		purpose := "marketing"
		if a.Transactional {
			purpose = "transactional"
		}
		s := fmt.Sprintf("send %s (%s)", a.Channel, purpose)
		if a.Channel == "best" {
			var chs []string
			for _, o := range a.Options {
				chs = append(chs, o.Channel)
			}
			s = fmt.Sprintf("send best of [%s] by %s (%s)", strings.Join(chs, ", "), a.Choose, purpose)
		}
		if a.SendTime == "best" {
			s += fmt.Sprintf(" send_time=best(max_delay=%s, min_events=%d)", dur(a.MaxDelay), a.MinEvents)
		}
		for _, o := range a.Options {
			s += " | " + o.Channel + ":"
			if o.Template != "" {
				s += " template=" + o.Template
			}
			if o.Subject != "" {
				s += fmt.Sprintf(" subject=%q", o.Subject)
			}
			if o.Title != "" {
				s += fmt.Sprintf(" title=%q", o.Title)
			}
			if o.Text != "" && o.Template == "" && o.Subject == "" {
				s += fmt.Sprintf(" text=%q", o.Text)
			}
		}
		if a.Template != "" {
			s += " template=" + a.Template
		}
		if a.Subject != "" {
			s += fmt.Sprintf(" subject=%q", a.Subject)
		}
		if a.URL != "" {
			s += " url=" + a.URL
		}
		if len(a.Traits) > 0 {
			var ks []string
			for k := range a.Traits {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			s += " traits=" + strings.Join(ks, ",")
		}
		if t := n.Test; t != nil {
			var vs []string
			for _, v := range t.Variants {
				d := v.Key
				if t.Mode == ModeTest {
					d += fmt.Sprintf("=%g", v.Weight)
				}
				if v.Send.Channel != a.Channel {
					d += " " + v.Send.Channel
				} else if v.Send.Subject != a.Subject {
					d += fmt.Sprintf(" subject=%q", v.Send.Subject)
				}
				vs = append(vs, d)
			}
			s += fmt.Sprintf(" %s %s on %s [%s]", t.Mode, t.Name, t.Metric, strings.Join(vs, ", "))
			if t.Mode == ModeOptimise {
				s += fmt.Sprintf(" floor=%g%% update=%s", 100*t.Floor, dur(t.Update))
			}
		}
		return s + " -> " + p.target(n.Next)
	}
	return n.Kind
}

func condText(c *Cond) string {
	if c == nil {
		return "?"
	}
	switch c.Kind {
	case "event":
		return fmt.Sprintf("event %q since entry", c.Name)
	case "trait":
		if c.Op == "exists" {
			return "trait " + c.Name + " exists"
		}
		return fmt.Sprintf("trait %s %s %q", c.Name, c.Op, c.Value)
	case "segment":
		return fmt.Sprintf("segment is %q", c.Value)
	case "next_best_action":
		return fmt.Sprintf("next best action is %q", c.Value)
	case "consent":
		return fmt.Sprintf("consent %s/%s", c.Channel, c.Purpose)
	case "opened", "clicked":
		return fmt.Sprintf("%s %s", c.Kind, c.Name)
	case "not":
		return "not (" + condText(&c.Sub[0]) + ")"
	case "all", "any":
		var s []string
		for i := range c.Sub {
			s = append(s, condText(&c.Sub[i]))
		}
		return c.Kind + "(" + strings.Join(s, "; ") + ")"
	}
	return c.Kind
}

func pct(f float64) string { return fmt.Sprintf("%g%%", f*100) }

// dur prints whole days as "3d" and the rest as Go durations.
func dur(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

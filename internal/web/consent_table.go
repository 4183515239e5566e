package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/omniroi/omniroi/internal/identity"
)

// consentRow is one permission on the customer page: what it covers, granted or
// refused, who said so and when.
type consentRow struct {
	category, state, source string
	at                      int64 // unix ms
}

// consentTable lays out a customer's consent as rows (category, state, source, when):
// each leaf of a consent trait ("consent": {"email": {"marketing": true}} is the row
// "email marketing"), then the decisions recorded in omniroi itself (unsubscribe links,
// confirmed opt-ins), which the journeys follow before any trait.
func (s *server) consentTable(ctx context.Context, p *page, prof identity.CustomerProfile, keys []string, unverified map[string]bool) error {
	loc := p.Range.Loc
	var rows []consentRow
	seqs := map[int64]string{}
	for _, k := range keys {
		var v any
		if json.Unmarshal(prof.Traits[k], &v) != nil {
			continue
		}
		o := prof.TraitOrigins[k]
		seqs[o.Seq] = ""
		var walk func(path []string, v any)
		walk = func(path []string, v any) {
			if m, ok := v.(map[string]any); ok && len(m) > 0 {
				sub := make([]string, 0, len(m))
				for c := range m {
					sub = append(sub, c)
				}
				sort.Strings(sub)
				for _, c := range sub {
					walk(append(path[:len(path):len(path)], c), m[c])
				}
				return
			}
			r := consentRow{category: consentCategory(path), state: consentState(v), at: o.At.UnixMilli()}
			r.source = fmt.Sprintf("#%d", o.Seq) // replaced by the source's name below
			if unverified[k] {
				r.state += " (unverified: grants nothing until confirmed)"
			}
			rows = append(rows, r)
		}
		walk([]string{k}, v)
	}
	// The sources of the events that set the traits.
	if len(seqs) > 0 {
		args := make([]any, 0, len(seqs))
		for q := range seqs {
			args = append(args, q)
		}
		rs, err := s.db.Query(ctx, `SELECT e.seq, s.name FROM events e JOIN sources s ON s.id = e.source_id WHERE e.seq IN (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...)
		if err != nil {
			return fmt.Errorf("read consent sources: %w", err)
		}
		for rs.Next() {
			var q int64
			var name string
			if err := rs.Scan(&q, &name); err != nil {
				rs.Close()
				return err
			}
			seqs[q] = name
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		for i := range rows {
			var q int64
			fmt.Sscanf(rows[i].source, "#%d", &q)
			if n := seqs[q]; n != "" {
				rows[i].source = "source " + n
			} else {
				rows[i].source = "an event no longer stored"
			}
		}
	}
	if ok, err := s.hasTable(ctx, "journey_consent"); err != nil {
		return err
	} else if ok {
		rs, err := s.db.Query(ctx, `SELECT channel, purpose, granted, updated_at, source FROM journey_consent WHERE customer_id = ? ORDER BY channel, purpose`, prof.ID)
		if err != nil {
			return fmt.Errorf("read consent decisions: %w", err)
		}
		for rs.Next() {
			var ch, purpose, src string
			var granted int
			var at int64
			if err := rs.Scan(&ch, &purpose, &granted, &at, &src); err != nil {
				rs.Close()
				return err
			}
			st := "refused"
			if granted != 0 {
				st = "granted"
			}
			if src == "" {
				src = "recorded by omniroi"
			}
			rows = append(rows, consentRow{category: ch + " " + purpose + " (journeys follow this first)", state: st, source: src, at: at})
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
	}
	t := p.addTable(&Table{ID: "consent", Caption: "Consent", Cols: []Col{{Label: "Category"}, {Label: "State"}, {Label: "Source"}, {Label: "When"}},
		Empty: "No consent recorded. Send it as a trait (for example email_marketing_consent) with identify calls."})
	for _, r := range rows {
		t.Rows = append(t.Rows, []Cell{txt(r.category), txt(r.state), txt(r.source), txt(formatTime(r.at, loc))})
	}
	return nil
}

// consentCategory names a consent leaf in words: ["consent", "email", "marketing"] is
// "email marketing"; ["email_marketing_consent"] is "email marketing consent".
func consentCategory(path []string) string {
	var words []string
	for _, p := range path {
		words = append(words, strings.FieldsFunc(p, func(r rune) bool { return r == '_' || r == '.' || r == '-' || r == ' ' })...)
	}
	if len(words) > 1 && strings.EqualFold(words[0], "consent") {
		words = words[1:]
	}
	return strings.Join(words, " ")
}

// consentState says a consent value in words: granted, refused, or the value as sent.
func consentState(v any) string {
	raw, _ := json.Marshal(v)
	if identity.Withdrawal(raw) {
		return "refused"
	}
	switch x := v.(type) {
	case bool:
		return "granted" // false is a withdrawal, above
	case float64:
		if x == 1 {
			return "granted"
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "granted", "opt_in", "opted_in", "subscribed", "1":
			return "granted"
		}
		return x
	case nil:
		return "not said"
	}
	return string(raw)
}

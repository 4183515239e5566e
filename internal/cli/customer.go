package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/omniroi/omniroi/internal/identity"
	"github.com/omniroi/omniroi/internal/money"
)

func init() {
	c := &Command{
		Name:    "customer",
		Summary: "show a customer (identities, traits, orders, touchpoints), search, list identity conflicts",
		Usage: "omniroi customer show ID|EMAIL|PHONE|USERID [--json]\n" +
			"       omniroi customer search TEXT [--limit 20] [--json]\n" +
			"       omniroi customer conflicts [--limit 100] [--json]",
	}
	c.Run = func(ctx context.Context, env *Env, args []string) error {
		fs, sf := storeFlagSet(c, env)
		limit := fs.Int("limit", 0, "how many rows to list")
		sub, pos, err := parseSub(fs, args, map[string][]int{"show": {1}, "search": {0, 1}, "conflicts": {0}})
		if err != nil {
			return err
		}
		db, err := sf.Open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		switch sub {
		case "show":
			cu, err := identity.FindCustomer(ctx, db, pos[0])
			if err != nil {
				return err
			}
			p, err := identity.Profile(ctx, db, cu.ID)
			if err != nil {
				return err
			}
			if sf.JSON {
				return PrintJSON(env.Stdout, p)
			}
			printProfile(env.Stdout, p)
			return nil
		case "search":
			q := ""
			if len(pos) == 1 {
				q = pos[0]
			}
			cs, err := identity.Search(ctx, db, q, max(*limit, 20))
			if err != nil {
				return err
			}
			return printRows(env, sf.JSON, cs, "ID\tNAME\tEMAIL\tPHONE\tUSER ID\tLAST SEEN", func(w io.Writer, c identity.Customer) {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, Clean(c.Name), Clean(c.Email), Clean(c.Phone), Clean(c.UserID), c.LastSeen.Format(time.DateTime))
			})
		default:
			cs, err := identity.Conflicts(ctx, db, *limit)
			if err != nil {
				return err
			}
			if len(cs) == 0 && !sf.JSON {
				fmt.Fprintln(env.Stdout, "no identity conflicts")
				return nil
			}
			return printRows(env, sf.JSON, cs, "TIME\tCUSTOMER\tOTHER\tREASON", func(w io.Writer, c identity.Conflict) {
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", c.Time.Format(time.DateTime), c.CustomerID, c.OtherID, Clean(c.Reason))
			})
		}
	}
	Register(c)
}

func printProfile(w io.Writer, p identity.CustomerProfile) {
	fmt.Fprintf(w, "customer %d", p.ID)
	if p.Name != "" {
		fmt.Fprintf(w, "  %s", Clean(p.Name))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  first seen %s, last seen %s, %d events\n", p.FirstSeen.Format(time.DateTime), p.LastSeen.Format(time.DateTime), p.Events)
	if len(p.Groups) > 0 {
		names := make([]string, len(p.Groups))
		for i, g := range p.Groups {
			names[i] = Clean(g.Label())
		}
		fmt.Fprintf(w, "  Member of: %s\n", strings.Join(names, ", "))
	}
	if len(p.Unverified) > 0 {
		fmt.Fprintf(w, "  unverified (sent with a public key, not confirmed; never messaged, no consent): %s\n", strings.Join(p.Unverified, ", "))
	}
	fmt.Fprintln(w, "\nidentities:")
	for _, i := range p.Identities {
		shared := ""
		if i.Shared {
			shared = "  (shared: no longer merges)"
		}
		fmt.Fprintf(w, "  %-13s %s%s\n", Clean(i.Kind), Clean(i.Value), shared)
	}
	if len(p.Traits) > 0 {
		fmt.Fprintln(w, "\ntraits:")
		keys := make([]string, 0, len(p.Traits))
		for k := range p.Traits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", Clean(k), Clean(string(p.Traits[k])))
		}
	}
	fmt.Fprintf(w, "\norders (%d):\n", len(p.Orders))
	for _, o := range p.Orders {
		ref := ""
		if o.RefundedMinor != 0 {
			ref = "  refunded " + money.Format(o.RefundedMinor, o.Currency)
		}
		fmt.Fprintf(w, "  %s  %-14s %10s %s  %-6s %s%s\n", o.Time.Format(time.DateTime), Clean(o.OrderID), money.Format(o.RevenueMinor, o.Currency), Clean(o.Currency), Clean(o.Location), Clean(o.Channel), ref)
	}
	fmt.Fprintf(w, "\ntouchpoints (%d):\n", len(p.Touchpoints))
	if p.Truncated {
		fmt.Fprintf(w, "  (newest %d only)\n", len(p.Touchpoints))
	}
	for _, t := range p.Touchpoints {
		camp := ""
		if t.Campaign != "" && t.Campaign != "(none)" {
			camp = "  campaign " + Clean(t.Campaign)
		}
		fmt.Fprintf(w, "  %s  %-6s %-24s %s%s\n", t.Time.Format(time.DateTime), Clean(t.Type), Clean(t.Name), Clean(t.Channel), camp)
	}
	if len(p.Merges) > 0 {
		fmt.Fprintln(w, "\nmerged:")
		for _, m := range p.Merges {
			fmt.Fprintf(w, "  %s  customer %d via %s %s\n", m.Time.Format(time.DateTime), m.MergedID, Clean(m.Kind), Clean(m.Value))
		}
	}
	if len(p.Conflicts) > 0 {
		fmt.Fprintln(w, "\nconflicts:")
		for _, c := range p.Conflicts {
			fmt.Fprintf(w, "  %s  %s\n", c.Time.Format(time.DateTime), Clean(c.Reason))
		}
	}
}

package rollup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/attribution/pathstore"
	"github.com/omniroi/omniroi/internal/commerce"
	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// Query asks for the rollup of the days [From, To) of the business calendar.
type Query struct {
	// From and To are local midnights in Loc; From zero means from the beginning.
	From, To time.Time
	Loc      *time.Location // the business time zone
}

// Period is the answer to a Query: its rows in their own currencies, in key order.
type Period struct {
	Rows []Row
	// FromTable is false when the rows were computed from the processor's tables
	// because daily_rollups is not kept for Loc (a store from before the table, or a time
	// zone changed since the processor's last batch).
	FromTable bool
}

// ForPeriod returns the rollup of the query's days: the rows of daily_rollups of those
// days (reading nothing else), with the spend of those days from the spend table added
// under its day, channel, campaign and currency (location "").
func ForPeriod(ctx context.Context, db *store.DB, q Query) (Period, error) {
	if q.Loc == nil {
		q.Loc = time.UTC
	}
	lo, hi := int64(-1<<40), commerce.LocalDay(q.To, q.Loc)
	if !q.From.IsZero() {
		lo = commerce.LocalDay(q.From, q.Loc)
	}
	var out Period
	m := map[Key]Counts{}
	cur, err := Current(ctx, db, q.Loc)
	if err != nil {
		return out, err
	}
	if cur {
		out.FromTable = true
		if err := readRows(ctx, db, lo, hi, m); err != nil {
			return out, err
		}
	} else {
		if m, err = contributionDays(ctx, db, db.Dialect, lo, hi, q.Loc); err != nil {
			return out, err
		}
	}
	if err := readSpend(ctx, db, lo, hi, m); err != nil {
		return out, err
	}
	out.Rows = Rows(m)
	return out, nil
}

func readRows(ctx context.Context, db *store.DB, lo, hi int64, m map[Key]Counts) error {
	rows, err := db.Query(ctx, `SELECT `+insertCols+` FROM daily_rollups WHERE day >= ? AND day < ?`, lo, hi)
	if err != nil {
		return fmt.Errorf("read daily rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k Key
		var c Counts
		if err := rows.Scan(&k.Day, &k.Channel, &k.Campaign, &k.Location, &k.Currency, &c.Sessions, &c.Orders, &c.RevenueMinor, &c.RefundsMinor, &c.NewCustomers); err != nil {
			return fmt.Errorf("read daily rollups: %w", err)
		}
		m[k] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read daily rollups: %w", err)
	}
	return nil
}

// readSpend adds the spend of the days [lo, hi) to m. Spend is imported per day of the
// business calendar (YYYY-MM-DD), channel and campaign, so it is read where it is kept
// rather than copied into daily_rollups (docs/decisions.md).
func readSpend(ctx context.Context, db *store.DB, lo, hi int64, m map[Key]Counts) error {
	from := "0000-01-01"
	if lo > -1<<39 {
		from = commerce.DayTime(lo).Format(time.DateOnly)
	}
	to := commerce.DayTime(hi).Format(time.DateOnly)
	rows, err := db.Query(ctx, `SELECT day, channel, campaign, currency, `+db.SumMinor("amount_minor")+` FROM spend
		WHERE day >= ? AND day < ? GROUP BY day, channel, campaign, currency`, from, to)
	if err != nil {
		return fmt.Errorf("read spend: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day string
		var k Key
		var amount int64
		if err := rows.Scan(&day, &k.Channel, &k.Campaign, &k.Currency, &amount); err != nil {
			return fmt.Errorf("read spend: %w", err)
		}
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return fmt.Errorf("read spend: bad day %q", day)
		}
		k.Day = t.Unix() / 86400
		k.Channel = pathstore.ChannelName(k.Channel)
		c := m[k]
		c.SpendMinor = money.SatAdd(c.SpendMinor, amount)
		m[k] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read spend: %w", err)
	}
	return nil
}

// Convert returns rows with every amount in currency cur: amounts in other currencies are
// converted at the rate of their day (commerce.FX, as attribution converts orders and
// spend), summed per day and cell, so rounding is per cell and day. A row whose day has
// no usable rate keeps its counts without its amounts, and its orders are counted in
// Unconverted. Rows without a currency (sessions) are kept as they are.
func Convert(rows []Row, fx *commerce.FX, cur string, loc *time.Location) ([]Row, error) {
	m := make(map[Key]Counts, len(rows))
	for _, r := range rows {
		k, c := r.Key, r.Counts
		if k.Currency != "" && k.Currency != cur {
			at := localDate(k.Day, loc)
			conv := func(v int64) (int64, error) {
				if v == 0 {
					return 0, nil
				}
				x, err := fx.Convert(money.Amount{Minor: v, Currency: k.Currency}, at, cur)
				return x.Amount.Minor, err
			}
			rev, err1 := conv(c.RevenueMinor)
			ref, err2 := conv(c.RefundsMinor)
			sp, err3 := conv(c.SpendMinor)
			if err := errors.Join(err1, err2, err3); err != nil {
				if !errors.Is(err, commerce.ErrNoRate) {
					return nil, err
				}
				rev, ref, sp = 0, 0, 0
				c.Unconverted += c.Orders
			}
			c.RevenueMinor, c.RefundsMinor, c.SpendMinor = rev, ref, sp
			k.Currency = cur
		}
		x := m[k]
		x.add(c)
		m[k] = x
	}
	return Rows(m), nil
}

// localDate is the local midnight in loc that starts day.
func localDate(day int64, loc *time.Location) time.Time {
	y, mo, d := commerce.DayTime(day).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, loc)
}

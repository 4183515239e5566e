package commerce

import (
	"sort"

	"github.com/omniroi/omniroi/internal/money"
	"github.com/omniroi/omniroi/internal/store"
)

// The refund rule, the one definition of what a refund takes back:
//
//   - a refund sent with an amount takes that amount, in its own currency;
//   - a full refund (sent without an amount) takes its order's amount, in the order's
//     currency, whenever the order arrives (nothing while it is unknown);
//   - against its order, a refund counts only in the order's currency, and the refunds
//     of one order, taken in time order, never take back more than the order's amount.
//
// RefundAmountSQL and RefundCurrencySQL say the first two in SQL, RefundedSQL the
// refunded total of an order; ApplyRefunds says all of it in Go. The tests check they
// agree.

// RefundAmountSQL is a refund's amount in minor units for a query joining refunds r to
// their orders o (a LEFT JOIN: 0 for a full refund of an unknown order).
func RefundAmountSQL(r, o string) string {
	return "CASE WHEN " + r + ".full_refund = 1 THEN COALESCE(" + o + ".revenue_minor, 0) ELSE " + r + ".amount_minor END"
}

// RefundCurrencySQL is the currency of RefundAmountSQL (” for a full refund of an
// unknown order).
func RefundCurrencySQL(r, o string) string {
	return "CASE WHEN " + r + ".full_refund = 1 THEN COALESCE(" + o + ".currency, '') ELSE " + r + ".currency END"
}

// RefundedSQL is the refunds of order o summed by the rule (before the cap at the order's
// amount, which scanOrders and ApplyRefunds apply), as a correlated subquery.
func RefundedSQL(d store.Dialect, o string) string {
	return "COALESCE((SELECT " + store.SumMinor(d, "CASE WHEN r.full_refund = 1 THEN "+o+".revenue_minor WHEN r.currency = "+o+".currency THEN r.amount_minor ELSE 0 END") +
		" FROM refunds r WHERE r.order_id = " + o + ".order_id), 0)"
}

// capRefunded caps an order's summed refunds at its amount (a refund never takes back
// more than was paid).
func capRefunded(revenue, refunded int64) int64 {
	return max(0, min(refunded, revenue))
}

// Applied is one refund as the rule counts it against its order.
type Applied struct {
	Refund
	// Counted is what the refund takes back from the order: its amount by the rule,
	// limited to what earlier refunds left; 0 when it counts for nothing (another
	// currency, nothing left).
	Counted int64
}

// ApplyRefunds applies the rule to an order's refunds: refs in any order, all with the
// order's OrderID; the result is in time order (then log order).
func ApplyRefunds(o Order, refs []Refund) []Applied {
	out := make([]Applied, len(refs))
	for i, r := range refs {
		out[i] = Applied{Refund: r}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Seq < out[j].Seq
	})
	left := max(o.RevenueMinor, 0)
	for i := range out {
		r := &out[i]
		amount := r.AmountMinor
		switch {
		case r.Full:
			amount = o.RevenueMinor
		case r.Currency != o.Currency:
			amount = 0
		}
		r.Counted = max(0, min(amount, left))
		left = money.SatSub(left, r.Counted)
	}
	return out
}

// RefundedTotal is what an order's refunds take back by the rule: the sum of
// ApplyRefunds' Counted, between 0 and the order's amount.
func RefundedTotal(o Order, refs []Refund) int64 {
	var sum int64
	for _, a := range ApplyRefunds(o, refs) {
		sum = money.SatAdd(sum, a.Counted)
	}
	return sum
}

package value

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// HoldoutOptions are the options of `omniroi clv --holdout`.
type HoldoutOptions struct {
	TransactionsFile string
	Transactions     []Transaction // used instead of TransactionsFile when non-nil
	Format           string
	// CalibrationEnd is the last day of the fitting period; zero: the middle day
	// between the first and the last transaction day.
	CalibrationEnd time.Time
	End            time.Time // last holdout day; zero: the last transaction day
	TimeUnit       string
	SkipPareto     bool
}

// RunHoldout fits on the transactions up to the calibration end and compares the
// predicted repeat purchases in the rest of the period with the actual ones,
// per calibration frequency.
func RunHoldout(ctx context.Context, o HoldoutOptions, w io.Writer) error {
	format, err := checkFormat(o.Format)
	if err != nil {
		return fmt.Errorf("holdout: %w", err)
	}
	unit, err := ParseUnit(o.TimeUnit)
	if err != nil {
		return fmt.Errorf("holdout: %w", err)
	}
	txs, err := optionTransactions(o.Transactions, o.TransactionsFile)
	if err != nil {
		return fmt.Errorf("holdout: %w", err)
	}
	first, last := dayNumber(firstDay(txs)), dayNumber(lastDay(txs))
	end := o.End
	if end.IsZero() {
		end = dayTime(last)
	}
	cal := o.CalibrationEnd
	if cal.IsZero() {
		cal = dayTime(first + (last-first)/2)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	run := Holdout
	if !o.SkipPareto {
		run = HoldoutWithPareto
	}
	rep, err := run(txs, cal, end, unit)
	if err != nil {
		return err
	}
	return WriteHoldout(w, rep, cal, end, format)
}

// WriteHoldout prints a holdout report.
func WriteHoldout(w io.Writer, rep HoldoutReport, cal, end time.Time, format string) error {
	format, err := checkFormat(format)
	if err != nil {
		return fmt.Errorf("holdout: %w", err)
	}
	switch format {
	case FormatJSON:
		return writeJSON(w, struct {
			CalibrationEnd string `json:"calibration_end"`
			End            string `json:"end"`
			Unit           string `json:"time_unit"`
			HoldoutReport
		}{cal.Format(time.DateOnly), end.Format(time.DateOnly), rep.Unit.String(), rep})
	case FormatCSV:
		rows := [][]string{{"frequency", "customers", "actual", "predicted_bgnbd", "predicted_pareto"}}
		for _, b := range rep.Buckets {
			rows = append(rows, []string{b.Label, strconv.Itoa(b.Customers), ff(b.Actual), ff(round(b.Predicted, 4)), ff(round(b.PredictedPareto, 4))})
		}
		rows = append(rows, []string{"total", strconv.Itoa(rep.Customers), ff(rep.TotalActual), ff(round(rep.TotalPredicted, 4)), ff(round(rep.TotalPredictedPareto, 4))})
		return writeCSV(w, rows)
	}
	fmt.Fprintf(w, "Holdout check: fitted on purchases up to %s, predicting (%s, %s] (%.1f %ss), %d customers\n",
		cal.Format(time.DateOnly), cal.Format(time.DateOnly), end.Format(time.DateOnly), rep.HoldoutLength, rep.Unit, rep.Customers)
	m := rep.Model
	fmt.Fprintf(w, "BG/NBD r=%.4f alpha=%.4f a=%.4f b=%.4f\n\n", m.R, m.Alpha, m.A, m.B)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "repeat purchases in calibration\tcustomers\tactual\tpredicted BG/NBD\t"
	if rep.Pareto != nil {
		hdr += "predicted Pareto/NBD\t"
	}
	fmt.Fprintln(tw, hdr)
	line := func(label string, n int, act, pred, pp float64) {
		s := fmt.Sprintf("%s\t%d\t%.0f\t%.1f\t", label, n, act, pred)
		if rep.Pareto != nil {
			s += fmt.Sprintf("%.1f\t", pp)
		}
		fmt.Fprintln(tw, s)
	}
	for _, b := range rep.Buckets {
		line(b.Label, b.Customers, b.Actual, b.Predicted, b.PredictedPareto)
	}
	line("total", rep.Customers, rep.TotalActual, rep.TotalPredicted, rep.TotalPredictedPareto)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nerror %+.1f purchases (%+.1f %%), MAE %.3f per customer, correlation %.3f\n",
		rep.Error, 100*rep.RelativeError, rep.MAE, rep.Correlation)
	if rep.Pareto != nil && rep.TotalActual > 0 {
		fmt.Fprintf(w, "Pareto/NBD total %.1f (%+.1f %%)\n", rep.TotalPredictedPareto, 100*(rep.TotalPredictedPareto-rep.TotalActual)/rep.TotalActual)
	}
	return nil
}

package value

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// HoldoutBucket compares predicted and actual holdout repeat purchases for the
// customers with one calibration frequency (the last bucket is 7+).
type HoldoutBucket struct {
	Label     string  `json:"label"`
	Customers int     `json:"customers"`
	Actual    float64 `json:"actual"`
	Predicted float64 `json:"predicted"`
	// PredictedPareto is Pareto/NBD's prediction (HoldoutWithPareto only).
	PredictedPareto float64 `json:"predicted_pareto,omitempty"`
}

// HoldoutReport is a calibration/holdout check of BG/NBD.
type HoldoutReport struct {
	Model          BGNBD           `json:"-"`
	Pareto         *ParetoNBD      `json:"-"`
	Unit           Unit            `json:"-"`
	HoldoutLength  float64         `json:"holdout_length"` // in Unit
	Customers      int             `json:"customers"`
	Buckets        []HoldoutBucket `json:"buckets"`
	TotalActual    float64         `json:"total_actual"`
	TotalPredicted float64         `json:"total_predicted"`
	Error          float64         `json:"error"`          // predicted - actual
	RelativeError  float64         `json:"relative_error"` // (predicted - actual) / actual
	MAE            float64         `json:"mae"`            // mean absolute error per customer
	Correlation    float64         `json:"correlation"`    // per customer, predicted vs actual
	// TotalPredictedPareto is Pareto/NBD's total (HoldoutWithPareto only).
	TotalPredictedPareto float64 `json:"total_predicted_pareto,omitempty"`
}

// Holdout fits BG/NBD on the transactions up to calibrationEnd and compares
// each calibration customer's E[Y(t)] over (calibrationEnd, end] with the purchase
// days they actually made then. Customers first seen after calibrationEnd are
// not part of the check (the model predicts repeat purchases only).
func Holdout(txs []Transaction, calibrationEnd, end time.Time, unit Unit) (HoldoutReport, error) {
	return holdout(txs, calibrationEnd, end, unit, false)
}

// HoldoutWithPareto is Holdout that also fits Pareto/NBD and reports its
// predictions beside BG/NBD's.
func HoldoutWithPareto(txs []Transaction, calibrationEnd, end time.Time, unit Unit) (HoldoutReport, error) {
	return holdout(txs, calibrationEnd, end, unit, true)
}

func holdout(txs []Transaction, calibrationEnd, end time.Time, unit Unit, withPareto bool) (HoldoutReport, error) {
	calDay, endDay := dayNumber(calibrationEnd), dayNumber(end)
	if endDay <= calDay {
		return HoldoutReport{}, errors.New("holdout: end must be after the calibration end")
	}
	sum, err := Summarize(txs, calibrationEnd, unit)
	if err != nil {
		return HoldoutReport{}, fmt.Errorf("holdout: %w", err)
	}
	obs := GroupHistories(sum)
	m, err := FitBGNBD(obs)
	if err != nil {
		return HoldoutReport{}, fmt.Errorf("holdout: %w", err)
	}
	later := customerDays(txs, calDay+1, endDay)
	rep := HoldoutReport{Model: m, Unit: unit, HoldoutLength: float64(endDay-calDay) / unit.Days(), Customers: len(sum)}
	if withPareto {
		pn, err := FitParetoNBD(obs)
		if err != nil {
			return HoldoutReport{}, fmt.Errorf("holdout: %w", err)
		}
		rep.Pareto = &pn
	}
	for i := 0; i <= 7; i++ {
		l := strconv.Itoa(i)
		if i == 7 {
			l = "7+"
		}
		rep.Buckets = append(rep.Buckets, HoldoutBucket{Label: l})
	}
	pred := make([]float64, len(sum))
	act := make([]float64, len(sum))
	for i, c := range sum {
		n := 0
		for _, d := range later[c.ID] {
			if d.purchase {
				n++
			}
		}
		p := m.ConditionalExpectedPurchases(rep.HoldoutLength, c.Frequency, c.Recency, c.T)
		pred[i], act[i] = p, float64(n)
		b := &rep.Buckets[min(c.Frequency, 7)]
		b.Customers++
		b.Actual += float64(n)
		b.Predicted += p
		rep.TotalActual += float64(n)
		rep.TotalPredicted += p
		if rep.Pareto != nil {
			pp := rep.Pareto.ConditionalExpectedPurchases(rep.HoldoutLength, c.Frequency, c.Recency, c.T)
			b.PredictedPareto += pp
			rep.TotalPredictedPareto += pp
		}
		rep.MAE += math.Abs(p - float64(n))
	}
	rep.Error = rep.TotalPredicted - rep.TotalActual
	if rep.TotalActual > 0 {
		rep.RelativeError = rep.Error / rep.TotalActual
	}
	if len(sum) > 0 {
		rep.MAE /= float64(len(sum))
	}
	rep.Correlation = correlation(pred, act)
	return rep, nil
}

func correlation(a, b []float64) float64 {
	n := float64(len(a))
	if n < 2 {
		return math.NaN()
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/n, mb/n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb)
}

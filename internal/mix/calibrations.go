package mix

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/store"
)

// StoredCalibrations turns the store's finished ad-channel tests (experiment.Calibrations:
// region and switchback tests of a channel's spend) into calibrations of the model, for
// the channels it fits. A test's estimate and interval are taken as measured, even where
// they reach below zero: the model keeps the channel's effect non-negative, and the test's
// own spread says how hard it pulls (reading a negative estimate as zero would keep the
// upper bound and claim a precision the test does not have). A test whose whole interval
// is at or below zero, or whose figures are not finite, is left out with the reason in
// notes.
func StoredCalibrations(ctx context.Context, db *store.DB, now time.Time, channels []string) (cals []Calibration, notes []string, err error) {
	stored, err := experiment.Calibrations(ctx, db, now)
	if err != nil {
		return nil, nil, fmt.Errorf("experiment results: %w", err)
	}
	for _, c := range stored {
		if !slices.Contains(channels, c.Channel) {
			continue
		}
		if math.IsNaN(c.ROAS) || math.IsNaN(c.Low) || math.IsNaN(c.High) || math.IsInf(c.Low, 0) || math.IsInf(c.High, 0) {
			notes = append(notes, fmt.Sprintf("the test %q of %s has no usable interval, so it does not calibrate the model", c.Experiment, c.Channel))
			continue
		}
		cal, note, ok := calibrationFromTest(c)
		if !ok {
			notes = append(notes, note)
			continue
		}
		cals = append(cals, cal)
	}
	return cals, notes, nil
}

// calibrationFromTest reads one stored test's result as a calibration, or says why not.
func calibrationFromTest(c experiment.Calibration) (Calibration, string, bool) {
	if c.High <= 0 {
		return Calibration{}, fmt.Sprintf("the test %q found no positive return for %s (interval up to %.2f); the model is not calibrated with it", c.Experiment, c.Channel, c.High), false
	}
	low, high := math.Min(c.Low, c.ROAS), math.Max(c.High, c.ROAS)
	return Calibration{Channel: c.Channel, ROAS: c.ROAS, Low: low, High: high, Level: c.Level,
		StartDate: c.StartDate, EndDate: c.EndDate, Experiment: c.Experiment}, "", true
}

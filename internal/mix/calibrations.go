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
// the channels it fits. A test's estimate and interval below zero are read as zero (the
// model keeps effects non-negative: a test that saw no effect pins the channel near
// zero); a test whose whole interval is at or below zero, or whose figures are not
// finite, is left out with the reason in notes.
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
		roas, low := math.Max(c.ROAS, 0), math.Max(c.Low, 0)
		high := math.Max(c.High, roas)
		if high <= 0 {
			notes = append(notes, fmt.Sprintf("the test %q found no positive return for %s (interval up to %.2f); the model is not calibrated with it", c.Experiment, c.Channel, c.High))
			continue
		}
		cals = append(cals, Calibration{Channel: c.Channel, ROAS: roas, Low: low, High: high, Level: c.Level,
			StartDate: c.StartDate, EndDate: c.EndDate, Experiment: c.Experiment})
	}
	return cals, notes, nil
}

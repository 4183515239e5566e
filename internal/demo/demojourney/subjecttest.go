package demojourney

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/omniroi/omniroi/internal/experiment"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
)

// The demo's subject-line test: the abandoned-cart journey's reminder email tests a
// second subject line as a named experiment (the journey's step-variant mechanism), and
// the simulated customers open the "question" subject more often by a known amount.

// Subject test names and its true effect.
const (
	SubjectTestName    = "cart-subject"
	SubjectTestJourney = "abandoned-cart"
	SubjectTestVariant = "question"
	// SubjectOpenLift is how much more often a delivered reminder with the question
	// subject is opened (percentage points over the journey's email open rate).
	SubjectOpenLift = 0.17
)

// subjectTestYAML is the test added under the reminder step of the built-in journey.
const subjectTestYAML = `    test:
      name: ` + SubjectTestName + `
      metric: open
      variants:
        - key: control
        - key: ` + SubjectTestVariant + `
          subject: "{{with .Profile.FirstName}}{{.}}, did{{else}}Did{{end}} you forget something?"
`

// withSubjectTest returns a built-in journey's document with the demo's test added.
func withSubjectTest(name string, src []byte) ([]byte, error) {
	if name != SubjectTestJourney {
		return src, nil
	}
	anchor := []byte("      template: abandoned_cart\n")
	i := bytes.Index(src, anchor)
	if i < 0 {
		return nil, fmt.Errorf("demo subject test: the %s template has no reminder email step", name)
	}
	i += len(anchor)
	out := append(append(append([]byte{}, src[:i]...), subjectTestYAML...), src[i:]...)
	return out, nil
}

// SubjectTestTruth is the subject test's truth. Per delivered reminder the open rate is
// ControlOpen in control and ControlOpen + SubjectOpenLift with the question. The test's
// unit is a run that reached the step (delivered or not), so the true difference in its
// open rate is exact for the runs: TrueDiff counts, over the delivered reminders, the
// opens the question subject would get minus those control would get (the same
// customer's draw, opened before the replay ended), divided by the runs.
type SubjectTestTruth struct {
	Experiment  string   `json:"experiment"`
	Journey     string   `json:"journey"`
	Metric      string   `json:"metric"`
	ControlOpen float64  `json:"open_rate_control"`
	VariantOpen float64  `json:"open_rate_question"`
	Delivered   [2]int64 `json:"delivered"` // control, question
	Opens       [2]int64 `json:"opens"`
	Runs        int64    `json:"runs"`
	TrueDiff    float64  `json:"true_diff"` // open rate per run, question − control
	extra       int64
}

// subjectReaction is the reaction to a delivered message of the test: the open rate of
// the send's variant, and the truth's book-keeping.
func (c *customers) subjectReaction(s sendInfo, channel string, r Reaction, opened func(rate float64) bool) Reaction {
	if s.journey != SubjectTestJourney || s.experiment != SubjectTestName || channel != "email" {
		return r
	}
	arm := 0
	if s.variant == SubjectTestVariant {
		arm = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &c.subject
	t.ControlOpen, t.VariantOpen = r.Open, min(1, r.Open+SubjectOpenLift)
	t.Delivered[arm]++
	a, b := opened(t.ControlOpen), opened(t.VariantOpen)
	if b && !a {
		t.extra++
	}
	if arm == 1 {
		r.Open = t.VariantOpen
		if b {
			t.Opens[1]++
		}
	} else if a {
		t.Opens[0]++
	}
	return r
}

// finishSubjectTruth counts the runs that reached the test's step.
func finishSubjectTruth(ctx context.Context, db *store.DB, t *SubjectTestTruth) error {
	t.Experiment, t.Journey, t.Metric = SubjectTestName, SubjectTestJourney, "open"
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM journey_sends WHERE experiment = ? AND journey = ? AND variant <> ''`,
		SubjectTestName, SubjectTestJourney).Scan(&t.Runs); err != nil {
		return fmt.Errorf("demo subject test: %w", err)
	}
	if t.Runs > 0 {
		t.TrueDiff = float64(t.extra) / float64(t.Runs)
	}
	return nil
}

// MeasureSubjectTest reads the test's report as `omniroi experiment report` does: the
// question subject's difference in open rate per run, with its interval.
func MeasureSubjectTest(ctx context.Context, db *store.DB, now time.Time) (experiment.VariantResult, string, error) {
	rep, err := experiment.BuildReport(ctx, db, SubjectTestName, experiment.ReportOptions{Now: now, Journeys: journey.ExperimentReport})
	if err != nil {
		return experiment.VariantResult{}, "", err
	}
	for _, v := range rep.Primary.Result.Variants {
		if v.Variant == SubjectTestVariant {
			return v, rep.Verdict, nil
		}
	}
	return experiment.VariantResult{}, "", fmt.Errorf("report %s has no %s variant", SubjectTestName, SubjectTestVariant)
}

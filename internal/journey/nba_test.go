package journey

import (
	"context"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store/storetest"
)

// fakeActions is a Recommender that also knows next best actions, by customer.
type fakeActions struct {
	fakeRecommender
	actions map[int64]string
}

func (f *fakeActions) NextBestAction(ctx context.Context, customerID int64) (string, error) {
	if a, ok := f.actions[customerID]; ok {
		return a, nil
	}
	return "none", nil
}

const nbaJourney = `name: nba
purpose: transactional
entry: {event: Visited}
holdout: 0
steps:
  - condition:
      if: {next_best_action: win_back}
      then: offer
      else: end
  - id: offer
    webhook: {url: "https://crm.example/win-back", body: '{"customer":"{{.Profile.Email}}"}'}
`

// A journey branches on the customer's next best action: only the customers whose action
// is win_back take the "then" branch; without a NextActioner every action is "none".
func TestNextBestActionCondition(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	rec := &fakeActions{actions: map[int64]string{1: "win_back", 2: "recommend", 3: "win_back"}}
	f := newFixture(t, db, Options{Recommender: rec})
	f.apply(nbaJourney)
	for i := int64(1); i <= 4; i++ {
		f.track(f.customer(i, nil), "Visited", nil)
	}
	hooks := f.sink.byChannel("webhook")
	var got []string
	for _, h := range hooks {
		got = append(got, string(h.Data))
	}
	if len(hooks) != 2 || !strings.Contains(strings.Join(got, " "), "c1@example.com") || !strings.Contains(strings.Join(got, " "), "c3@example.com") {
		t.Fatalf("win-back webhooks %v, want customers 1 and 3", got)
	}

	// No NextActioner (a Recommender without it, or none): the condition sees "none".
	db2 := storetest.SQLite(t)
	f2 := newFixture(t, db2, Options{Recommender: &fakeRecommender{}})
	f2.apply(strings.Replace(nbaJourney, "{next_best_action: win_back}", "{next_best_action: none}", 1))
	f2.track(f2.customer(1, nil), "Visited", nil)
	if n := len(f2.sink.byChannel("webhook")); n != 1 {
		t.Fatalf("without next best actions the none branch sent %d webhooks, want 1", n)
	}
}

// The condition names one of the known actions; anything else is an error at apply.
func TestNextBestActionConditionChecked(t *testing.T) {
	t.Parallel()
	_, err := Compile([]byte(strings.Replace(nbaJourney, "win_back", "winback", 1)))
	if err == nil || !strings.Contains(err.Error(), `"winback" is not a next best action`) {
		t.Fatalf("parse error %v", err)
	}
	p, err := Compile([]byte(nbaJourney))
	if err != nil {
		t.Fatal(err)
	}
	if txt := p.String(); !strings.Contains(txt, `next best action is "win_back"`) {
		t.Fatalf("plan text:\n%s", txt)
	}
}

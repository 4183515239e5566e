package recommend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/store"
)

// ActionSet is every customer's next best action at one model version: the value
// models behind it are fitted over the whole shop, so one customer's action costs as
// much as everyone's, and the set is computed once per model and shared by the pages
// and the journeys.
type ActionSet struct {
	Version  string // the model's data version
	Computed time.Time
	byID     map[int64]NextAction
}

// For returns the customer's action; ok is false for someone without an order when the
// set was computed (their action is "none": see leads).
func (a *ActionSet) For(id int64) (NextAction, bool) {
	if a == nil {
		return NextAction{}, false
	}
	x, ok := a.byID[id]
	return x, ok
}

// actionCache holds the service's latest action set.
type actionCache struct {
	mu  sync.Mutex // one computation at a time
	set *ActionSet
}

// Actions returns the next best actions for the current model, computing them when the
// model changed since the last set. A set of an older model is returned only when
// stale is allowed (journeys: a decision must not wait seconds inside the engine).
func (s *Service) Actions(ctx context.Context) (*ActionSet, error) {
	m, err := s.Model(ctx)
	if err != nil {
		return nil, err
	}
	return s.actionsWith(ctx, m)
}

// actionsWith computes the set for model m (nil: no products in "recommend" actions)
// unless the cached one is of the same version. It only reads the store.
func (s *Service) actionsWith(ctx context.Context, m *Model) (*ActionSet, error) {
	version := ""
	if m != nil {
		version = m.Version
	}
	s.actions.mu.Lock()
	defer s.actions.mu.Unlock()
	if cur := s.actions.set; cur != nil && cur.Version == version && m != nil {
		return cur, nil
	}
	as, err := NextActions(ctx, s.db, m, nil, NBAOptions{})
	if err != nil {
		return nil, err
	}
	set := &ActionSet{Version: version, Computed: time.Now(), byID: make(map[int64]NextAction, len(as))}
	for _, a := range as {
		set.byID[a.CustomerID] = a
	}
	s.actions.set = set
	return set, nil
}

// refreshActions recomputes a set that someone used once the model has moved on (Run).
func (s *Service) refreshActions(ctx context.Context) error {
	cur, m := s.latestActions(), s.model.Load()
	if cur == nil || m == nil || cur.Version == m.Version {
		return nil
	}
	_, err := s.actionsWith(ctx, m)
	return err
}

// latestActions is the last computed set without computing one (nil when none).
func (s *Service) latestActions() *ActionSet {
	s.actions.mu.Lock()
	defer s.actions.mu.Unlock()
	return s.actions.set
}

// NextActionFor is one customer's next best action from set, with the personalisation
// consent read now: a person who opted out since the set was computed gets "none" at
// once, not at the next rebuild.
func NextActionFor(ctx context.Context, db *store.DB, set *ActionSet, id int64) (NextAction, error) {
	rules, err := LoadRules(ctx, db)
	if err != nil {
		return NextAction{}, err
	}
	personal, err := CustomerPersonalised(ctx, db, id, rules.DefaultConsent)
	if err != nil {
		return NextAction{}, err
	}
	a, ok := set.For(id)
	switch {
	case !personal:
		return NextAction{CustomerID: id, Action: ActionNone, Reason: "opted out of personalisation", PAlive: -1}, nil
	case !ok:
		return NextAction{CustomerID: id, Action: ActionNone, Reason: "has not bought yet (see leads)", PAlive: -1}, nil
	}
	return a, nil
}

var _ journey.NextActioner = Messages{}

// NextBestAction implements journey.NextActioner: the condition {next_best_action: X}.
// It uses the latest computed set and computes one only when there is none yet (the
// first decision after start), from the model already built: like Recommend it never
// builds a model, which would wait for the journey engine's write transaction. The
// service's Run keeps the set current.
func (r Messages) NextBestAction(ctx context.Context, customerID int64) (string, error) {
	set := r.Svc.latestActions()
	if set == nil {
		var err error
		if set, err = r.Svc.actionsWith(ctx, r.Svc.model.Load()); err != nil {
			return "", fmt.Errorf("next best action: %w", err)
		}
	}
	a, err := NextActionFor(ctx, r.Svc.db, set, customerID)
	if err != nil {
		return "", err
	}
	return a.Action, nil
}

// Contact is what next best actions read of one customer's consent: marketing by email
// and SMS (journey_consent decisions over traits) and personalisation.
type Contact struct {
	EmailMarketing bool `json:"email_marketing"`
	SMSMarketing   bool `json:"sms_marketing"`
	Personalised   bool `json:"personalised"`
}

// CustomerContact reads one customer's Contact, the same reading as NextActions.
func CustomerContact(ctx context.Context, db *store.DB, id int64) (Contact, error) {
	rules, err := LoadRules(ctx, db)
	if err != nil {
		return Contact{}, err
	}
	in := map[int64]*nbaInputs{}
	if err := loadContactInputs(ctx, db, in, []int64{id}, rules.DefaultConsent); err != nil {
		return Contact{}, err
	}
	x := in[id]
	return Contact{EmailMarketing: x.email, SMSMarketing: x.sms, Personalised: x.personalised}, nil
}

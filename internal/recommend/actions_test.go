package recommend_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omniroi/omniroi/internal/identity/identitytest"
	"github.com/omniroi/omniroi/internal/journey"
	"github.com/omniroi/omniroi/internal/recommend"
	"github.com/omniroi/omniroi/internal/store"
	"github.com/omniroi/omniroi/internal/store/storetest"
)

func customerOf(t *testing.T, db *store.DB, userID string) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRow(context.Background(), `SELECT customer_id FROM identities WHERE kind = 'user_id' AND value = ?`, userID).Scan(&id); err != nil {
		t.Fatalf("customer %s: %v", userID, err)
	}
	return id
}

// The journey condition, the pages and `omniroi recommend next` read one set of next best
// actions; a person who opts out gets "none" at once, before any rebuild, and the
// contact reading agrees.
func TestNextBestActionSharedAndOptOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		// u1 and u2 agree to email offers at the till (a server source, so it counts).
		identitytest.Load(t, db, "till", t0.Add(30*time.Hour),
			map[string]any{"type": "identify", "userId": "u1", "timestamp": t0.Add(25 * time.Hour).Format(time.RFC3339),
				"traits": map[string]any{"consent": map[string]any{"email": map[string]any{"marketing": true}}}},
			map[string]any{"type": "identify", "userId": "u2", "timestamp": t0.Add(25 * time.Hour).Format(time.RFC3339),
				"traits": map[string]any{"consent": map[string]any{"email": map[string]any{"marketing": true}}}})
		svc := recommend.NewService(db, nil)
		set, err := svc.Actions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u1, u2 := customerOf(t, db, "u1"), customerOf(t, db, "u2")
		want, err := recommend.NextActions(ctx, db, nil, []int64{u1, u2}, recommend.NBAOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range []int64{u1, u2} {
			got, err := recommend.NextActionFor(ctx, db, set, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != want[i].Action || got.Action == recommend.ActionNone || got.Reason == "" {
				t.Fatalf("customer %d: shared set says %q (%s), NextActions %q (%s); want the same action, not none", id, got.Action, got.Reason, want[i].Action, want[i].Reason)
			}
		}
		msgs := recommend.Messages{Svc: svc}
		if a, err := msgs.NextBestAction(ctx, u2); err != nil || a != want[1].Action {
			t.Fatalf("journey condition sees %q (%v), want %q", a, err, want[1].Action)
		}
		c, err := recommend.CustomerContact(ctx, db, u2)
		if err != nil || !c.EmailMarketing || c.SMSMarketing || !c.Personalised {
			t.Fatalf("contact of u2: %+v %v", c, err)
		}

		// Before opting out, u2's "for you" email list is built from their purchases.
		forYou := func() []string {
			recs, err := msgs.Recommend(ctx, u2, recommend.ListForYou, nil, 3)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.RecommendationID)
			}
			return ids
		}
		if ids := forYou(); len(ids) == 0 || !strings.HasPrefix(ids[0], "fy.") {
			t.Fatalf("u2's email list before opting out: %v, want for-you first", ids)
		}
		// u2 opts out of personalisation from the web shop (a refusal counts from any source).
		identitytest.Load(t, db, "web", t0.Add(48*time.Hour), map[string]any{"type": "identify", "userId": "u2",
			"traits": map[string]any{"consent": map[string]any{"personalisation": false}}})
		if a, err := msgs.NextBestAction(ctx, u2); err != nil || a != recommend.ActionNone {
			t.Fatalf("after opting out the journey condition sees %q (%v), want none", a, err)
		}
		for _, id := range forYou() {
			if strings.HasPrefix(id, "fy.") {
				t.Fatalf("u2's email list after opting out still uses their history: %s", id)
			}
		}
		got, err := recommend.NextActionFor(ctx, db, set, u2)
		if err != nil || got.Action != recommend.ActionNone || got.Reason != "opted out of personalisation" || got.Product != nil {
			t.Fatalf("after opting out: %+v %v", got, err)
		}
		if c, _ := recommend.CustomerContact(ctx, db, u2); c.Personalised {
			t.Fatalf("contact after opting out: %+v", c)
		}
		// u1 is untouched.
		if a, _ := msgs.NextBestAction(ctx, u1); a != want[0].Action {
			t.Fatalf("u1 now %q, want %q", a, want[0].Action)
		}
	})
}

// The actions a journey condition may name are the shop's actions and none.
func TestJourneyKnowsEveryAction(t *testing.T) {
	t.Parallel()
	all := []string{recommend.ActionRecommend, recommend.ActionWinBack, recommend.ActionReviewRequest, recommend.ActionServiceCall, recommend.ActionNone}
	if !slices.Equal(all, journey.NextBestActions) {
		t.Fatalf("journey.NextBestActions = %v, want %v", journey.NextBestActions, all)
	}
}

// The fairness check groups customers by a trait the shop names (or by value segment)
// and reports, per group, how often recommendations were built from their history, how
// many products they were shown and their opt-out share.
func TestFairnessByTrait(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shop(t, db)
		var ids []any
		for i := range 6 {
			ids = append(ids, map[string]any{"type": "identify", "userId": fmt.Sprintf("u%d", i), "timestamp": t0.Add(25 * time.Hour).Format(time.RFC3339),
				"traits": map[string]any{"region": "north"}})
		}
		for i := range 4 {
			tr := map[string]any{"region": "south"}
			if i == 0 {
				tr["consent"] = map[string]any{"personalisation": false}
			}
			ids = append(ids, map[string]any{"type": "identify", "userId": fmt.Sprintf("c%d", i), "timestamp": t0.Add(25 * time.Hour).Format(time.RFC3339), "traits": tr})
		}
		identitytest.Load(t, db, "till", t0.Add(30*time.Hour), ids...)
		svc := recommend.NewService(db, nil)
		m, err := svc.Model(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Fairness(ctx, m, "region"); err == nil {
			t.Fatal("grouping by a bare name was accepted")
		}
		rep, err := svc.Fairness(ctx, m, "trait:region")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]recommend.FairnessGroup{}
		for _, g := range rep.Groups {
			got[g.Group] = g
		}
		north, south := got["north"], got["south"]
		if north.Customers != 6 || south.Customers != 4 || got["(not set)"].Customers == 0 {
			t.Fatalf("groups %+v", rep.Groups)
		}
		if north.PersonalisedRecs <= 0 || north.DistinctProducts == 0 || north.OptedOut != 0 {
			t.Fatalf("north: %+v", north)
		}
		if south.OptedOut != 0.25 {
			t.Fatalf("south opted out %v, want 0.25", south.OptedOut)
		}
		if rep.ExposureRatio <= 0 || rep.ExposureRatio > 1 {
			t.Fatalf("exposure ratio %v", rep.ExposureRatio)
		}
		seg, err := svc.Fairness(ctx, m, "segment")
		if err != nil || len(seg.Groups) < 2 {
			t.Fatalf("by segment: %+v %v", seg, err)
		}
	})
}

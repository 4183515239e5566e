package recommend

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// plantedBaskets: 8 groups of 40 customers, each group with its own 10 products. Before
// the split every customer buys 5 of their group's products and one product of any
// group; on or after it, 2 more of their group's products they had not bought. Who
// bought what is known, so a method that learns "customers like these buy those" must
// find most of the later purchases, and the popularity baseline (all groups about
// equally popular) cannot.
func plantedBaskets() (txs []Interaction, split time.Time, train, test int) {
	const groups, perGroup, products = 8, 40, 10
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	split = start.AddDate(0, 0, 100)
	day := func(from, n int) int64 {
		return start.AddDate(0, 0, from+rng.IntN(n)).Add(time.Duration(rng.IntN(86400)) * time.Second).UnixMilli()
	}
	for g := range groups {
		for c := range perGroup {
			cust := fmt.Sprintf("g%dc%d", g, c)
			order := rng.Perm(products)
			for _, p := range order[:5] {
				txs = append(txs, Interaction{Customer: cust, Product: fmt.Sprintf("g%dp%d", g, p), Time: day(0, 100), Quantity: 1, Kind: Purchase})
				train++
			}
			txs = append(txs, Interaction{Customer: cust, Product: fmt.Sprintf("g%dp%d", rng.IntN(groups), rng.IntN(products)), Time: day(0, 100), Quantity: 1, Kind: Purchase})
			train++
			for _, p := range order[5:7] {
				txs = append(txs, Interaction{Customer: cust, Product: fmt.Sprintf("g%dp%d", g, p), Time: day(100, 30), Quantity: 1, Kind: Purchase})
				test++
			}
		}
	}
	return txs, split, train, test
}

// Evaluate on a small planted data set, for go test -short (the Online Retail evaluation
// is skipped there): both methods find most of each customer's later purchases and beat
// the popularity baseline; the counts are those of the data; bad splits and an unknown
// method are errors.
func TestEvaluatePlantedGroups(t *testing.T) {
	t.Parallel()
	txs, split, train, test := plantedBaskets()
	for _, method := range []string{MethodEASE, MethodKNN} {
		ev, err := Evaluate(txs, EvalOptions{Split: split, K: 10, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: model %+v, popularity %+v", method, ev.Model, ev.Popularity)
		if ev.Method != method || ev.K != 10 || ev.SplitDate != "2025-04-11" || ev.TrainRows != train || ev.TestRows != test ||
			ev.Customers != 320 || ev.TrainProducts != 80 {
			t.Errorf("%s: bookkeeping %+v, want %d train rows, %d test rows, 320 customers, 80 products", method, ev, train, test)
		}
		if ev.Model.Recall < 0.8 || ev.Model.HitRate < 0.9 {
			t.Errorf("%s: recall %.3f, hit rate %.3f on planted groups, want ≥ 0.8 and ≥ 0.9", method, ev.Model.Recall, ev.Model.HitRate)
		}
		if ev.Model.Recall < 2*ev.Popularity.Recall || ev.Model.NDCG < 2*ev.Popularity.NDCG {
			t.Errorf("%s: recall %.3f vs popularity %.3f, NDCG %.3f vs %.3f: want twice the baseline", method,
				ev.Model.Recall, ev.Popularity.Recall, ev.Model.NDCG, ev.Popularity.NDCG)
		}
		if ev.Model.Coverage <= ev.Popularity.Coverage {
			t.Errorf("%s: covers %.3f of the catalogue, popularity %.3f", method, ev.Model.Coverage, ev.Popularity.Coverage)
		}
	}
	for _, c := range []struct {
		opt  EvalOptions
		want string
	}{
		{EvalOptions{Split: split.AddDate(-1, 0, 0)}, "no transactions before the split"},
		{EvalOptions{Split: split.AddDate(1, 0, 0)}, "no transactions on or after the split"},
		{EvalOptions{Split: split, Method: "svd"}, `unknown method "svd"`},
	} {
		if _, err := Evaluate(txs, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
}

package experiment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Content bandits: when the marketer chooses "optimise" rather than "test", traffic moves
// towards the variant that converts best while the test runs, by Thompson sampling
// (Thompson 1933). Each arm's conversion rate has a Beta(1 + successes, 1 + failures)
// posterior (uniform prior); an arm's share of the next period is the posterior
// probability that it is the best, but never below a floor, so a slow starter keeps
// being measured. Shares are recomputed at an update cadence the caller sets (each batch
// of sends, each day), not per message, so a send does not wait for the counts.

// BanditArm is one variant's counts so far.
type BanditArm struct {
	Key       string `json:"key"`
	Trials    int64  `json:"trials"`    // sends
	Successes int64  `json:"successes"` // conversions
}

// Bandit allocates traffic between arms.
type Bandit struct {
	Arms  []BanditArm
	Floor float64 // minimum share per arm; default 0.01, at most 1/len(Arms)
	Draws int     // posterior draws for the shares; default 10,000
}

// DefaultBanditFloor is the share every arm keeps.
const DefaultBanditFloor = 0.01

func (b Bandit) params() (floor float64, draws int, err error) {
	k := len(b.Arms)
	if k < 2 {
		return 0, 0, fmt.Errorf("a bandit needs at least two arms, got %d", k)
	}
	for _, a := range b.Arms {
		if a.Trials < 0 || a.Successes < 0 || a.Successes > a.Trials {
			return 0, 0, fmt.Errorf("arm %q: %d successes in %d trials", a.Key, a.Successes, a.Trials)
		}
	}
	floor = b.Floor
	if floor == 0 {
		floor = DefaultBanditFloor
	}
	if floor < 0 || floor*float64(k) > 1 {
		return 0, 0, errors.New("the floor must be between 0 and 1/arms")
	}
	draws = b.Draws
	if draws <= 0 {
		draws = 10_000
	}
	return floor, draws, nil
}

// ProbBest estimates, by drawing from the posteriors, the probability that each arm has
// the highest conversion rate.
func (b Bandit) ProbBest(rng *rand.Rand) ([]float64, error) {
	_, draws, err := b.params()
	if err != nil {
		return nil, err
	}
	post := b.posteriors(rng)
	wins := make([]float64, len(b.Arms))
	for range draws {
		best, bestV := 0, -1.0
		for i, p := range post {
			if v := p.Rand(); v > bestV {
				best, bestV = i, v
			}
		}
		wins[best]++
	}
	for i := range wins {
		wins[i] /= float64(draws)
	}
	return wins, nil
}

func (b Bandit) posteriors(rng *rand.Rand) []distuv.Beta {
	post := make([]distuv.Beta, len(b.Arms))
	for i, a := range b.Arms {
		post[i] = distuv.Beta{Alpha: 1 + float64(a.Successes), Beta: 1 + float64(a.Trials-a.Successes), Src: rng}
	}
	return post
}

// Allocation is each arm's share of the next period: floor + (1 − k·floor)·P(best).
func (b Bandit) Allocation(rng *rand.Rand) ([]float64, error) {
	floor, _, err := b.params()
	if err != nil {
		return nil, err
	}
	pb, err := b.ProbBest(rng)
	if err != nil {
		return nil, err
	}
	k := float64(len(b.Arms))
	out := make([]float64, len(pb))
	for i, p := range pb {
		out[i] = floor + (1-k*floor)*p
	}
	return out, nil
}

// Pick draws an arm from shares (an Allocation) for one send.
func Pick(shares []float64, rng *rand.Rand) int {
	u := rng.Float64()
	var cum float64
	for i, s := range shares {
		cum += s
		if u < cum {
			return i
		}
	}
	return len(shares) - 1
}

// BanditReport says how the optimisation went: the best arm by posterior mean, its
// probability of being best, and the regret: conversions lost against sending every
// message with the best arm, estimated with the posterior means,
// Σ_i trials_i · (p̂_best − p̂_i).
type BanditReport struct {
	Arms     []BanditArmReport `json:"arms"`
	Best     string            `json:"best"`
	Regret   float64           `json:"regret"`    // conversions
	RegretPc float64           `json:"regret_pc"` // relative to the conversions sending the best arm to everyone would have made
}

// BanditArmReport is one arm in a report.
type BanditArmReport struct {
	BanditArm
	Rate     float64 `json:"rate"` // posterior mean
	ProbBest float64 `json:"prob_best"`
}

// Report summarises the bandit.
func (b Bandit) Report(rng *rand.Rand) (BanditReport, error) {
	pb, err := b.ProbBest(rng)
	if err != nil {
		return BanditReport{}, err
	}
	r := BanditReport{}
	best, bestRate := 0, -1.0
	var trials float64
	for i, a := range b.Arms {
		rate := (1 + float64(a.Successes)) / (2 + float64(a.Trials))
		r.Arms = append(r.Arms, BanditArmReport{BanditArm: a, Rate: rate, ProbBest: pb[i]})
		if rate > bestRate {
			best, bestRate = i, rate
		}
		trials += float64(a.Trials)
	}
	r.Best = b.Arms[best].Key
	for _, a := range r.Arms {
		r.Regret += float64(a.Trials) * (bestRate - a.Rate)
	}
	if trials > 0 && bestRate > 0 {
		r.RegretPc = r.Regret / (trials * bestRate)
	}
	return r, nil
}

// BanditRun is a simulated bandit against known conversion rates.
type BanditRun struct {
	Final       Bandit
	Shares      []float64 // the last period's allocation
	Regret      float64   // true regret: Σ sends · (p_best − p_arm), with the true rates
	EvenRegret  float64   // the same for an even split over the whole run (a plain A/B test)
	Conversions int64
}

// SimulateBandit runs a bandit for periods of perPeriod sends each on arms with the given
// true conversion rates, updating the shares after every period. It measures what the
// optimiser costs and saves against an even split; tests and the demo use it.
func SimulateBandit(rates []float64, perPeriod, periods int, floor float64, rng *rand.Rand) (BanditRun, error) {
	b := Bandit{Floor: floor, Draws: 4000}
	best := 0.0
	for i, p := range rates {
		b.Arms = append(b.Arms, BanditArm{Key: fmt.Sprintf("arm-%d", i)})
		best = math.Max(best, p)
	}
	var run BanditRun
	for range periods {
		shares, err := b.Allocation(rng)
		if err != nil {
			return run, err
		}
		run.Shares = shares
		for range perPeriod {
			i := Pick(shares, rng)
			b.Arms[i].Trials++
			run.Regret += best - rates[i]
			if rng.Float64() < rates[i] {
				b.Arms[i].Successes++
				run.Conversions++
			}
		}
	}
	var mean float64
	for _, p := range rates {
		mean += p
	}
	mean /= float64(len(rates))
	run.EvenRegret = float64(perPeriod*periods) * (best - mean)
	run.Final = b
	return run, nil
}

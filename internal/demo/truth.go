package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"time"
)

// Outcome is what the business gets in one world: orders (refunded ones included) and
// revenue net of refunds made inside the window, over every location (web, shop, phone),
// tracked or not.
type Outcome struct {
	Conversions  int64 `json:"conversions"`
	RevenueMinor int64 `json:"revenue_minor"`
}

// Effect is the true incremental effect of removing some levers.
type Effect struct {
	Levers                  []string `json:"levers"`
	Channel                 string   `json:"channel,omitempty"`
	Campaign                string   `json:"campaign,omitempty"`
	Platform                string   `json:"platform,omitempty"`
	Counterfactual          Outcome  `json:"counterfactual"`
	IncrementalConversions  int64    `json:"incremental_conversions"`
	IncrementalRevenueMinor int64    `json:"incremental_revenue_minor"`
	SpendMinor              int64    `json:"spend_minor"`
	TrueROAS                *float64 `json:"true_roas"`       // incremental revenue / spend; null without spend
	PeopleAffected          int64    `json:"people_affected"` // people whose year differs without it
}

// GroundTruth is ground_truth.json.
type GroundTruth struct {
	Generator   string            `json:"generator"`
	Seed        int64             `json:"seed"`
	People      int               `json:"people"`
	Start       time.Time         `json:"start"`
	End         time.Time         `json:"end"`
	Currency    string            `json:"currency"`
	Baseline    Outcome           `json:"baseline"`     // the world as generated
	NoMarketing Outcome           `json:"no_marketing"` // every lever removed at once
	Channels    map[string]Effect `json:"channels"`     // keyed by GA4 channel name, as attribution reports
	Levers      map[string]Effect `json:"levers"`       // keyed by campaign key (google_brand, email, ...)
	Marketing   Effect            `json:"all_marketing"`
	// BaselineChannels carry demand but are not levers: removing them is not a decision
	// the business can take, so they have no incremental effect here. Attribution credit
	// they receive is credit no marketing channel earned.
	BaselineChannels []string   `json:"baseline_channels"`
	Campaigns        []Campaign `json:"campaigns"`
	Params           Params     `json:"params"`
	Explanation      []string   `json:"explanation"`
	// Budget is the budget channels' true response to their spend (budget.go).
	Budget *BudgetTruth `json:"budget"`
	// Flights are the paid campaigns' daily levels (1 = the usual budget, 0 = paused),
	// keyed by campaign key, from the first day.
	Flights map[string][]float64 `json:"flights"`
}

type scenario struct {
	key    string
	remove Lever
}

func scenarios() (levers, channels []scenario) {
	byChannel := map[string]Lever{}
	for _, c := range Campaigns {
		levers = append(levers, scenario{c.Key, c.Lever})
		byChannel[c.Channel] |= c.Lever
	}
	for ch, l := range byChannel {
		channels = append(channels, scenario{ch, l})
	}
	sort.Slice(channels, func(i, j int) bool { return channels[i].key < channels[j].key })
	return levers, channels
}

type acc struct {
	orders, revenue, affected int64
}

// Truth re-simulates the world of cfg without each lever, each channel and all marketing,
// and reports the differences. spend is the world's spend (from Spend) for ROAS.
func Truth(ctx context.Context, cfg Config, spend []SpendRow) (*GroundTruth, error) {
	w, err := newWorld(cfg)
	if err != nil {
		return nil, err
	}
	levers, channels := scenarios()
	all := append(append([]scenario{}, levers...), channels...)
	all = append(all, scenario{"all", LevAll})
	n := w.cfg.Customers
	workers := w.cfg.Workers
	results := make([][]acc, workers)
	base := make([]acc, workers)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	go func() {
		defer close(next)
		for i := 0; i < n; i += chunkPeople {
			if ctx.Err() != nil {
				return
			}
			next <- i
		}
	}()
	for k := 0; k < workers; k++ {
		results[k] = make([]acc, len(all))
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			r := results[k]
			for lo := range next {
				for id := lo; id < min(n, lo+chunkPeople); id++ {
					p := w.newPerson(uint32(id))
					o := w.simulate(&p, LevAll, nil, nil)
					base[k].orders += o.orders
					base[k].revenue += o.revenue
					reach := o.touched | routeLever[p.route]
					for i, s := range all {
						cf := o
						if reach&s.remove != 0 {
							cf = w.simulate(&p, LevAll&^s.remove, nil, nil)
							if cf.orders != o.orders || cf.revenue != o.revenue {
								r[i].affected++
							}
						}
						r[i].orders += cf.orders
						r[i].revenue += cf.revenue
					}
				}
			}
		}(k)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var b acc
	tot := make([]acc, len(all))
	for k := range results {
		b.orders += base[k].orders
		b.revenue += base[k].revenue
		for i := range all {
			tot[i].orders += results[k][i].orders
			tot[i].revenue += results[k][i].revenue
			tot[i].affected += results[k][i].affected
		}
	}
	spendBy := map[Lever]int64{}
	for _, r := range spend {
		spendBy[r.lever] += r.AmountMinor
	}
	effect := func(s scenario, a acc) Effect {
		e := Effect{
			Counterfactual:          Outcome{a.orders, a.revenue},
			IncrementalConversions:  b.orders - a.orders,
			IncrementalRevenueMinor: b.revenue - a.revenue,
			PeopleAffected:          a.affected,
		}
		for _, c := range Campaigns {
			if s.remove&c.Lever != 0 {
				e.Levers = append(e.Levers, c.Key)
				e.SpendMinor += spendBy[c.Lever]
			}
		}
		if e.SpendMinor > 0 {
			roas := math.Round(float64(e.IncrementalRevenueMinor)/float64(e.SpendMinor)*1000) / 1000
			e.TrueROAS = &roas
		}
		return e
	}
	gt := &GroundTruth{
		Generator: "omniroi demo (Crumb & Co.)",
		Seed:      w.cfg.Seed, People: n, Start: w.start, End: w.end, Currency: "EUR",
		Baseline: Outcome{b.orders, b.revenue},
		Channels: map[string]Effect{}, Levers: map[string]Effect{},
		Campaigns: Campaigns, Params: w.params, Explanation: explanation,
		BaselineChannels: []string{"Direct", "Organic Search", "In-store", "Phone"},
	}
	if gt.Budget, err = budgetTruth(ctx, w); err != nil {
		return nil, err
	}
	gt.Flights = map[string][]float64{}
	for _, l := range paidLevers {
		k := campaignOf(l).Key
		for d := range w.days {
			gt.Flights[k] = append(gt.Flights[k], math.Round(w.lv(l, d)*100)/100)
		}
	}
	for i, s := range all {
		e := effect(s, tot[i])
		switch {
		case i < len(levers):
			c := campaignOf(s.remove)
			e.Channel, e.Campaign, e.Platform = c.Channel, c.Campaign, c.Platform
			gt.Levers[s.key] = e
		case i < len(levers)+len(channels):
			e.Channel = s.key
			gt.Channels[s.key] = e
		default:
			gt.Marketing = e
			gt.NoMarketing = e.Counterfactual
		}
	}
	return gt, nil
}

var explanation = []string{
	"Every person in the demo is simulated day by day: a base buying rate (gamma-distributed across people, NBD-style), seasonality, a fixed lifetime after which they stop buying (churn), and marketing touches that multiply the day's purchase probability by a known factor for a few days (params.lift), or bring a new person to the bakery in the first place (params.new_person_route_share).",
	"Every random decision that can change an order is drawn from a hash of (seed, person, day, decision), not from a running generator. The world with a channel removed is therefore the same world: the same people, the same coins for the same decisions, only that channel's touches are gone. The difference between the two worlds is the channel's true incremental effect, with no sampling noise between them.",
	"Counterfactual for a channel: re-simulate every person the channel reached (people it never touched are provably unchanged) with the channel's levers switched off. A person the channel brought finds the bakery later by a natural route with probability params.substitution, or never. Google brand ads and Facebook retargeting mostly take credit for sessions that would have happened anyway (brand_ad_capture, fb_retargeting_capture): in the counterfactual the same purchase arrives by organic search or direct.",
	"incremental_conversions = baseline orders - counterfactual orders; incremental_revenue_minor likewise, in EUR cents, net of refunds inside the window; orders from every location (web, shop, phone) count, tracked or anonymous. true_roas = incremental revenue / spend. Channels are keyed by the GA4 channel name attribution reports; levers by campaign key; removing several levers together (a channel) is simulated, not summed, because effects interact.",
	"Expect: Email high true lift at tiny cost; Paid Search solid but partly cannibalising organic search (brand campaign nearly zero lift); Paid Social (Facebook) with lots of last-click credit from retargeting but a low true ROAS; Instagram mostly first touches that bring new people; Referral a one-off blog article with a burst of new customers.",
}

// MarshalIndent renders ground truth for ground_truth.json.
func (g *GroundTruth) MarshalIndent() ([]byte, error) { return json.MarshalIndent(g, "", "  ") }

// ReadGroundTruth reads a ground_truth.json written by Load.
func ReadGroundTruth(path string) (*GroundTruth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	var g GroundTruth
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("read ground truth %s: %w", path, err)
	}
	return &g, nil
}

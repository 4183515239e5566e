package attribution

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// chunkSize is fixed so that float sums are added in the same order whatever the number of
// cores: results do not depend on GOMAXPROCS.
var chunkSize = 1 << 18 // a variable only so tests can force many chunks

// forChunks runs fn over fixed journey ranges on up to GOMAXPROCS goroutines.
func forChunks(n int, fn func(chunk, lo, hi int) error) error {
	chunks := (n + chunkSize - 1) / chunkSize
	if chunks == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	errs := make([]error, chunks)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= chunks {
					return
				}
				lo := c * chunkSize
				errs[c] = fn(c, lo, min(lo+chunkSize, n))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// acc accumulates credit by channel id and campaign (pair) id.
type acc struct {
	chConv, chVal []float64
	pConv, pVal   []float64
}

func newAcc(s *Set) *acc {
	return &acc{
		chConv: make([]float64, len(s.Channels)), chVal: make([]float64, len(s.Channels)),
		pConv: make([]float64, len(s.Pairs)), pVal: make([]float64, len(s.Pairs)),
	}
}

func (a *acc) add(b *acc) {
	for i := range a.chConv {
		a.chConv[i] += b.chConv[i]
		a.chVal[i] += b.chVal[i]
	}
	for i := range a.pConv {
		a.pConv[i] += b.pConv[i]
		a.pVal[i] += b.pVal[i]
	}
}

// result turns accumulated credit into a Result with rows sorted by name.
func (a *acc) result(s *Set, model string) Result {
	conv, val := s.totals()
	r := Result{Model: model, TotalConversions: conv, TotalValue: val}
	r.ByChannel = make([]Credit, len(s.Channels))
	for i, name := range s.Channels {
		r.ByChannel[i] = Credit{Key: name, Conversions: a.chConv[i], Value: a.chVal[i]}
	}
	sortCredits(r.ByChannel)
	if s.Pairs != nil {
		r.ByCampaign = make([]Credit, len(s.Pairs))
		for i, p := range s.Pairs {
			key := p.Campaign
			if key == "" {
				key = "(none)"
			}
			r.ByCampaign[i] = Credit{Key: key, Channel: s.Channels[p.Channel], Conversions: a.pConv[i], Value: a.pVal[i]}
		}
		sortCredits(r.ByCampaign)
	}
	if s.Unattributed > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%g conversions had no touches and are not attributed", s.Unattributed))
	}
	return r
}

func sortCredits(c []Credit) {
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].Channel != c[j].Channel {
			return c[i].Channel < c[j].Channel
		}
		return c[i].Key < c[j].Key
	})
}

// shareResult credits each channel share[i] of the totals, and splits a channel's credit
// over its campaigns by conversion-weighted touch counts (journey counts when a channel
// never touched a converting journey).
func shareResult(s *Set, model string, share []float64) Result {
	conv, val := s.totals()
	a := newAcc(s)
	for i, sh := range share {
		a.chConv[i] = sh * conv
		a.chVal[i] = sh * val
	}
	if s.Pairs != nil {
		byConv := make([]float64, len(s.Pairs))
		byAll := make([]float64, len(s.Pairs))
		for j := range s.Conv {
			c, n := s.Conv[j], s.Conv[j]+s.Nulls[j]
			for k := s.Off[j]; k < s.Off[j+1]; k++ {
				byConv[s.Camp[k]] += c
				byAll[s.Camp[k]] += n
			}
		}
		chConvSum := make([]float64, len(s.Channels))
		chAllSum := make([]float64, len(s.Channels))
		for p, pr := range s.Pairs {
			chConvSum[pr.Channel] += byConv[p]
			chAllSum[pr.Channel] += byAll[p]
		}
		for p, pr := range s.Pairs {
			var f float64
			switch {
			case chConvSum[pr.Channel] > 0:
				f = byConv[p] / chConvSum[pr.Channel]
			case chAllSum[pr.Channel] > 0:
				f = byAll[p] / chAllSum[pr.Channel]
			}
			a.pConv[p] = f * a.chConv[pr.Channel]
			a.pVal[p] = f * a.chVal[pr.Channel]
		}
	}
	return a.result(s, model)
}

// isDirect reports whether a channel name is the "Direct" (no known source) channel.
func isDirect(name string) bool {
	return strings.EqualFold(name, "Direct") || strings.EqualFold(name, "(direct)")
}

package attribution

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/omniroi/omniroi/internal/money"
)

// groundTruthFile is the part of the demo's ground_truth.json the comparison reads.
type groundTruthFile struct {
	Currency string `json:"currency"`
	Channels map[string]struct {
		IncrementalConversions  float64 `json:"incremental_conversions"`
		IncrementalRevenueMinor float64 `json:"incremental_revenue_minor"`
	} `json:"channels"`
}

// TruthChannel is one channel's true incremental effect and what a model credited it.
type TruthChannel struct {
	Channel           string  `json:"channel"`
	TrueConversions   float64 `json:"true_conversions"`
	TrueRevenueMinor  float64 `json:"true_revenue_minor"`
	TrueShare         float64 `json:"true_share"`        // of the incremental conversions of all listed channels
	ModelConversions  float64 `json:"model_conversions"` // credited by the model
	ModelRevenueMinor float64 `json:"model_revenue_minor"`
	ModelShare        float64 `json:"model_share"`  // of the model's credit to the listed channels
	ShareError        float64 `json:"share_error"`  // model share - true share
	CreditRatio       float64 `json:"credit_ratio"` // model conversions / true conversions (NaN-free: 0 when truth is 0)
}

// ModelTruth is one model's error against the ground truth.
type ModelTruth struct {
	Model          string         `json:"model"`
	ShareMAE       float64        `json:"share_mae"`         // mean |share error| over the listed channels
	RevenueMAE     float64        `json:"revenue_share_mae"` // same on revenue shares
	ConversionsMAE float64        `json:"conversions_mae"`   // mean |model - true| conversions
	Channels       []TruthChannel `json:"channels"`
}

// GroundTruthReport compares models with the true incremental effects per channel.
type GroundTruthReport struct {
	Source   string       `json:"source"`
	Currency string       `json:"currency"`
	Models   []ModelTruth `json:"models"`
	Notes    []string     `json:"notes,omitempty"`
}

// CompareGroundTruth compares each result with ground_truth.json (the demo generator's
// per-channel incremental conversions and revenue). Only the channels listed in the file
// are compared: shares are taken within them, since attribution also credits baseline
// channels (Direct, In-store) that the truth has no lever for. Attribution splits all
// conversions while the truth counts only incremental ones, so absolute numbers are
// expected to be larger; shares are the fairer comparison.
func CompareGroundTruth(results []Result, path string) (GroundTruthReport, error) {
	rep := GroundTruthReport{Source: path}
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("ground truth: %w", err)
	}
	var gt groundTruthFile
	if err := json.Unmarshal(b, &gt); err != nil {
		return rep, fmt.Errorf("ground truth %s: %w", path, err)
	}
	if len(gt.Channels) == 0 {
		return rep, fmt.Errorf("ground truth %s: no channels", path)
	}
	rep.Currency = gt.Currency
	names := make([]string, 0, len(gt.Channels))
	var totConv, totRev float64
	for n, c := range gt.Channels {
		names = append(names, n)
		totConv += max(c.IncrementalConversions, 0)
		totRev += max(c.IncrementalRevenueMinor, 0)
	}
	sort.Strings(names)
	scale := math.Pow10(money.Exponent(gt.Currency))
	for _, r := range results {
		by := map[string]Credit{}
		for _, c := range r.ByChannel {
			by[c.Key] = c
		}
		var mConv, mRev float64
		for _, n := range names {
			mConv += max(by[n].Conversions, 0)
			mRev += max(by[n].Value, 0) * scale
		}
		mt := ModelTruth{Model: r.Model}
		for _, n := range names {
			t := gt.Channels[n]
			c := by[n]
			tc := TruthChannel{Channel: n, TrueConversions: t.IncrementalConversions, TrueRevenueMinor: t.IncrementalRevenueMinor,
				ModelConversions: c.Conversions, ModelRevenueMinor: c.Value * scale}
			tc.TrueShare = share(max(t.IncrementalConversions, 0), totConv)
			tc.ModelShare = share(max(c.Conversions, 0), mConv)
			tc.ShareError = tc.ModelShare - tc.TrueShare
			if t.IncrementalConversions != 0 {
				tc.CreditRatio = c.Conversions / t.IncrementalConversions
			}
			revErr := share(max(tc.ModelRevenueMinor, 0), mRev) - share(max(t.IncrementalRevenueMinor, 0), totRev)
			mt.ShareMAE += math.Abs(tc.ShareError)
			mt.RevenueMAE += math.Abs(revErr)
			mt.ConversionsMAE += math.Abs(c.Conversions - t.IncrementalConversions)
			mt.Channels = append(mt.Channels, tc)
		}
		k := float64(len(names))
		mt.ShareMAE, mt.RevenueMAE, mt.ConversionsMAE = mt.ShareMAE/k, mt.RevenueMAE/k, mt.ConversionsMAE/k
		rep.Models = append(rep.Models, mt)
	}
	rep.Notes = append(rep.Notes, "shares are within the channels the ground truth lists; attributed conversions include baseline purchases, so credit ratios above 1 are expected")
	return rep, nil
}

// share is x / tot, 0 when tot is 0.
func share(x, tot float64) float64 {
	if tot == 0 {
		return 0
	}
	return x / tot
}

// DefaultGroundTruth returns dataDir/ground_truth.json when it exists, else "".
func DefaultGroundTruth(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	p := filepath.Join(dataDir, "ground_truth.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

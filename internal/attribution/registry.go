package attribution

import (
	"fmt"
	"strings"
	"time"
)

// DefaultHalfLife is time_decay's half-life.
const DefaultHalfLife = 7 * 24 * time.Hour

// conventions holds each model's one-paragraph explanation, written once so the CLI, the API
// and the dashboard show the same sentence.
var conventions = map[string]string{
	"first_touch": "First touch: the first touch of each journey gets all of its conversions and revenue. " +
		"Same convention as ChannelAttribution's first_touch.",
	"last_touch": "Last touch: the last touch before the conversion gets all of its conversions and revenue. " +
		"Same convention as ChannelAttribution's last_touch.",
	"last_non_direct": "Last non-direct: the last touch that is not Direct gets everything; Direct is credited " +
		"only when every touch of the journey is Direct.",
	"linear": "Linear: every touch gets an equal share, so a channel touched twice in one journey gets two " +
		"shares. Same convention as ChannelAttribution's linear_touch.",
	"time_decay": "Time decay: a touch's weight halves with every half-life (default 7 days) between the touch " +
		"and the conversion, weight = 2^(-age/half-life), normalised per journey. Needs touch times; path " +
		"files have none, so it refuses them instead of guessing.",
	"position_based": "Position based (U-shaped): first and last touch get 40 % each and the touches in " +
		"between share 20 % evenly; a 2-touch journey is split 50/50 and a 1-touch journey gets 100 %.",
	"w_shaped": "W-shaped: first touch, lead-creation touch and opportunity-creation touch get 30 % each and " +
		"the other touches share 10 %. Without milestones the middle touch stands in for lead creation and " +
		"the last touch for opportunity creation; shares of coinciding anchors add up; if no other touch is " +
		"left the 10 % goes evenly to the anchors (so 3 touches get 1/3 each); 2 touches get 50/50, 1 touch 100 %.",
	"custom": "Custom: user-given position weights, normalised per journey. Three weights are first, middle " +
		"(shared evenly by the middle touches) and last; 2-touch journeys use first and last. Any other number " +
		"of weights is a curve over the journey from first to last touch, read by linear interpolation.",
	"markov": "Markov chain (removal effect): estimates transition probabilities between channels (repeated " +
		"consecutive touches of a channel count once; non-converting journeys lead to a null state), solves " +
		"the chain exactly for the probability of converting, and measures how much that probability drops " +
		"when a channel is removed. Conversions and revenue are split in proportion to the removal effects, " +
		"as ChannelAttribution does.",
	"shapley": "Shapley (simplified, Zhao et al. 2018): a coalition of channels is worth the conversions of " +
		"journeys whose channels all lie inside it; its Shapley value splits each converting journey's " +
		"conversions evenly over the distinct channels it touched, whatever their order or repetition.",
	"shapley_cr": "Counterfactual Shapley on conversion rates: journeys are grouped by the set of channels they " +
		"touched, including journeys that did not convert; a coalition is worth the conversions expected if " +
		"only its channels existed, each journey converting at the rate observed for its remaining channels. " +
		"Channels get their average marginal contribution over all orders (exact up to 15 channels in a " +
		"journey, sampled beyond, with a standard error). Credit can be negative for channels whose journeys " +
		"convert less.",
}

// ModelNames lists the models in display order.
var ModelNames = []string{"first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
	"position_based", "w_shaped", "custom", "markov", "shapley", "shapley_cr"}

// Config holds the options some models take. Zero values mean the defaults.
type Config struct {
	HalfLife      time.Duration // time_decay; default 7 days
	CustomWeights []float64     // custom; default 0.4, 0.2, 0.4
	Order         int           // markov; default 1
	IgnoreNulls   bool          // markov: leave out non-converting journeys (ChannelAttribution without var_null)
}

// New returns the named model configured by cfg.
func New(name string, cfg Config) (Model, error) {
	hl := cfg.HalfLife
	if hl == 0 {
		hl = DefaultHalfLife
	}
	cw := cfg.CustomWeights
	if cw == nil {
		cw = []float64{0.4, 0.2, 0.4}
	}
	mk := func(name string, w func(*Set) (weigher, error)) Model {
		return ruleModel{name: name, convention: conventions[name], weigh: w}
	}
	switch name {
	case "first_touch":
		return mk(name, fixed(firstTouch)), nil
	case "last_touch":
		return mk(name, fixed(lastTouch)), nil
	case "last_non_direct":
		return mk(name, lastNonDirect), nil
	case "linear":
		return mk(name, fixed(linear)), nil
	case "time_decay":
		if hl < 0 {
			return nil, fmt.Errorf("time_decay: half-life must be positive, got %v", hl)
		}
		return mk(name, timeDecay(hl)), nil
	case "position_based":
		return mk(name, fixed(positionBased)), nil
	case "w_shaped":
		return mk(name, fixed(wShaped)), nil
	case "custom":
		if err := ValidateCustomWeights(cw); err != nil {
			return nil, err
		}
		return mk(name, custom(cw)), nil
	case "markov":
		o := cfg.Order
		if o == 0 {
			o = 1
		}
		if o < 1 || o > MaxMarkovOrder {
			return nil, fmt.Errorf("markov: order must be 1 to %d, got %d", MaxMarkovOrder, o)
		}
		return Markov{Order: o, IgnoreNulls: cfg.IgnoreNulls}, nil
	case "shapley":
		return Shapley{}, nil
	case "shapley_cr":
		return ShapleyCR{}, nil
	}
	return nil, fmt.Errorf("unknown attribution model %q (known: %s)", name, strings.Join(ModelNames, ", "))
}

// ByName returns the named model with default options.
func ByName(name string) (Model, error) { return New(name, Config{}) }

// Models returns every model with default options, in display order.
func Models() []Model {
	out := make([]Model, 0, len(ModelNames))
	for _, n := range ModelNames {
		m, err := ByName(n)
		if err != nil {
			panic(err) // ModelNames and New disagree: a programming error
		}
		out = append(out, m)
	}
	return out
}

// Conventions returns a copy of model name -> convention text.
func Conventions() map[string]string {
	out := make(map[string]string, len(conventions))
	for k, v := range conventions {
		out[k] = v
	}
	return out
}

package attribution

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Touch is one marketing contact. Time is zero when unknown (path files).
type Touch struct {
	Channel  string
	Campaign string
	Time     time.Time
}

// Path is an ordered path of touches (oldest first) and its outcome. Path files aggregate
// many journeys: Conversions and Nulls count the converting and non-converting journeys that
// followed this path, Value is the total conversion value (major units of one currency).
type Path struct {
	Touches     []Touch
	Conversions float64
	Value       float64
	Nulls       float64
	ConvertedAt time.Time // zero when unknown; time_decay then measures from the last touch
	Milestones  []int     // [lead creation, opportunity creation] touch indices for w_shaped; -1 absent
}

// Credit is what a model gives one channel (Channel empty) or one campaign of a channel.
type Credit struct {
	Key         string  `json:"key"`
	Channel     string  `json:"channel,omitempty"`
	Conversions float64 `json:"conversions"`
	Value       float64 `json:"value"`
}

// Result is one model's attribution.
type Result struct {
	Model            string   `json:"model"`
	TotalConversions float64  `json:"total_conversions"`
	TotalValue       float64  `json:"total_value"`
	ByChannel        []Credit `json:"by_channel"`
	ByCampaign       []Credit `json:"by_campaign,omitempty"`
	Details          any      `json:"details,omitempty"`
	Notes            []string `json:"notes,omitempty"`
}

// Model is an attribution model. Attribute and AttributeSet give the same answer;
// AttributeSet works on the compact form and is what large inputs should use.
type Model interface {
	Name() string
	Convention() string
	Attribute(js []Path) (Result, error)
	AttributeSet(s *Set) (Result, error)
}

// ErrNeedsTimes is returned by time_decay when touch times are missing.
var ErrNeedsTimes = errors.New("time_decay needs touch times; path files have none")

// Set is the compact, column-oriented form of many journeys. Touches of journey i are
// Ch[Off[i]:Off[i+1]] (and the same range of Camp and Age).
type Set struct {
	Channels []string // channel id -> name
	Pairs    []Pair   // campaign id -> (channel, campaign); nil when no touch has a campaign

	Off   []int64
	Ch    []uint16
	Camp  []uint32  // campaign id per touch; nil when Pairs is nil
	Age   []float32 // seconds from touch to conversion; NaN unknown; nil when no times at all
	Conv  []float64
	Value []float64
	Nulls []float64
	Lead  []int32 // lead-creation touch index within the journey, -1 none; nil when none
	Opp   []int32 // opportunity-creation touch index, -1 none; nil when none

	Unattributed float64 // conversions of journeys without touches (not attributed)
}

// Pair names one campaign of one channel.
type Pair struct {
	Channel  uint16
	Campaign string
}

// Len is the number of journeys.
func (s *Set) Len() int { return len(s.Conv) }

// Touches is the number of touches.
func (s *Set) Touches() int { return len(s.Ch) }

// SetBuilder appends journeys into a Set without per-journey allocations.
type SetBuilder struct {
	s       Set
	chIDs   map[string]uint16
	pairIDs map[Pair]uint32
	anyCamp bool
	anyTime bool
	anyMS   bool
}

// NewSetBuilder returns an empty builder.
func NewSetBuilder() *SetBuilder {
	b := &SetBuilder{chIDs: map[string]uint16{}, pairIDs: map[Pair]uint32{}}
	b.s.Off = []int64{0}
	return b
}

// ChannelID returns the id of a channel name, adding it when new.
func (b *SetBuilder) ChannelID(name string) (uint16, error) {
	if id, ok := b.chIDs[name]; ok {
		return id, nil
	}
	if len(b.s.Channels) >= math.MaxUint16 {
		return 0, fmt.Errorf("more than %d channels", math.MaxUint16)
	}
	id := uint16(len(b.s.Channels))
	b.chIDs[name] = id
	b.s.Channels = append(b.s.Channels, name)
	return id, nil
}

func (b *SetBuilder) pairID(p Pair) uint32 {
	if id, ok := b.pairIDs[p]; ok {
		return id
	}
	id := uint32(len(b.s.Pairs))
	b.pairIDs[p] = id
	b.s.Pairs = append(b.s.Pairs, p)
	return id
}

// Add appends one journey. It does not keep j, so a caller may reuse j.Touches for the
// next journey. Touches without a channel name are an error.
func (b *SetBuilder) Add(j Path) error {
	if err := b.checkCounts(j); err != nil {
		return err
	}
	if len(j.Touches) == 0 {
		b.s.Unattributed += j.Conversions
		return nil
	}
	n := len(j.Touches)
	for _, m := range j.Milestones {
		if m >= n {
			return fmt.Errorf("journey %d: milestone index %d outside its %d touches", b.s.Len(), m, n)
		}
	}
	for i, t := range j.Touches {
		if t.Channel == "" {
			return fmt.Errorf("journey %d: touch %d has no channel", b.s.Len(), i)
		}
	}
	ref := j.ConvertedAt
	if ref.IsZero() {
		ref = j.Touches[n-1].Time
	}
	base := len(b.s.Ch)
	for i, t := range j.Touches {
		id, err := b.ChannelID(t.Channel)
		if err != nil {
			return err
		}
		b.s.Ch = append(b.s.Ch, id)
		if t.Campaign != "" && !b.anyCamp {
			b.startCampaigns(base + i)
		}
		if b.anyCamp {
			b.s.Camp = append(b.s.Camp, b.pairID(Pair{Channel: id, Campaign: t.Campaign}))
		}
		age := float32(math.NaN())
		if !t.Time.IsZero() && !ref.IsZero() {
			age = float32(ref.Sub(t.Time).Seconds())
			if !b.anyTime {
				b.startTimes(base + i)
			}
		}
		if b.anyTime {
			b.s.Age = append(b.s.Age, age)
		}
	}
	lead, opp := int32(-1), int32(-1)
	if len(j.Milestones) > 0 && j.Milestones[0] >= 0 {
		lead = int32(j.Milestones[0])
	}
	if len(j.Milestones) > 1 && j.Milestones[1] >= 0 {
		opp = int32(j.Milestones[1])
	}
	b.endPath(j, lead, opp)
	return nil
}

// checkCounts checks a path's counts and milestones before anything is appended.
func (b *SetBuilder) checkCounts(j Path) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"conversions", j.Conversions}, {"value", j.Value}, {"nulls", j.Nulls}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("journey %d: %s must be a finite number >= 0, got %v", b.s.Len(), f.name, f.v)
		}
	}
	if len(j.Touches) > 0 && len(j.Milestones) > 2 {
		return fmt.Errorf("journey %d: %d milestones given; want at most 2 (lead, opportunity)", b.s.Len(), len(j.Milestones))
	}
	return nil
}

// startCampaigns starts the campaign column at the first touch with a campaign (n touches
// before it, which get their channel's campaign-less pair).
func (b *SetBuilder) startCampaigns(n int) {
	b.anyCamp = true
	b.s.Camp = make([]uint32, n, cap(b.s.Ch))
	for k := range n {
		b.s.Camp[k] = b.pairID(Pair{Channel: b.s.Ch[k]})
	}
}

// startTimes starts the age column at the first touch with a time (n touches before it,
// of unknown age).
func (b *SetBuilder) startTimes(n int) {
	b.anyTime = true
	b.s.Age = make([]float32, n, cap(b.s.Ch))
	for k := range b.s.Age {
		b.s.Age[k] = float32(math.NaN())
	}
}

// endPath appends a path's milestones, offset and counts once its touches are in.
func (b *SetBuilder) endPath(j Path, lead, opp int32) {
	if (lead >= 0 || opp >= 0) && !b.anyMS {
		b.anyMS = true
		b.s.Lead = make([]int32, b.s.Len(), cap(b.s.Conv))
		b.s.Opp = make([]int32, b.s.Len(), cap(b.s.Conv))
		for k := range b.s.Lead {
			b.s.Lead[k], b.s.Opp[k] = -1, -1
		}
	}
	if b.anyMS {
		b.s.Lead = append(b.s.Lead, lead)
		b.s.Opp = append(b.s.Opp, opp)
	}
	b.s.Off = append(b.s.Off, int64(len(b.s.Ch)))
	b.s.Conv = append(b.s.Conv, j.Conversions)
	b.s.Value = append(b.s.Value, j.Value)
	b.s.Nulls = append(b.s.Nulls, j.Nulls)
}

// Reserve makes room for paths more paths holding touches more touches, at least doubling
// the arrays when they must grow: append grows large arrays a quarter at a time, so a set
// of millions of touches added path by path was copied over and over.
func (b *SetBuilder) Reserve(paths, touches int) {
	b.s.Ch = reserve(b.s.Ch, touches)
	if b.anyCamp {
		b.s.Camp = reserve(b.s.Camp, touches)
	}
	if b.anyTime {
		b.s.Age = reserve(b.s.Age, touches)
	}
	b.s.Off = reserve(b.s.Off, paths)
	b.s.Conv = reserve(b.s.Conv, paths)
	b.s.Value = reserve(b.s.Value, paths)
	b.s.Nulls = reserve(b.s.Nulls, paths)
	if b.anyMS {
		b.s.Lead = reserve(b.s.Lead, paths)
		b.s.Opp = reserve(b.s.Opp, paths)
	}
}

func reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	// make and copy rather than slices.Grow: Grow clears the whole new capacity, while a
	// large fresh allocation is already zero, and the set's arrays are hundreds of MB.
	out := make([]T, len(s), len(s)+max(n, cap(s)))
	copy(out, s)
	return out
}

// Set returns the built set. The builder must not be used afterwards.
func (b *SetBuilder) Set() *Set { return &b.s }

// Compile converts journeys into the compact form.
func Compile(js []Path) (*Set, error) {
	b := NewSetBuilder()
	for i := range js {
		if err := b.Add(js[i]); err != nil {
			return nil, err
		}
	}
	return b.Set(), nil
}

// totals returns the attributed conversions and value.
func (s *Set) totals() (conv, value float64) {
	for i := range s.Conv {
		conv += s.Conv[i]
		value += s.Value[i]
	}
	return conv, value
}

// DefaultLookback is the window ApplyLookback uses when given zero.
const DefaultLookback = 30 * 24 * time.Hour

// ApplyLookback drops touches older than window before the conversion (and touches after
// it). The reference time is ConvertedAt, or the last touch when that is zero. Touches
// without a time are kept: there is nothing to measure.
func ApplyLookback(j Path, window time.Duration) Path {
	if window <= 0 {
		window = DefaultLookback
	}
	ref := j.ConvertedAt
	if ref.IsZero() && len(j.Touches) > 0 {
		ref = j.Touches[len(j.Touches)-1].Time
	}
	if ref.IsZero() {
		return j
	}
	out := j
	out.Touches = make([]Touch, 0, len(j.Touches))
	newIdx := make([]int, len(j.Touches))
	for i, t := range j.Touches {
		newIdx[i] = -1
		if !t.Time.IsZero() && (t.Time.Before(ref.Add(-window)) || t.Time.After(ref)) {
			continue
		}
		newIdx[i] = len(out.Touches)
		out.Touches = append(out.Touches, t)
	}
	out.Milestones = nil
	for _, m := range j.Milestones {
		if m >= 0 && m < len(newIdx) {
			m = newIdx[m] // -1 when the milestone touch was dropped
		} else {
			m = -1
		}
		out.Milestones = append(out.Milestones, m)
	}
	return out
}

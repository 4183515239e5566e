package mix

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"

	"gonum.org/v1/gonum/mat"
)

// modelFormat is the revision of the stored form of a Model (MarshalBinary): change it
// when Model, problem or draw change, so that a stored model of the old form is not read.
const modelFormat = 1

// MarshalBinary is the fitted model in a stored form: everything Plan, WhatIf,
// ResponseCurves and the report read, the data the fit was made on and its posterior
// draws, so that a model read back with UnmarshalModel gives the same answers without
// being fitted again. Gob, which keeps NaN (MAPEHoldout without a holdout).
func (m *Model) MarshalBinary() ([]byte, error) {
	if m.prob == nil {
		return nil, fmt.Errorf("mix: a model without its fitting problem is not stored")
	}
	st := modelState{
		Format: modelFormat,
		Period: m.Period, Dates: m.Dates, Channels: m.Channels, Dropped: m.Dropped,
		Total: m.Total, Baseline: m.Baseline, BaselineLow: m.BaselineLow, BaselineHigh: m.BaselineHigh,
		R2: m.R2, MAPEHoldout: m.MAPEHoldout, HoldoutPeriods: m.HoldoutPeriods, Level: m.Level,
		Method: m.Method, Warnings: m.Warnings, Actual: m.Actual, Fitted: m.Fitted,
		BaselineSeries: m.BaselineSeries, Elapsed: m.Elapsed, Form: m.Form,
		S2: m.s2, Weights: m.weights, Phi: m.phi, Beta: m.beta,
		Prob: problemStateOf(m.prob),
	}
	for _, d := range m.draws {
		st.Draws = append(st.Draws, drawState{Beta: d.beta, Params: d.params})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalModel reads a model stored by MarshalBinary.
func UnmarshalModel(b []byte) (*Model, error) {
	var st modelState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return nil, fmt.Errorf("mix: read stored model: %w", err)
	}
	if st.Format != modelFormat {
		return nil, fmt.Errorf("mix: stored model of form %d, want %d", st.Format, modelFormat)
	}
	if st.Prob == nil {
		return nil, fmt.Errorf("mix: stored model without its fitting problem")
	}
	p, err := st.Prob.problem()
	if err != nil {
		return nil, err
	}
	m := &Model{
		Period: st.Period, Dates: st.Dates, Channels: st.Channels, Dropped: st.Dropped,
		Total: st.Total, Baseline: st.Baseline, BaselineLow: st.BaselineLow, BaselineHigh: st.BaselineHigh,
		R2: st.R2, MAPEHoldout: st.MAPEHoldout, HoldoutPeriods: st.HoldoutPeriods, Level: st.Level,
		Method: st.Method, Warnings: st.Warnings, Actual: st.Actual, Fitted: st.Fitted,
		BaselineSeries: st.BaselineSeries, Elapsed: st.Elapsed, Form: st.Form,
		prob: p, s2: st.S2, weights: st.Weights, phi: st.Phi, beta: st.Beta,
	}
	for _, d := range st.Draws {
		m.draws = append(m.draws, draw{beta: d.Beta, params: d.Params})
	}
	return m, nil
}

// modelState is a Model's stored form (the compressed draws are made again on first use).
type modelState struct {
	Format         int
	Period         Period
	Dates          []time.Time
	Channels       []ChannelEffect
	Dropped        []string
	Total          float64
	Baseline       float64
	BaselineLow    float64
	BaselineHigh   float64
	R2             float64
	MAPEHoldout    float64
	HoldoutPeriods int
	Level          float64
	Method         string
	Warnings       []Warning
	Actual, Fitted []float64
	BaselineSeries []float64
	Elapsed        time.Duration
	Form           Form

	Prob    *problemState
	S2      float64
	Weights [][]float64
	Phi     []float64
	Beta    []float64
	Draws   []drawState
}

type drawState struct {
	Beta   []float64
	Params []channelParams
}

// problemState is a problem's stored form; the baseline Gram matrix goes as its order
// and its upper triangle, row by row.
type problemState struct {
	Form     Form
	Period   Period
	Dates    []time.Time
	N        int
	V, Y     []float64
	YScale   float64
	Channels []string
	X        [][]float64
	XScale   []float64
	Base     [][]float64
	BNames   []string
	BKinds   []string
	BPrec    []float64
	MPrec    float64
	Calib    []calibState
	Priors   priorsState

	BtBN  int
	BtB   []float64
	BtY   []float64
	YtY   float64
	NoBtB bool
}

type calibState struct {
	Channel         int
	ROAS, SD, Scale float64
}

type priorsState struct {
	ThetaMax     float64
	UMean, USD   float64
	LKMean, LKSD float64
	VMean, VSD   float64
}

func problemStateOf(p *problem) *problemState {
	s := &problemState{
		Form: p.form, Period: p.period, Dates: p.dates, N: p.n, V: p.v, Y: p.y, YScale: p.yScale,
		Channels: p.channels, X: p.x, XScale: p.xScale, Base: p.base, BNames: p.bnames,
		BKinds: p.bkinds, BPrec: p.bprec, MPrec: p.mprec,
		Priors: priorsState{p.pr.thetaMax, p.pr.uMean, p.pr.uSD, p.pr.lkMean, p.pr.lkSD, p.pr.vMean, p.pr.vSD},
		BtY:    p.bty, YtY: p.yty, NoBtB: p.btb == nil,
	}
	for _, c := range p.calib {
		s.Calib = append(s.Calib, calibState{c.channel, c.roas, c.sd, c.scale})
	}
	if p.btb != nil {
		n := p.btb.SymmetricDim()
		s.BtBN = n
		for i := range n {
			for j := i; j < n; j++ {
				s.BtB = append(s.BtB, p.btb.At(i, j))
			}
		}
	}
	return s
}

func (s *problemState) problem() (*problem, error) {
	p := &problem{
		form: s.Form, period: s.Period, dates: s.Dates, n: s.N, v: s.V, y: s.Y, yScale: s.YScale,
		channels: s.Channels, x: s.X, xScale: s.XScale, base: s.Base, bnames: s.BNames,
		bkinds: s.BKinds, bprec: s.BPrec, mprec: s.MPrec,
		pr:  priors{s.Priors.ThetaMax, s.Priors.UMean, s.Priors.USD, s.Priors.LKMean, s.Priors.LKSD, s.Priors.VMean, s.Priors.VSD},
		bty: s.BtY, yty: s.YtY,
	}
	for _, c := range s.Calib {
		p.calib = append(p.calib, calibRow{c.Channel, c.ROAS, c.SD, c.Scale})
	}
	if !s.NoBtB && s.BtBN > 0 {
		n := s.BtBN
		if len(s.BtB) != n*(n+1)/2 {
			return nil, fmt.Errorf("mix: stored model: %d entries for a %d×%d Gram matrix", len(s.BtB), n, n)
		}
		p.btb = mat.NewSymDense(n, nil)
		k := 0
		for i := range n {
			for j := i; j < n; j++ {
				p.btb.SetSym(i, j, s.BtB[k])
				k++
			}
		}
	}
	if len(p.x) != len(p.channels) || len(p.xScale) != len(p.channels) {
		return nil, fmt.Errorf("mix: stored model: spend of %d channels for %d", len(p.x), len(p.channels))
	}
	return p, nil
}

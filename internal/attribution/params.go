package attribution

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads "30d", "7d", "36h" or any Go duration.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("duration %q: want days like 30d", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("duration %q: want e.g. 30d or 12h", s)
	}
	return v, nil
}

// ParseDate reads YYYY-MM-DD (a UTC day) or an RFC 3339 time; "" is the zero time.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t.UTC(), nil
}

// ParseWeights reads "0.4,0.2,0.4".
func ParseWeights(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil {
			return nil, fmt.Errorf("weights %q: %q is not a number", s, part)
		}
		out = append(out, v)
	}
	if err := ValidateCustomWeights(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseQuery reads the path and model parameters the API takes (from, to, lookback,
// session_timeout, half_life, order, weights, conversion_events, value_property; model
// is the caller's). Errors wrap ErrBadQuery.
func ParseQuery(q url.Values) (PathOptions, Config, time.Time, time.Time, error) {
	var po PathOptions
	var cfg Config
	bad := func(err error) (PathOptions, Config, time.Time, time.Time, error) {
		return po, cfg, time.Time{}, time.Time{}, badQuery("%v", err)
	}
	from, err := ParseDate(q.Get("from"))
	if err != nil {
		return bad(err)
	}
	to, err := ParseDate(q.Get("to"))
	if err != nil {
		return bad(err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return bad(fmt.Errorf("from %s is not before to %s", q.Get("from"), q.Get("to")))
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"lookback", &po.Lookback}, {"session_timeout", &po.SessionTimeout}, {"half_life", &cfg.HalfLife}} {
		if s := q.Get(p.name); s != "" {
			if *p.dst, err = ParseDuration(s); err != nil {
				return bad(fmt.Errorf("%s: %w", p.name, err))
			}
		}
	}
	if s := q.Get("order"); s != "" {
		if cfg.Order, err = strconv.Atoi(s); err != nil {
			return bad(fmt.Errorf("order %q: not a number", s))
		}
	}
	if cfg.CustomWeights, err = ParseWeights(q.Get("weights")); err != nil {
		return bad(err)
	}
	po.ConversionEvents = SplitList(q.Get("conversion_events"))
	po.ValueProperty = q.Get("value_property")
	return po, cfg, from, to, nil
}

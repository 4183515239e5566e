package channel

import (
	"encoding/json"
	"strings"
	"testing"
)

// fromSegmentStd is the reference FromSegment built on encoding/json; the
// hand-written scanner must agree with it on every valid JSON object.
func fromSegmentStd(raw []byte) Touch {
	var e struct {
		Type       stdText `json:"type"`
		Event      stdText `json:"event"`
		Properties struct {
			Channel      stdText `json:"channel"`
			SalesChannel stdText `json:"sales_channel"`
			OrderChannel stdText `json:"order_channel"`
			Location     stdText `json:"location"`
			Source       stdText `json:"source"`
			SourceName   stdText `json:"source_name"`
			URL          stdText `json:"url"`
			Referrer     stdText `json:"referrer"`
			CampaignName stdText `json:"campaign_name"`
		} `json:"properties"`
		Context struct {
			Campaign struct {
				Name        stdText `json:"name"`
				Source      stdText `json:"source"`
				Medium      stdText `json:"medium"`
				Term        stdText `json:"term"`
				Content     stdText `json:"content"`
				UTMCampaign stdText `json:"utm_campaign"`
				UTMSource   stdText `json:"utm_source"`
				UTMMedium   stdText `json:"utm_medium"`
				UTMTerm     stdText `json:"utm_term"`
				UTMContent  stdText `json:"utm_content"`
			} `json:"campaign"`
			Page struct {
				URL      stdText `json:"url"`
				Referrer stdText `json:"referrer"`
			} `json:"page"`
			Referrer struct {
				URL  stdText `json:"url"`
				Link stdText `json:"link"`
			} `json:"referrer"`
		} `json:"context"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); !ok {
			return Touch{}
		}
	}
	s := func(v stdText) string { return string(v) }
	c, p := e.Context.Campaign, e.Properties
	t := Touch{
		Type:     first(s(e.Type)),
		Event:    first(s(e.Event)),
		Source:   first(s(c.Source), s(c.UTMSource)),
		Medium:   first(s(c.Medium), s(c.UTMMedium)),
		Campaign: first(s(c.Name), s(c.UTMCampaign)),
		Term:     first(s(c.Term), s(c.UTMTerm)),
		Content:  first(s(c.Content), s(c.UTMContent)),
		PageURL:  first(s(e.Context.Page.URL), s(p.URL)),
		Referrer: first(s(e.Context.Page.Referrer), s(e.Context.Referrer.URL), s(e.Context.Referrer.Link), s(p.Referrer)),
		Hint:     first(s(p.Channel), s(p.SalesChannel), s(p.OrderChannel)),
		Location: first(s(p.Location), s(p.Source), s(p.SourceName)),
	}
	if t.Campaign == "" && !pageHasCampaign(t.PageURL) {
		t.Campaign = first(s(p.CampaignName))
	}
	return t
}

// stdText takes strings, numbers and booleans as text and ignores the rest.
type stdText string

func (t *stdText) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			*t = stdText(s)
		}
	case '{', '[', 'n':
	default:
		*t = stdText(b)
	}
	return nil
}

var segmentSeeds = []string{
	`{"type":"page","properties":{"url":"https://b.example/p"},"context":{"campaign":{"name":"Spring","source":"Newsletter","medium":"email","term":"t","content":"c"},"page":{"url":"https://b.example/?utm_source=x","referrer":"https://mail.google.com/"}}}`,
	`{"type":"screen","context":{"campaign":{"utm_source":"ig","utm_medium":"paid_social"},"referrer":{"url":"https://l.instagram.com/"}}}`,
	`{"type":"track","event":"Order Completed","properties":{"channel":"In Store","location":"store","total":12.5,"products":[{"sku":"a","price":3}]},"context":{"channel":"server"}}`,
	`{"type":"track","event":"Order Completed","properties":{"source_name":"pos"}}`,
	`{"type":"track","event":"Email Link Clicked","properties":{"campaign_name":"Welcome","link_url":"https://b.example/"}}`,
	`{"type":"track","event":"Order Completed","properties":{"location":{"lat":1},"channel":7},"context":{"campaign":"oops","page":null}}`,
	`{"type":"track","event":"X","properties":"nope"}`,
	`{"Type":"Page","CONTEXT":{"Page":{"URL":"https://b.example/"}}}`,
	`{"type":"page","type":"track","event":"a","event":{"x":1}}`,
	`{"properties":{"channel":"pos"},"properties":{"location":"store"}}`,
	`{"event":"caf\u00e9 \"visit\"","properties":{"channel":true,"location":-1.5e3}}`,
	` {"context":{"referrer":{"link":"app://deep","url":null},"campaign":{"name":"","utm_campaign":"fallback"}}} `,
	`{"a":[1,[2,{"b":"c"}],"d"],"type":"page","context":{"page":{"url":"https://b.example/?utm_campaign=x"}},"properties":{"campaign_name":"ignored"}}`,
	`{"type":"page","properties":{"url":"https://b.example/\u00ff"},"context":{"page":{"referrer":"https://x.example/\ud83d\ude00"}}}`,
	`{}`, `null`, `[]`, `"str"`, `{"type":"page"} trailing`, `{"type":`, ``,
}

func TestFromSegmentMatchesEncodingJSON(t *testing.T) {
	for _, seed := range segmentSeeds {
		raw := []byte(seed)
		got, want := FromSegment(raw), fromSegmentStd(raw)
		if !json.Valid(raw) {
			if !touchEqual(got, Touch{}) {
				t.Errorf("invalid JSON %q gave %+v, want an empty Touch", seed, got)
			}
			continue
		}
		if !touchEqual(got, want) {
			t.Errorf("FromSegment(%s)\n got  %+v\n want %+v (encoding/json)", seed, got, want)
		}
	}
}

func FuzzFromSegment(f *testing.F) {
	for _, s := range segmentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := FromSegment(raw) // must not panic on anything
		if !json.Valid(raw) {
			return
		}
		// encoding/json folds a few non-ASCII letters into keys (the Kelvin
		// sign matches "k", the long s matches "s"); Segment keys are ASCII.
		if strings.ContainsRune(string(raw), '\u212a') || strings.ContainsRune(string(raw), '\u017f') {
			return
		}
		if want := fromSegmentStd(raw); !touchEqual(got, want) {
			t.Errorf("FromSegment(%q)\n got  %+v\n want %+v", raw, got, want)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("https://b.example/?utm_source=ig&utm_medium=paid_social&gclid=x", "https://l.instagram.com/", "in store", "store", "Order Completed", "b.example")
	f.Add("//x?utm_medium=%zz&&=&utm_source", "android-app://com.google.android.gm", "", "", "", "")
	f.Add("https://[::1]:80/p?q#f", "http://user@www.EXAMPLE.co.uk.:8080/x", "", "", "", "https://Own.Example/")
	r := Default()
	f.Fuzz(func(t *testing.T, url, ref, hint, location, event, own string) {
		res := r.Classify(Touch{PageURL: url, Referrer: ref, Hint: hint, Location: location, Event: event, OwnHosts: []string{own}})
		if res.Channel == "" || res.Campaign == "" || res.Source == "" || res.Medium == "" || res.Rule == "" {
			t.Errorf("incomplete result %+v", res)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(string(defaultYAML))
	f.Add("append_default_rules: true\nrules: [{name: a, channel: X, all: [{field: query.a, regex: '('}]}]")
	f.Fuzz(func(t *testing.T, y string) {
		r, err := Parse([]byte(y))
		if err == nil {
			r.Classify(Touch{PageURL: "https://b.example/?utm_source=a", Referrer: "https://google.com/"})
		}
	})
}

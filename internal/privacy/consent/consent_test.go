package consent

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TC strings and their purpose consents from Prebid.js's TCF tests (tcfUtils_spec), which
// decode them with the IAB's own library.
func TestDecodeTCString(t *testing.T) {
	for _, c := range []struct {
		tc   string
		want []int
	}{
		{"CPh7_cXPh7_cXKMAAAENCZCAAKqAAAAAAAAAAAAAAAAA.II7Nd_X__bX9n-_7_6ft0eY1f9_r37uQzDhfNs-8F3L_W_LwX32E7NF36tq4KmR4ku1bBIQNtHMnUDUmxaolVrzHsak2cpyNKJ_JkknsZe2dYGF9Pn9lD-YKZ7_5_9_f52T_9_9_-39z3_9f___dv_-__-vjf_599n_v9fV_78_Kf9______-____________8A", []int{1, 3, 5, 7, 9}},
		{"CPh8CeXPh8CeXMgAAAENCZCAAFVAAAAAAAAAAAAAAAAA", []int{2, 4, 6, 8, 10}},
		{"CPh8CoIPh8CoINYAAAENCZCAAP_AAAAAAAAAAAAAAAAA", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	} {
		p, ok := DecodeTCString(c.tc)
		if !ok {
			t.Fatalf("%.20s…: not decoded", c.tc)
		}
		var got []int
		for i := 1; i <= 24; i++ {
			if p[i] {
				got = append(got, i)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%.20s…: purposes %v, want %v", c.tc, got, c.want)
		}
	}
	for _, bad := range []string{"", "not base64!", "CPh7", "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"} { // the last: a TCF v1 string
		if _, ok := DecodeTCString(bad); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestParse(t *testing.T) {
	m := DefaultMapping()
	for _, c := range []struct {
		name, consent string
		want          State
		ok            bool
	}{
		{"segment categories", `{"categoryPreferences":{"Analytics":false,"Advertising":true,"Functional":true}}`,
			State{Analytics: Denied, AdStorage: Granted, AdUserData: Granted, AdPersonalization: Granted, Personalization: Granted, Signals: []string{"categories"}}, true},
		{"onetrust ids", `{"categoryPreferences":{"C0001":true,"C0002":true,"C0004":false}}`,
			State{Analytics: Granted, AdStorage: Denied, AdUserData: Denied, AdPersonalization: Denied, Signals: []string{"categories"}}, true},
		{"consent mode v2", `{"ad_storage":"granted","analytics_storage":"denied","ad_user_data":"granted","ad_personalization":"denied"}`,
			State{Analytics: Denied, AdStorage: Granted, AdUserData: Granted, AdPersonalization: Denied, Signals: []string{"consent_mode"}}, true},
		{"consent mode nested", `{"consentMode":{"analytics_storage":"granted","personalization_storage":"granted"}}`,
			State{Analytics: Granted, Personalization: Granted, Signals: []string{"consent_mode"}}, true},
		{"consent mode among categories", `{"categoryPreferences":{"analytics_storage":true,"ad_storage":false}}`,
			State{Analytics: Granted, AdStorage: Denied, Signals: []string{"consent_mode"}}, true},
		{"tcf string", `{"tcf":{"gdprApplies":true,"tcString":"CPh8CeXPh8CeXMgAAAENCZCAAFVAAAAAAAAAAAAAAAAA"}}`,
			// purposes 2,4,6,8,10: no purpose 1, so nothing that needs device storage.
			State{Analytics: Denied, AdStorage: Denied, AdUserData: Denied, AdPersonalization: Denied, Personalization: Denied, Signals: []string{"tcf"}}, true},
		{"tcf all", `{"tcString":"CPh8CoIPh8CoINYAAAENCZCAAP_AAAAAAAAAAAAAAAAA"}`,
			State{Analytics: Granted, AdStorage: Granted, AdUserData: Granted, AdPersonalization: Granted, Personalization: Granted, Signals: []string{"tcf"}}, true},
		{"tcf purposes map", `{"tcf":{"purposeConsents":{"1":true,"7":true,"9":false}}}`,
			State{Analytics: Granted, AdStorage: Granted, AdUserData: Granted, AdPersonalization: Denied, Personalization: Denied, Signals: []string{"tcf"}}, true},
		{"gdpr does not apply", `{"tcf":{"gdprApplies":false,"tcString":"CPh8CeXPh8CeXMgAAAENCZCAAFVAAAAAAAAAAAAAAAAA"}}`, State{}, false},
		{"a denial wins", `{"categoryPreferences":{"Analytics":true},"analytics_storage":"denied"}`,
			State{Analytics: Denied, Signals: []string{"categories", "consent_mode"}}, true},
		{"empty", `{}`, State{}, false},
		{"unknown categories", `{"categoryPreferences":{"Newsletter":true}}`, State{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Parse(json.RawMessage(c.consent), m)
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestFromBody(t *testing.T) {
	body := []byte(`{"type":"page","context":{"consent":{"categoryPreferences":{"Analytics":false}}},"traits":{"consent":{"email":true}}}`)
	s, ok := FromBody(body, DefaultMapping())
	if !ok || s.Analytics != Denied {
		t.Fatalf("%+v %v", s, ok)
	}
	if _, ok := FromBody([]byte(`{"type":"identify","traits":{"consent":{"email":{"marketing":true}}}}`), DefaultMapping()); ok {
		t.Fatal("a trait named consent is not a consent signal")
	}
}

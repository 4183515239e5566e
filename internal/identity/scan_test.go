package identity

import (
	"encoding/json"
	"reflect"
	"testing"
)

var scanCases = []string{
	`{}`,
	` { } `,
	`{"type":"page","properties":{"url":"https://x.example/?a=\"}\"","n":[1,{"b":"]"}]},"context":{"page":{"url":"u"},"traits":{"email":"A@B.example","n":1.5e3}}}`,
	`{"traits":{"email":"a@b.example","phone":"+31 6"},"previousId":"anon-1","userId":"u1"}`,
	`{"Traits":{"email":"a@b.example"},"PREVIOUSID":7,"Context":{"TRAITS":{"x":null}}}`,
	`{"traits":{"a":1},"traits":{"b":2}}`,                 // repeated key: maps merge
	`{"context":{"traits":{"a":1}},"context":{"ip":"1"}}`, // repeated context
	`{"context":{"traits":{"a":1},"Traits":{"b":2}}}`,     // repeated by case
	`{"traits":"not an object","properties":[1,2],"context":null}`,
	`{"context":"str","traits":{"a":1}}`,
	`{"tr\u0061its":{"a":1}}`,              // escaped key
	`{"traſts":{"a":1},"previousId":null}`, // non-ASCII key
	`{"previousId":"x\"y\\","properties":{"email":"e@x.example"},"context":{"traits":{"phone":"0612"}},"timestamp":"2026-01-01T00:00:00Z","v":true,"w":false,"z":-0.5}`,
	"{\n\t\"traits\" : { \"email\" : \"a@b.example\" } ,\r\n \"properties\" : { } \n}",
	`{"traits":{}, "context":{}, "properties":{}}`,
}

func sameAsUnmarshal(t *testing.T, body []byte) {
	t.Helper()
	var want, got bodyFields
	_ = json.Unmarshal(body, &want)
	decodeBody(body, &got)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("decodeBody(%s)\n got %+v\nwant %+v", body, got, want)
	}
}

func TestDecodeBodyMatchesUnmarshal(t *testing.T) {
	t.Parallel()
	for _, c := range scanCases {
		if !json.Valid([]byte(c)) {
			t.Fatalf("test case is not JSON: %s", c)
		}
		sameAsUnmarshal(t, []byte(c))
	}
}

func TestScanObjectRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x}`, `{"a":{"b":1}`, `{"a":1} x`, `{"a":1 "b":2}`} {
		if scanObject([]byte(c), func(k, v []byte) bool { return true }) {
			t.Errorf("scanObject(%q) = true, want false", c)
		}
	}
}

// FuzzDecodeBody: for every valid JSON body, decodeBody and json.Unmarshal agree.
//
//	go test -run '^$' -fuzz FuzzDecodeBody -fuzztime 30s ./internal/identity/
func FuzzDecodeBody(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		sameAsUnmarshal(t, body)
	})
}

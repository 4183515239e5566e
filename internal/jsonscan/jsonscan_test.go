package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestSkipValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`"a\"b" ,`, 6},
		{`{"a":[1,{"b":"}"}],"c":null}x`, 28},
		{`[1,2]`, 5},
		{`-1.5e+3,`, 7},
		{`true}`, 4},
		{`null`, 4},
		{`"open`, -1},
		{`{"a":1`, -1},
		{`,`, -1},
		{``, -1},
	} {
		if got := SkipValue([]byte(c.in), 0); got != c.want {
			t.Errorf("SkipValue(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	if got := SkipWS([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipWS = %d, want 5", got)
	}
}

// FuzzSkipValue: on valid JSON, the value skipped is exactly what encoding/json reads.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,"]"]}`, `"x\\"`, `12.5e-3`, `[true,false,null]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			SkipValue(b, SkipWS(b, 0)) // must not panic
			return
		}
		i := SkipWS(b, 0)
		j := SkipValue(b, i)
		if j < 0 {
			t.Fatalf("valid JSON %q not skipped", b)
		}
		if SkipWS(b, j) != len(b) {
			t.Fatalf("valid JSON %q: value ends at %d, then %q", b, j, b[j:])
		}
	})
}

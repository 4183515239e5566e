package attribution

import "testing"

func TestParseHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"30d": "720h0m0s", "1.5d": "36h0m0s", "12h": "12h0m0s", "30m": "30m0s"} {
		if d, err := ParseDuration(in); err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "0", "abc"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	if d, err := ParseDate("2026-03-01"); err != nil || !d.Equal(jt0) {
		t.Errorf("ParseDate: %v %v", d, err)
	}
	if w, err := ParseWeights("0.4, 0.2,0.4"); err != nil || len(w) != 3 || w[1] != 0.2 {
		t.Errorf("ParseWeights: %v %v", w, err)
	}
	if _, err := ParseWeights("0,0"); err == nil {
		t.Error("all-zero weights accepted")
	}
}

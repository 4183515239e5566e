package attribution

import (
	"strings"
	"testing"
)

func TestReadPaths(t *testing.T) {
	for _, sep := range []string{";", ","} {
		in := strings.Join([]string{
			"path;total_conversions;total_conversion_value;total_null",
			"a > b >c;1;2.5;3",
			" b ;0;0;4",
			"",
			"a>b>c;2;1.5;1",
		}, "\n")
		in = strings.ReplaceAll(in, ";", sep)
		js, err := ReadPaths(strings.NewReader(in))
		if err != nil {
			t.Fatalf("sep %q: %v", sep, err)
		}
		if len(js) != 2 {
			t.Fatalf("sep %q: %d journeys, want 2 (repeated path summed)", sep, len(js))
		}
		a := js[0]
		if len(a.Touches) != 3 || a.Touches[0].Channel != "a" || a.Touches[2].Channel != "c" ||
			a.Conversions != 3 || a.Value != 4 || a.Nulls != 4 {
			t.Errorf("sep %q: first journey %+v", sep, a)
		}
		if b := js[1]; len(b.Touches) != 1 || b.Touches[0].Channel != "b" || b.Nulls != 4 {
			t.Errorf("sep %q: second journey %+v", sep, b)
		}
	}
}

func TestReadPathsOptionalColumns(t *testing.T) {
	js, err := ReadPaths(strings.NewReader("path;total_conversions\nA > B;4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if js[0].Conversions != 4 || js[0].Value != 0 || js[0].Nulls != 0 {
		t.Errorf("%+v", js[0])
	}
}

func TestReadPathsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"route;conversions\nA;1\n", `missing column "path"`},
		{"path;total_conversions;total_conversion_value;total_null\nA;1;2;3\nB;x;2;3\n", "line 3, column total_conversions"},
		{"path;total_conversions;total_conversion_value;total_null\nA;1;-2;3\n", "line 2, column total_conversion_value"},
		{"path;total_conversions;total_conversion_value;total_null\nA;1;2;NaN\n", "line 2, column total_null"},
		{"path;total_conversions;total_conversion_value;total_null\n > ;1;2;3\n", "line 2, column path"},
		{"path;total_conversions\n", "no rows"},
	} {
		_, err := ReadPaths(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("input %q: error %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

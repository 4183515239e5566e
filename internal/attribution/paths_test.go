package attribution

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

func writePaths(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "paths.csv")
	data := "path,total_conversions,total_conversion_value,total_null\nA > B,2,20,1\nB,1,5,3\nC > A,0,0,2\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAttributeFormats(t *testing.T) {
	p := writePaths(t)
	ctx := context.Background()

	var out bytes.Buffer
	if err := RunAttribute(ctx, Options{PathsFile: p, Model: "first_touch", Format: "csv"}, &out); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header + 3 channels (A, B, C)
	if len(recs) != 4 || strings.Join(recs[0], ",") != "model,channel,conversions,revenue,share" {
		t.Fatalf("csv %v", recs)
	}
	if got := strings.Join(recs[1], ","); got != "first_touch,A,2,20,0.6666666666666666" {
		t.Errorf("csv row %q", got)
	}

	out.Reset()
	if err := RunAttribute(ctx, Options{PathsFile: p, Format: "json"}, &out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Model      string   `json:"model"`
			Convention string   `json:"convention"`
			ByChannel  []Credit `json:"by_channel"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// all models except time_decay, which has no times here
	if len(doc.Results) != len(ModelNames)-1 {
		t.Errorf("%d results", len(doc.Results))
	}
	for _, r := range doc.Results {
		if r.Convention == "" || r.Model == "time_decay" {
			t.Errorf("result %s: convention %q", r.Model, r.Convention)
		}
	}

	out.Reset()
	if err := RunAttribute(ctx, Options{PathsFile: p, Model: "all"}, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "model: markov") || !strings.Contains(s, "time_decay skipped") {
		t.Errorf("table output:\n%s", s)
	}

	out.Reset()
	if err := RunAttribute(ctx, Options{PathsFile: "-", Model: "markov", Order: 2, Stdin: strings.NewReader("path;total_conversions\nA;1\n")}, &out); err != nil {
		t.Fatal(err)
	}
}

func TestRunAttributeErrors(t *testing.T) {
	p := writePaths(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := RunAttribute(ctx, Options{PathsFile: p, Model: "time_decay"}, &out); !errors.Is(err, ErrNeedsTimes) {
		t.Errorf("time_decay alone: %v", err)
	}
	for _, o := range []Options{
		{PathsFile: p, Model: "nope"},
		{PathsFile: p, Format: "xml"},
		{PathsFile: p, Model: "markov", Order: 9},
		{PathsFile: p, Model: "custom", CustomWeights: []float64{-1, 1, 1}},
		{PathsFile: filepath.Join(t.TempDir(), "missing.csv")},
		{},
	} {
		if err := RunAttribute(ctx, o, &out); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := RunAttribute(cctx, Options{PathsFile: p}, &out); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestManyChannels(t *testing.T) {
	var b strings.Builder
	b.WriteString("path;total_conversions;total_conversion_value;total_null\n")
	for i := range 70 {
		fmt.Fprintf(&b, "c%d > c%d;1;1;1\n", i, (i+1)%70)
	}
	p := filepath.Join(t.TempDir(), "many.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := RunAttribute(context.Background(), Options{PathsFile: p, Model: "shapley_cr"}, &out); err == nil {
		t.Error("shapley_cr on 70 channels: no error")
	}
	out.Reset()
	if err := RunAttribute(context.Background(), Options{PathsFile: p}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "shapley_cr skipped: 70 channels") || !strings.Contains(out.String(), "model: shapley\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

package attribution

import (
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestReadPaths(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	js, err := ReadPaths(strings.NewReader("path;total_conversions\nA > B;4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if js[0].Conversions != 4 || js[0].Value != 0 || js[0].Nulls != 0 {
		t.Errorf("%+v", js[0])
	}
}

func TestReadPathsErrors(t *testing.T) {
	t.Parallel()
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

// repeatRows is a path file of n rows cycling over a few distinct paths, produced as it is
// read (nothing the size of the file exists anywhere).
type repeatRows struct {
	n, i int
	buf  []byte
	head bool
}

var repeatPaths = []string{"A > B > C;1;2.5;0\n", "B > B;0;0;1\n", "C;1;1;2\n", "D > A > D > C;0;0;3\n"}

func (r *repeatRows) Read(p []byte) (int, error) {
	if !r.head {
		r.head = true
		r.buf = append(r.buf, "path;total_conversions;total_conversion_value;total_null\n"...)
	}
	for len(r.buf) < len(p) && r.i < r.n {
		r.buf = append(r.buf, repeatPaths[r.i%len(repeatPaths)]...)
		r.i++
	}
	if len(r.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.buf)
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return n, nil
}

// TestReadPathSetMemory: reading a path file allocates for its distinct paths, not for its
// rows: ten times the rows cost no more memory.
func TestReadPathSetMemory(t *testing.T) {
	alloc := func(rows int) (uint64, *Set) {
		src := &repeatRows{n: rows, buf: make([]byte, 0, 4<<20)} // the reader's own buffer is not the parser's
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		set, err := ReadPathSet(src)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc, set
	}
	small, s1 := alloc(20_000)
	big, s2 := alloc(200_000)
	if s1.Len() != len(repeatPaths) || s2.Len() != len(repeatPaths) || s2.Conv[0] != 50_000 || s2.Nulls[3] != 150_000 {
		t.Fatalf("sets: %d and %d paths, conversions %v, nulls %v", s1.Len(), s2.Len(), s2.Conv, s2.Nulls)
	}
	// The 1 MiB read buffer dominates both; the rows themselves must add nothing.
	if big > small+64<<10 {
		t.Errorf("200,000 rows allocated %d bytes, 20,000 rows %d: memory grows with the file", big, small)
	}
}

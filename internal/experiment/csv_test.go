package experiment

import (
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	t.Parallel()
	d, err := ReadCSV(strings.NewReader("\ufeffVariant,unit,value,pre_value,note\nB,u1,12.5,3,x\ncontrol,u2,0,0,\n\nB,u3,7.5,1,y\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != Mean || !d.HasPre || d.Units != 3 || len(d.Arms) != 2 || d.Arms[0].Name != "B" || d.Arms[1].Name != "control" {
		t.Fatalf("data %+v", d)
	}
	if b := d.Arms[0].Moments; b.N != 2 || b.MeanY != 10 || b.MeanX != 2 || b.VarY() != 12.5 {
		t.Fatalf("arm B moments %+v", b)
	}
	d, err = ReadCSV(strings.NewReader("unit,variant,value\n1,a,0\n2,b,1\n3,a,1\n"), "")
	if err != nil || d.Type != Proportion || d.HasPre {
		t.Fatalf("0/1 values: %v %+v", err, d)
	}
	if d, err = ReadCSV(strings.NewReader("unit,variant,value\n1,a,0\n2,b,1\n"), Mean); err != nil || d.Type != Mean {
		t.Fatalf("--metric-type mean on 0/1 values: %v %+v", err, d)
	}
}

func TestReadCSVErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		typ      MetricType
		want     string
	}{
		{"empty", "", "", "the file is empty"},
		{"header", "id,variant,value\n", "", `line 1: the header lacks unit`},
		{"no rows", "unit,variant,value\n", "", "no rows after the header"},
		{"bad rows", "unit,variant,value,pre_value\nu1,a,1,0\nu2,,3,0\nu3,b,abc,0\nu1,b,2,0\nu4,b,2,\nu5,b,NaN,1\nu6,b\n", "",
			"line 3: variant is empty\nline 4: value \"abc\" is not a number\nline 5: unit \"u1\" is already on line 2 (one row per unit)\n" +
				"line 6: pre_value \"\" is empty (use 0 for a unit with no pre-period activity)\nline 7: value \"NaN\" is not a finite number\nline 8: 2 fields where the header has 4"},
		{"proportion", "unit,variant,value\nu1,a,1\nu2,b,2.5\n", Proportion, `line 3: value "2.5": a proportion metric takes 0 or 1 per unit`},
		{"quotes", "unit,variant,value\nu1,a,1\nu2,\"b,2\n", "", "line 3:"},
		{"type", "unit,variant,value\n", "median", `metric type "median"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(c.in), c.typ)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

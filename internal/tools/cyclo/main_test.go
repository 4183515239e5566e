package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"
)

// Each function's complexity worked out by hand from gocyclo's rules.
func TestComplexity(t *testing.T) {
	src := `package p
func straight() {}
func branches(a, b bool, xs []int) {
	if a && b || !a { // if, &&, ||
	}
	for i := 0; i < 3; i++ { // for
	}
	for range xs { // range
	}
	switch { // two cases, default free
	case a:
	case b:
	default:
	}
}
func selects(c chan int) {
	select { // one comm case, default free
	case <-c:
	default:
	}
	f := func() { // a literal counts in its function
		if true {
		}
	}
	f()
}
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"straight": 1, "branches": 8, "selects": 3}
	for _, d := range f.Decls {
		fd := d.(*ast.FuncDecl)
		if got := complexity(fd); got != want[fd.Name.Name] {
			t.Errorf("%s: complexity %d, want %d", fd.Name.Name, got, want[fd.Name.Name])
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fns, err := over(2, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 || fns[0].name != "branches" || fns[1].name != "selects" {
		t.Fatalf("over 2: %+v, want branches then selects from p.go only", fns)
	}
}

// TestNothingOverTheLimit keeps every function of the module at complexity 40 or less
// (docs/HACKING.md): a function that grows past it is split into named steps.
func TestNothingOverTheLimit(t *testing.T) {
	t.Parallel()
	fns, err := over(40, []string{"../../../internal", "../../../cmd"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		t.Errorf("%s (%s) has complexity %d, over 40: split it into named steps", f.name, f.pos, f.c)
	}
}

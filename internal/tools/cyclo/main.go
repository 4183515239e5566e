// Command cyclo lists the functions whose cyclomatic complexity is over a limit, counted
// as gocyclo counts it: 1, plus one for each if, for, range, non-default case and select
// case, && and ||, function literals included in the function that holds them. Test
// files are left out.
//
//	go run ./internal/tools/cyclo [-over 40] internal cmd
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// complexity is fn's cyclomatic complexity.
func complexity(fn ast.Node) int {
	c := 1
	ast.Inspect(fn, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if x.List != nil {
				c++
			}
		case *ast.CommClause:
			if x.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}

// funcComplexity is one function's complexity and where it is.
type funcComplexity struct {
	c    int
	name string
	pos  string
}

// over lists the functions of the Go files under dirs (tests left out) above limit,
// the most complex first.
func over(limit int, dirs []string) ([]funcComplexity, error) {
	var out []funcComplexity
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				if fd, ok := decl.(*ast.FuncDecl); ok {
					if c := complexity(fd); c > limit {
						out = append(out, funcComplexity{c, fd.Name.Name, fmt.Sprintf("%s:%d", p, fset.Position(fd.Pos()).Line)})
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].c > out[j].c })
	return out, nil
}

func main() {
	limit := flag.Int("over", 40, "list functions with a complexity above this")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	fns, err := over(*limit, dirs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cyclo:", err)
		os.Exit(1)
	}
	for _, f := range fns {
		fmt.Println(f.c, f.name, f.pos)
	}
}

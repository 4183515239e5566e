package cli

import (
	"github.com/omniroi/omniroi/internal/attribution"
	"github.com/omniroi/omniroi/internal/mix"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/omniroi/omniroi/internal/store/storetest"
	"github.com/omniroi/omniroi/internal/value"
)

// apiPatternRE matches what reads as an API route: "/api/v1/x" or "GET /api/v1/x".
var apiPatternRE = regexp.MustCompile(`^([A-Z]+ )?/api/v\d+/\S*$`)

// TestRoutesOnlyInTables reads the source of every package for routes mounted outside the
// route tables: a dashboard route registered in internal/web other than from routes()
// (routes.go), or an API pattern that apiRoutes does not declare (a route mounted with
// its own mux in wiring.go, or a new route in a domain package's API mux). Each would
// escape the role checks and TestDashboardRoles/TestAPIRoles; declare it in the table.
func TestRoutesOnlyInTables(t *testing.T) {
	t.Parallel()
	declared := map[string]bool{}
	db := storetest.SQLite(t)
	for _, rt := range apiRoutes(db, mix.NewService(db), attribution.NewService(db), value.NewService(db)) {
		declared[rt.Pattern] = true
	}
	// The mounts that are the tables' own: the API router at /api/ and its 404, the
	// dashboard at /.
	allowed := map[string]string{
		"internal/api/guard.go":  "/api/",
		"internal/cli/wiring.go": "/api/",
		"internal/web/routes.go": "",
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Dir(root), path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		inWeb := strings.HasPrefix(rel, "internal/web/")
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(n.Args) != 2 {
					return true
				}
				pattern := "(computed)"
				if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					pattern, _ = strconv.Unquote(lit.Value)
				}
				if a, ok := allowed[rel]; ok && (pattern == a || (a == "" && pattern == "(computed)")) {
					return true
				}
				if rel == "internal/api/guard.go" && pattern == "(computed)" {
					return true // NewRouter mounting the table
				}
				switch {
				case inWeb:
					t.Errorf("%s: %s mounts %q outside the route table: add it to routes() in internal/web/routes.go with its permission",
						fset.Position(n.Pos()), sel.Sel.Name, pattern)
				case strings.Contains(pattern, "/api/") && !declared[pattern]:
					t.Errorf("%s: %s mounts %q, which apiRoutes (internal/cli/apiroutes.go) does not declare: add it there with its permission",
						fset.Position(n.Pos()), sel.Sel.Name, pattern)
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				if err != nil || !apiPatternRE.MatchString(v) || declared[v] {
					return true
				}
				t.Errorf("%s: %q reads as an API route that apiRoutes does not declare; mount API routes only through the table in internal/cli/apiroutes.go",
					fset.Position(n.Pos()), v)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d Go files under %s: the walk missed the source", files, root)
	}
}

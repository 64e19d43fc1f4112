package doctor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// apiRef is a reference to the module's API in a hint: package.Name or
// package.Type.Member.
var apiRef = regexp.MustCompile(`\b(auth|mcpgo|gosdk|proxy|registration|scopes|metadata|store|authtest)\.([A-Z]\w*)(?:\.([A-Z]\w*))?`)

var packageDirs = map[string]string{"auth": "auth", "mcpgo": "auth/mcpgo", "gosdk": "auth/gosdk", "authtest": "auth/authtest", "proxy": "proxy",
	"registration": "registration", "scopes": "scopes", "metadata": "metadata", "store": "store"}

// exported returns the exported names of the package in dir: top-level
// declarations, and "Type.Member" for methods and struct fields.
func exported(t *testing.T, dir string) map[string]bool {
	fset := token.NewFileSet()
	names := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil && len(d.Recv.List) == 1 {
					typ := d.Recv.List[0].Type
					if s, ok := typ.(*ast.StarExpr); ok {
						typ = s.X
					}
					if id, ok := typ.(*ast.Ident); ok {
						names[id.Name+"."+d.Name.Name] = true
					}
					continue
				}
				names[d.Name.Name] = true
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						names[sp.Name.Name] = true
						if st, ok := sp.Type.(*ast.StructType); ok {
							for _, fld := range st.Fields.List {
								for _, n := range fld.Names {
									names[sp.Name.Name+"."+n.Name] = true
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names
}

// Every hint the doctor prints names only what exists: each API it cites
// (auth.Config.BaselineScopes, mcpgo.Protect, ...) is an exported name of
// that package, and no hint points at a document that is not in the
// repository.
func TestHintsNameRealThings(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]map[string]bool{}
	refs := 0
	for _, pkg := range pkgs {
		ast.Inspect(pkg, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			if strings.Contains(s, "SPEC") || strings.Contains(s, "failure mode") {
				t.Errorf("%s: %q cites a document that is not in the repository", fset.Position(lit.Pos()), s)
			}
			for _, m := range apiRef.FindAllStringSubmatch(s, -1) {
				refs++
				if names[m[1]] == nil {
					names[m[1]] = exported(t, filepath.Join("../..", packageDirs[m[1]]))
				}
				name := m[2]
				if m[3] != "" {
					name += "." + m[3]
				}
				if !names[m[1]][name] {
					t.Errorf("%s: a hint names %s.%s, which package %s does not export", fset.Position(lit.Pos()), m[1], name, m[1])
				}
			}
			return true
		})
	}
	if refs < 5 {
		t.Fatalf("only %d API references found in the hints: the scan is broken", refs)
	}
}

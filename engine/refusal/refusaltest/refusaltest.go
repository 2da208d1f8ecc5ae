// Package refusaltest reads Go source for the refusal codes it constructs,
// for tests that hold the code base, the corpora and the registry of
// engine/refusal/codes.go together. It is used by tests only.
package refusaltest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/statgate/statgate/engine/refusal"
)

// importPath is the package whose codes Scan looks for.
const importPath = "github.com/statgate/statgate/engine/refusal"

// Source is what the non-test Go files under a directory do with refusal
// codes.
type Source struct {
	// Uses maps each code the files name (as refusal.X) to the places
	// ("file:line") that name it.
	Uses map[refusal.Code][]string
	// Problems are constructions that defeat the registry: a
	// refusal.Error literal without a Code, refusal.New or Newf given the
	// zero Code.
	Problems []string
}

// Scan reads the non-test Go files under root, skipping testdata and
// hidden directories and package refusal itself.
func Scan(t testing.TB, root string) Source {
	t.Helper()
	vars := codeVars(t)
	src := Source{Uses: map[refusal.Code][]string{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "refusal" {
			return nil
		}
		pkg := importName(f)
		if pkg == "" {
			return nil
		}
		scanFile(fset, f, pkg, vars, &src)
		return nil
	})
	if err != nil {
		t.Fatalf("refusaltest.Scan(%s): %v", root, err)
	}
	return src
}

// scanFile adds f's uses of the codes and its problems to src; pkg is the
// name f imports package refusal under.
func scanFile(fset *token.FileSet, f *ast.File, pkg string, vars map[string]refusal.Code, src *Source) {
	isRefusal := func(e ast.Expr, sel string) bool {
		s, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		x, ok := s.X.(*ast.Ident)
		return ok && x.Name == pkg && s.Sel.Name == sel
	}
	zeroCode := func(e ast.Expr) bool {
		c, ok := e.(*ast.CompositeLit)
		return ok && isRefusal(c.Type, "Code")
	}
	at := func(n ast.Node) string {
		p := fset.Position(n.Pos())
		return p.Filename + ":" + strconv.Itoa(p.Line)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == pkg {
				if c, ok := vars[n.Sel.Name]; ok {
					src.Uses[c] = append(src.Uses[c], at(n))
				}
			}
		case *ast.CompositeLit:
			if !isRefusal(n.Type, "Error") {
				return true
			}
			hasCode := false
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" && !zeroCode(kv.Value) {
						hasCode = true
					}
				}
			}
			if !hasCode {
				src.Problems = append(src.Problems, at(n)+": a refusal.Error without a Code")
			}
		case *ast.CallExpr:
			if (isRefusal(n.Fun, "New") || isRefusal(n.Fun, "Newf")) && len(n.Args) > 0 && zeroCode(n.Args[0]) {
				src.Problems = append(src.Problems, at(n)+": refusal.New with the zero Code")
			}
		}
		return true
	})
}

// importName returns the name f imports package refusal under, or "".
func importName(f *ast.File) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == importPath {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "refusal"
		}
	}
	return ""
}

// codeVars maps the Go name of every code variable in codes.go to its code.
func codeVars(t testing.TB) map[string]refusal.Code {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("refusaltest: cannot locate its own source")
	}
	path := filepath.Join(filepath.Dir(self), "..", "codes.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]refusal.Code{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, v := range vs.Values {
				call, ok := v.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					continue
				}
				if fn, ok := call.Fun.(*ast.Ident); !ok || fn.Name != "register" {
					continue
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s: register of %s without a literal name", path, vs.Names[i].Name)
				}
				name, _ := strconv.Unquote(lit.Value)
				c, ok := refusal.Lookup(name)
				if !ok {
					t.Fatalf("%s: %s (%q) is not registered", path, vs.Names[i].Name, name)
				}
				vars[vs.Names[i].Name] = c
			}
		}
	}
	if len(vars) != len(refusal.Codes()) {
		t.Fatalf("%s declares %d code variables, the registry holds %d codes", path, len(vars), len(refusal.Codes()))
	}
	return vars
}

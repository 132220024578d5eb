package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// A Use says where one exported identifier of the module is used, so that
// a change to the surface can start from the names nobody outside their
// package needs.
type Use struct {
	Pkg  string // package path relative to the module root ("." for the root)
	Name string // "Name", or "Type.Member" for a method, field or interface method
	Kind string // type, func, var, const, method, field or imethod
	// Class is OWN when only the declaring package (its files and its
	// in-package tests) uses the name, XTEST when its external tests
	// (examples included) do too and no other package does, and EXT when
	// another package of the module uses it.
	Class string
	// Users are the other places that use it, as "pkg:src", "pkg:test"
	// (in-package tests of another package) or "pkg:xtest".
	Users []string
}

// listedPackage is the part of `go list -json` that Uses reads.
type listedPackage struct {
	ImportPath   string
	Dir          string
	Name         string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Export       string
	Module       *struct{ Path string }
}

// usesChecker type-checks the module's packages from source, and every
// other package from the export data `go list -export` built, recording
// every identifier that refers to an object of the module.
type usesChecker struct {
	fset    *token.FileSet
	module  string
	pkgs    map[string]*listedPackage // the module's packages
	exports map[string]string         // export data of the others
	gc      types.Importer
	checked map[string]*types.Package
	// users maps an object, by its declaration's position, to the set of
	// "pkg kind" that refer to it.
	users map[string]map[string]bool
}

// Uses lists every exported identifier the surface counts (see Count),
// with the packages that use it. It runs `go list -export` in root, so
// the module must build.
func Uses(root string) ([]Use, error) {
	c := &usesChecker{fset: token.NewFileSet(), pkgs: map[string]*listedPackage{}, exports: map[string]string{},
		checked: map[string]*types.Package{}, users: map[string]map[string]bool{}}
	if err := c.list(root); err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(c.pkgs))
	for p := range c.pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		c.Import(p)
	}
	for _, p := range paths {
		lp := c.pkgs[p]
		normal := c.checked[p]
		if len(lp.TestGoFiles) > 0 {
			// The external tests import the package with its in-package
			// test files (export_test.go), as go test builds it.
			files := append(append(append([]string{}, lp.GoFiles...), lp.CgoFiles...), lp.TestGoFiles...)
			c.checked[p] = c.check(lp, p, files, "test")
		}
		if len(lp.XTestGoFiles) > 0 {
			c.check(lp, p+"_test", lp.XTestGoFiles, "xtest")
		}
		c.checked[p] = normal
	}
	var out []Use
	for _, p := range paths {
		lp := c.pkgs[p]
		if lp.Name == "main" || strings.Contains(p, "/internal") || strings.Contains(p, "/examples") {
			continue
		}
		out = append(out, c.surface(p)...)
	}
	return out, nil
}

func (c *usesChecker) list(root string) error {
	cmd := exec.Command("go", "list", "-e", "-deps", "-test", "-export", "-json", "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list: %w", err)
	}
	m := exec.Command("go", "list", "-m")
	m.Dir = root
	mod, err := m.Output()
	if err != nil {
		return fmt.Errorf("go list -m: %w", err)
	}
	c.module = strings.TrimSpace(string(mod))
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if strings.Contains(p.ImportPath, " ") || strings.HasSuffix(p.ImportPath, ".test") {
			continue // test variants: checked from source below
		}
		if p.Module != nil && p.Module.Path == c.module {
			c.pkgs[p.ImportPath] = &p
		} else if p.Export != "" {
			c.exports[p.ImportPath] = p.Export
		}
	}
	c.gc = importer.ForCompiler(c.fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := c.exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	return nil
}

// Import implements types.Importer.
func (c *usesChecker) Import(path string) (*types.Package, error) {
	if p, ok := c.checked[path]; ok {
		return p, nil
	}
	lp, ok := c.pkgs[path]
	if !ok {
		return c.gc.Import(path)
	}
	p := c.check(lp, path, append(append([]string{}, lp.GoFiles...), lp.CgoFiles...), "src")
	c.checked[path] = p
	return p, nil
}

func (c *usesChecker) check(lp *listedPackage, path string, names []string, kind string) *types.Package {
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(c.fset, filepath.Join(lp.Dir, n), nil, parser.SkipObjectResolution)
		if err == nil {
			files = append(files, f)
		}
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	// Type errors are tolerated: a test variant can disagree with the
	// normal package another package imports, and what is recorded is
	// still right.
	conf := types.Config{Importer: c, FakeImportC: true, Error: func(error) {}}
	p, _ := conf.Check(path, c.fset, files, info)
	for _, m := range []map[*ast.Ident]types.Object{info.Defs, info.Uses} {
		for _, obj := range m {
			c.record(lp.ImportPath, kind, obj)
		}
	}
	return p
}

func (c *usesChecker) key(obj types.Object) string {
	p := c.fset.Position(obj.Pos())
	return fmt.Sprintf("%s:%d", p.Filename, p.Offset)
}

func (c *usesChecker) record(user, kind string, obj types.Object) {
	if obj == nil || obj.Pkg() == nil || !strings.HasPrefix(obj.Pkg().Path(), c.module) {
		return
	}
	if _, ok := obj.(*types.PkgName); ok {
		return
	}
	k := c.key(obj)
	if c.users[k] == nil {
		c.users[k] = map[string]bool{}
	}
	if obj.Pkg().Path() == user && kind != "xtest" {
		return // the package itself, or its in-package tests
	}
	c.users[k][user+" "+kind] = true
}

// surface lists the exported identifiers of one package as Count counts
// them, each with its users.
func (c *usesChecker) surface(path string) []Use {
	tp := c.checked[path]
	if tp == nil {
		return nil
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(path, c.module), "/")
	if rel == "" {
		rel = "."
	}
	var out []Use
	add := func(name, kind string, obj types.Object) {
		u := Use{Pkg: rel, Name: name, Kind: kind, Class: "OWN"}
		for who := range c.users[c.key(obj)] {
			pkg, kind, _ := strings.Cut(who, " ")
			if pkg == path && kind == "xtest" {
				u.Users = append(u.Users, rel+":xtest")
				if u.Class == "OWN" {
					u.Class = "XTEST"
				}
				continue
			}
			short := strings.TrimPrefix(strings.TrimPrefix(pkg, c.module), "/")
			u.Users = append(u.Users, short+":"+kind)
			u.Class = "EXT"
		}
		sort.Strings(u.Users)
		out = append(out, u)
	}
	scope := tp.Scope()
	for _, n := range scope.Names() {
		o := scope.Lookup(n)
		if !o.Exported() {
			continue
		}
		kind := "func"
		switch o.(type) {
		case *types.TypeName:
			kind = "type"
		case *types.Var:
			kind = "var"
		case *types.Const:
			kind = "const"
		}
		add(n, kind, o)
		tn, ok := o.(*types.TypeName)
		if !ok {
			continue
		}
		named, ok := tn.Type().(*types.Named)
		if !ok {
			continue
		}
		for i := 0; i < named.NumMethods(); i++ {
			if m := named.Method(i); m.Exported() {
				add(n+"."+m.Name(), "method", m)
			}
		}
		switch u := named.Underlying().(type) {
		case *types.Struct:
			for i := 0; i < u.NumFields(); i++ {
				if f := u.Field(i); f.Exported() {
					add(n+"."+f.Name(), "field", f)
				}
			}
		case *types.Interface:
			for i := 0; i < u.NumExplicitMethods(); i++ {
				if m := u.ExplicitMethod(i); m.Exported() {
					add(n+"."+m.Name(), "imethod", m)
				}
			}
		}
	}
	return out
}

// writeUses prints one line per identifier: class, package, name, kind
// and users, tab-separated, most private first.
func writeUses(w io.Writer, uses []Use) {
	rank := map[string]int{"OWN": 0, "XTEST": 1, "EXT": 2}
	sort.SliceStable(uses, func(i, j int) bool {
		if rank[uses[i].Class] != rank[uses[j].Class] {
			return rank[uses[i].Class] < rank[uses[j].Class]
		}
		if uses[i].Pkg != uses[j].Pkg {
			return uses[i].Pkg < uses[j].Pkg
		}
		return uses[i].Name < uses[j].Name
	})
	for _, u := range uses {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Class, u.Pkg, u.Name, u.Kind, strings.Join(u.Users, ","))
	}
}

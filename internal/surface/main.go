// Command surface counts the exported API of every package in the module, so
// that a change to the public surface is measured rather than guessed.
//
// Usage, from the module root:
//
//	go run ./internal/surface [-root dir]
//
// For each importable package (internal/, examples/ and main packages are
// skipped) it prints the number of exported top-level identifiers (types,
// functions, variables and constants), exported methods of exported types,
// exported fields of exported struct types, and methods of exported interface
// types, counted over the package's non-test files. The last column is their
// sum; the last row sums every package.
//
// With -uses it prints instead, for every identifier it counts, who uses
// it: OWN (its own package and in-package tests alone), XTEST (its
// external tests and examples too) or EXT (another package of the module),
// with the users. That is where a cut of the surface starts: an OWN name
// that is no capability of the package's users can be unexported. It
// type-checks the whole module, tests included, from `go list -export`.
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
	"text/tabwriter"
)

func main() {
	root := flag.String("root", ".", "module root")
	uses := flag.Bool("uses", false, "print who uses each exported identifier")
	flag.Parse()
	if *uses {
		u, err := Uses(*root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "surface:", err)
			os.Exit(1)
		}
		writeUses(os.Stdout, u)
		return
	}
	counts, err := Count(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "surface:", err)
		os.Exit(1)
	}
	write(os.Stdout, counts)
}

// Counts is the exported surface of one package.
type Counts struct {
	Dir        string
	TopLevel   int // exported types, funcs, vars, consts
	Methods    int // exported methods on exported types
	Fields     int // exported fields of exported struct types
	IfaceMeths int // methods of exported interfaces
}

// Total is the sum of every column.
func (c Counts) Total() int { return c.TopLevel + c.Methods + c.Fields + c.IfaceMeths }

// Count walks root and counts every importable package below it.
func Count(root string) ([]Counts, error) {
	var out []Counts
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" ||
			base == "internal" || base == "examples" || base == "vendor") {
			return filepath.SkipDir
		}
		c, ok, err := countDir(path)
		if err != nil {
			return err
		}
		if ok {
			c.Dir = filepath.ToSlash(rel)
			out = append(out, c)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, err
}

func countDir(dir string) (Counts, bool, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Counts{}, false, err
	}
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return Counts{}, false, err
		}
		if f.Name.Name == "main" || ignored(f) {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return Counts{}, false, nil
	}
	var c Counts
	exportedTypes := map[string]bool{}
	for _, f := range files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range g.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					c.TopLevel++
					exportedTypes[s.Name.Name] = true
					switch t := s.Type.(type) {
					case *ast.StructType:
						c.Fields += exportedFields(t.Fields)
					case *ast.InterfaceType:
						for _, m := range t.Methods.List {
							for _, n := range m.Names {
								if n.IsExported() {
									c.IfaceMeths++
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							c.TopLevel++
						}
					}
				}
			}
		}
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() {
				continue
			}
			if fn.Recv == nil {
				c.TopLevel++
				continue
			}
			if exportedTypes[recvName(fn.Recv.List[0].Type)] {
				c.Methods++
			}
		}
	}
	return c, true, nil
}

// ignored reports whether a file is excluded by a build constraint that no
// ordinary build satisfies ("//go:build ignore").
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:build") && strings.Contains(c.Text, "ignore") {
				return true
			}
		}
	}
	return false
}

func exportedFields(fl *ast.FieldList) int {
	n := 0
	for _, f := range fl.List {
		if len(f.Names) == 0 { // embedded: counts when the embedded type is exported
			if ast.IsExported(recvName(f.Type)) {
				n++
			}
			continue
		}
		for _, name := range f.Names {
			if name.IsExported() {
				n++
			}
		}
	}
	return n
}

func recvName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.SelectorExpr:
			return t.Sel.Name
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}

func write(w *os.File, counts []Counts) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\ttop-level\tmethods\tfields\tiface methods\ttotal\t")
	var sum Counts
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", c.Dir, c.TopLevel, c.Methods, c.Fields, c.IfaceMeths, c.Total())
		sum.TopLevel += c.TopLevel
		sum.Methods += c.Methods
		sum.Fields += c.Fields
		sum.IfaceMeths += c.IfaceMeths
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%d\t%d\t\n", sum.TopLevel, sum.Methods, sum.Fields, sum.IfaceMeths, sum.Total())
	tw.Flush()
}

package modelstream

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestDocLinks fails on a doc link that godoc cannot resolve: a "[Name]",
// "[Type.Method]" or "[pkg.Name]" in the documentation of an exported
// name (or of a package) that names nothing, names something unexported,
// or names a package the file does not import. go vet does not check
// them, and godoc quietly prints such a link as plain text in brackets.
func TestDocLinks(t *testing.T) {
	pkgs := loadDocPackages(t)
	var broken []string
	for _, dp := range pkgs {
		for _, text := range docTexts(dp.pkg) {
			for _, bad := range brokenLinks(dp.pkg.Parser(), text.doc, pkgs) {
				broken = append(broken, dp.rel+": "+text.where+": "+bad)
			}
		}
	}
	sort.Strings(broken)
	for _, b := range broken {
		t.Error(b)
	}
}

// docPackage is one package of the module, read as godoc reads it.
type docPackage struct {
	rel string // path relative to the module root, "." for the root
	pkg *doc.Package
	// syms holds every exported name godoc shows, as "Name" and
	// "Type.Member" (methods, and fields of struct types).
	syms map[string]bool
}

func loadDocPackages(t *testing.T) map[string]*docPackage {
	t.Helper()
	out := map[string]*docPackage{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		fset := token.NewFileSet()
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		var files []*ast.File
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(path, n), nil, parser.ParseComments)
			if err != nil {
				return err
			}
			if buildIgnored(f) {
				continue
			}
			files = append(files, f)
		}
		if len(files) == 0 {
			return nil
		}
		importPath := module
		if path != "." {
			importPath += "/" + filepath.ToSlash(path)
		}
		p, err := doc.NewFromFiles(fset, files, importPath)
		if err != nil {
			return err
		}
		out[importPath] = &docPackage{rel: filepath.ToSlash(path), pkg: p, syms: exportedSyms(p, files)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func buildIgnored(f *ast.File) bool {
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

func exportedSyms(p *doc.Package, files []*ast.File) map[string]bool {
	syms := map[string]bool{}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				syms[n] = true
			}
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			syms[f.Name] = true
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs(p.Funcs)
	for _, typ := range p.Types {
		syms[typ.Name] = true
		values(typ.Consts)
		values(typ.Vars)
		funcs(typ.Funcs)
		for _, m := range typ.Methods {
			syms[typ.Name+"."+m.Name] = true
		}
	}
	// Fields and interface methods, which doc.Package does not list.
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			var fl *ast.FieldList
			switch typ := ts.Type.(type) {
			case *ast.StructType:
				fl = typ.Fields
			case *ast.InterfaceType:
				fl = typ.Methods
			}
			if fl == nil {
				return false
			}
			for _, field := range fl.List {
				for _, name := range field.Names {
					syms[ts.Name.Name+"."+name.Name] = true
				}
				if len(field.Names) == 0 { // embedded
					e := field.Type
					if s, ok := e.(*ast.StarExpr); ok {
						e = s.X
					}
					switch e := e.(type) {
					case *ast.Ident:
						syms[ts.Name.Name+"."+e.Name] = true
					case *ast.SelectorExpr:
						syms[ts.Name.Name+"."+e.Sel.Name] = true
					}
				}
			}
			return false
		})
	}
	return syms
}

type docText struct{ where, doc string }

// docTexts lists the comments godoc renders for p: the package comment and
// the doc of every exported name.
func docTexts(p *doc.Package) []docText {
	out := []docText{{"package doc", p.Doc}}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			out = append(out, docText{strings.Join(v.Names, ", "), v.Doc})
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			out = append(out, docText{prefix + f.Name, f.Doc})
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs("", p.Funcs)
	for _, typ := range p.Types {
		out = append(out, docText{typ.Name, typ.Doc})
		values(typ.Consts)
		values(typ.Vars)
		funcs("", typ.Funcs)
		funcs(typ.Name+".", typ.Methods)
	}
	return out
}

// linkLike matches what could be meant as a doc link: an identifier, or
// two or three dotted ones, in brackets, with an optional star.
var linkLike = regexp.MustCompile(`\[\*?([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*){0,2}\]`)

// brokenLinks parses text as godoc does and returns each link-like span
// that did not become a doc link, and each doc link into this module that
// names no exported symbol.
func brokenLinks(p *comment.Parser, text string, pkgs map[string]*docPackage) []string {
	var bad []string
	var walk func(ts []comment.Text)
	walk = func(ts []comment.Text) {
		for _, x := range ts {
			switch x := x.(type) {
			case comment.Plain:
				s := string(x)
				for _, m := range linkLike.FindAllStringIndex(s, -1) {
					if linkBoundary(s[:m[0]], s[m[1]:]) {
						bad = append(bad, s[m[0]:m[1]]+" resolves to nothing")
					}
				}
			case comment.Italic:
				walk([]comment.Text{comment.Plain(x)})
			case *comment.Link:
				walk(x.Text)
			case *comment.DocLink:
				dp, ok := pkgs[x.ImportPath]
				if !ok {
					continue // another module or the standard library
				}
				name := x.Name
				if x.Recv != "" {
					name = x.Recv + "." + x.Name
				}
				if name != "" && !dp.syms[name] {
					bad = append(bad, "["+x.ImportPath+"."+name+"] names no exported symbol")
				}
			}
		}
	}
	var blocks func(bs []comment.Block)
	blocks = func(bs []comment.Block) {
		for _, b := range bs {
			switch b := b.(type) {
			case *comment.Paragraph:
				walk(b.Text)
			case *comment.Heading:
				walk(b.Text)
			case *comment.List:
				for _, it := range b.Items {
					blocks(it.Content)
				}
			}
		}
	}
	blocks(p.Parse(text).Content)
	return bad
}

// linkBoundary reports whether a bracketed span between before and after
// sits where godoc would take it for a link: after and before punctuation
// or space. An index ("v[i]", "f()[i]", "m[k][j]") is not meant as one.
func linkBoundary(before, after string) bool {
	ok := func(r rune) bool { return unicode.IsPunct(r) || r == ' ' || r == '\t' || r == '\n' }
	if before != "" {
		if r, _ := utf8.DecodeLastRuneInString(before); !ok(r) || r == ')' || r == ']' {
			return false
		}
	}
	if after != "" {
		if r, _ := utf8.DecodeRuneInString(after); !ok(r) {
			return false
		}
	}
	return true
}

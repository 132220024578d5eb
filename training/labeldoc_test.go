package training

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLabelTriggerDocNamesEveryTrigger: LabelTrigger's doc lists the
// values the label takes, which are the Trigger constants. It listed
// four of five: "live_drift", which a version published for a drift
// report (Trainer.ReportDrift) carries, was missing.
func TestLabelTriggerDocNamesEveryTrigger(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var doc string
	var triggers []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			g, ok := n.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				return true
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if name.Name == "LabelTrigger" {
						doc = vs.Doc.Text()
					}
					if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Trigger" && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
							v, _ := strconv.Unquote(lit.Value)
							triggers = append(triggers, v)
						}
					}
				}
			}
			return false
		})
	}
	if doc == "" || len(triggers) < 5 {
		t.Fatalf("found LabelTrigger's doc %q and the triggers %q", doc, triggers)
	}
	for _, tr := range triggers {
		if !strings.Contains(doc, strconv.Quote(tr)) {
			t.Errorf("LabelTrigger's doc does not name the trigger %q: %q", tr, doc)
		}
	}
}

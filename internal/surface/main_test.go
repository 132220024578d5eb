package main

import (
	"os"
	"path/filepath"
	"testing"

	"strings"
)

func TestCount(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "p")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := `package p

type T struct{ A, b int; C string; Embedded }
type Embedded struct{}
type u struct{ X int }
type I interface{ M(); n() }
const K, k = 1, 2
var V int
func F() {}
func (T) Exported() {}
func (T) unexported() {}
func (u) Hidden() {}
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\nfunc Test() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Count(root)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Dir: "p", TopLevel: 6, Methods: 1, Fields: 3, IfaceMeths: 1}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("Count = %+v, want [%+v]", got, want)
	}
}

func TestUses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list -export")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod":      "module example.com/m\n\ngo 1.22\n",
		"a/a.go":      "package a\n\ntype T struct{ Used, Own int }\n\nfunc X() {}\nfunc Y() {}\nfunc Z() {}\n",
		"a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestY(t *testing.T) { Y(); _ = T{}.Own }\n",
		"a/x_test.go": "package a_test\n\nimport (\n\t\"testing\"\n\n\t\"example.com/m/a\"\n)\n\nfunc TestZ(t *testing.T) { a.Z() }\n",
		"b/b.go":      "package b\n\nimport \"example.com/m/a\"\n\nfunc B() int { a.X(); return a.T{}.Used }\n",
	}
	for name, src := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uses, err := Uses(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range uses {
		got[u.Pkg+" "+u.Name] = u.Class + " " + strings.Join(u.Users, ",")
	}
	want := map[string]string{
		"a T":      "EXT b:src",
		"a T.Used": "EXT b:src",
		"a T.Own":  "OWN ",
		"a X":      "EXT b:src",
		"a Y":      "OWN ",
		"a Z":      "XTEST a:xtest",
		"b B":      "OWN ",
	}
	if len(got) != len(want) {
		t.Errorf("Uses listed %d identifiers, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
}

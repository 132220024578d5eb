package main

import (
	"os"
	"path/filepath"
	"testing"
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

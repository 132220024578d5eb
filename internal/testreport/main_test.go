package main

import (
	"strings"
	"testing"
)

const stream = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: needs the wine data\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"p","Elapsed":0.5}
{"Action":"pass","Package":"q","Elapsed":0.1}
`

func TestReportCountsSkipsAndFailures(t *testing.T) {
	r, err := read(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if r.print(&out) {
		t.Fatal("a stream with a failed test reported success")
	}
	got := out.String()
	for _, want := range []string{
		"FAIL\tp\t0.500s",
		"ok  \tq\t0.100s",
		"--- FAIL: p TestB",
		"b_test.go:3: boom",
		"== 1 skipped tests",
		"SKIP p TestA: a_test.go:9: needs the wine data",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

func TestReportEmptyStreamFails(t *testing.T) {
	r, err := read(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if r.print(&out) {
		t.Fatal("an empty stream reported success")
	}
}

func TestReportBuildErrorFails(t *testing.T) {
	r, err := read(strings.NewReader("# p\n./x.go:1: syntax error\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if r.print(&out) {
		t.Fatal("build errors reported success")
	}
}

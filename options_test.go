package modelstream_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMisplacedOptionsDoNotCompile: each constructor takes options of its
// own type, so an option passed to a constructor it does not belong to
// (a Sink's to a Source, a Source's to the shared Config, a Budget's to a
// Split) fails to compile, as in franz-go's kgo, instead of being ignored
// or refused at run time. testdata/misplaced makes one such mistake per
// line marked "misplaced"; the build must fail with exactly one error on
// each of those lines and no other error, so an option renamed or
// removed (an "undefined" error, or a line that compiles) fails here.
func TestMisplacedOptionsDoNotCompile(t *testing.T) {
	const file = "testdata/misplaced/main.go"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{} // line -> seen
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), "// misplaced:") {
			want[n] = false
		}
	}
	if len(want) < 5 {
		t.Fatalf("%s marks %d misplaced lines", file, len(want))
	}
	// -e: every error, not the first ten.
	out, err := exec.Command("go", "build", "-gcflags=-e", "-o", os.DevNull, "./testdata/misplaced").CombinedOutput()
	if err == nil {
		t.Fatalf("%s compiled: a misplaced option was accepted", file)
	}
	at := regexp.MustCompile(`main\.go:(\d+):\d+: (.*)`)
	for _, m := range at.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		seen, marked := want[n]
		switch {
		case !marked:
			t.Errorf("%s:%d: an error on a line not marked misplaced: %s", file, n, m[2])
		case seen:
			t.Errorf("%s:%d: a second error: %s", file, n, m[2])
		case !strings.HasPrefix(m[2], "cannot use "):
			t.Errorf("%s:%d: not a misplaced option's error: %s", file, n, m[2])
		}
		want[n] = true
	}
	for n, seen := range want {
		if !seen {
			t.Errorf("%s:%d compiles: that option is accepted where it does not belong", file, n)
		}
	}
	if t.Failed() {
		t.Logf("go build said:\n%s", out)
	}
}

// Command testreport reads the output of `go test -json` on stdin and
// prints what CI needs to see: each package's result, the full output of
// every failed test or package, and every skipped test with its reason,
// followed by the count of skips. It exits 1 when anything failed, or
// when the stream holds no test event at all (so that a broken pipeline
// cannot pass).
//
//	go test -json ./... | go run ./internal/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of test2json output.
type event struct {
	Action     string
	ImportPath string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
}

type key struct{ pkg, test string }

type report struct {
	outputs map[key]*strings.Builder
	skips   []skip
	failed  []key
	pkgs    []string
	pkgLine map[string]string
	events  int
}

type skip struct {
	key
	reason string
}

func main() {
	r, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if !r.print(os.Stdout) {
		os.Exit(1)
	}
}

func read(in io.Reader) (*report, error) {
	r := &report{outputs: map[key]*strings.Builder{}, pkgLine: map[string]string{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Build errors and other non-JSON lines: show them as they are.
			fmt.Println(string(line))
			r.failed = append(r.failed, key{pkg: "(build)", test: string(line)})
			continue
		}
		r.events++
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			b := r.outputs[k]
			if b == nil {
				b = &strings.Builder{}
				r.outputs[k] = b
			}
			b.WriteString(e.Output)
		case "build-output":
			fmt.Print(e.Output)
		case "skip":
			if e.Test != "" {
				r.skips = append(r.skips, skip{k, skipReason(r.outputs[k])})
			}
			if e.Test == "" {
				r.pkgLine[e.Package] = fmt.Sprintf("?   \t%s\t[no test files]", e.Package)
				r.pkgs = append(r.pkgs, e.Package)
			}
		case "fail":
			r.failed = append(r.failed, k)
			if e.Test == "" {
				r.pkgLine[e.Package] = fmt.Sprintf("FAIL\t%s\t%.3fs", e.Package, e.Elapsed)
				r.pkgs = append(r.pkgs, e.Package)
			}
		case "pass":
			if e.Test == "" {
				r.pkgLine[e.Package] = fmt.Sprintf("ok  \t%s\t%.3fs", e.Package, e.Elapsed)
				r.pkgs = append(r.pkgs, e.Package)
			}
		}
	}
	return r, sc.Err()
}

// skipReason extracts the message a test gave t.Skip: the lines after
// the "=== RUN" header, minus the "--- SKIP" line itself.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "(no reason given)"
	}
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return "(no reason given)"
	}
	return strings.Join(out, " | ")
}

// print writes the report and says whether everything passed.
func (r *report) print(w io.Writer) bool {
	for _, p := range r.pkgs {
		fmt.Fprintln(w, r.pkgLine[p])
	}
	for _, k := range r.failed {
		if k.pkg == "(build)" {
			continue
		}
		name := k.pkg
		if k.test != "" {
			name += " " + k.test
		}
		fmt.Fprintf(w, "\n--- FAIL: %s\n", name)
		if b := r.outputs[k]; b != nil {
			fmt.Fprint(w, b.String())
		}
	}
	sort.Slice(r.skips, func(i, j int) bool {
		if r.skips[i].pkg != r.skips[j].pkg {
			return r.skips[i].pkg < r.skips[j].pkg
		}
		return r.skips[i].test < r.skips[j].test
	})
	fmt.Fprintf(w, "\n== %d skipped tests\n", len(r.skips))
	for _, s := range r.skips {
		fmt.Fprintf(w, "SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
	ok := len(r.failed) == 0 && r.events > 0
	if r.events == 0 {
		fmt.Fprintln(w, "testreport: no test events read")
	}
	return ok
}

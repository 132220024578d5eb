package leaves_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The tests read the model files, inputs and true predictions that the
// leaves module ships in its testdata folder: models trained by LightGBM,
// XGBoost and scikit-learn, with predictions made by those libraries.

// findLeavesTestdata locates the leaves module's testdata folder with
// go list, once per test binary.
var findLeavesTestdata = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/dmitryikh/leaves").Output()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
})

// leavesTestdata returns the leaves module's testdata folder, or skips tb
// when the module is not in the module cache (go list cannot find it).
func leavesTestdata(tb testing.TB) string {
	tb.Helper()
	dir, err := findLeavesTestdata()
	if err != nil {
		tb.Skipf("leaves module testdata not found (go list -m github.com/dmitryikh/leaves: %v); run go mod download", err)
	}
	return dir
}

// readFile reads a file from the leaves testdata folder.
func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(leavesTestdata(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// readTable reads rows of numbers separated by tabs, spaces or commas,
// dropping the first column when skipFirst is set (a label column).
func readTable(tb testing.TB, name string, skipFirst bool) [][]float64 {
	tb.Helper()
	var rows [][]float64
	sc := bufio.NewScanner(bytes.NewReader(readFile(tb, name)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.FieldsFunc(sc.Text(), func(r rune) bool { return r == '\t' || r == ' ' || r == ',' })
		if len(f) == 0 {
			continue
		}
		if skipFirst {
			f = f[1:]
		}
		row := make([]float64, len(f))
		for i, s := range f {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// readLibsvm reads a libsvm file ("label idx:value ...", 0-based or
// 1-based indexes as written) into dense rows of the given width. Absent
// entries get fill: NaN ("missing") for XGBoost trees, 0 for LightGBM,
// sklearn and gblinear, as leaves' own sparse prediction does.
func readLibsvm(tb testing.TB, name string, width int, fill float64) [][]float64 {
	tb.Helper()
	var rows [][]float64
	sc := bufio.NewScanner(bytes.NewReader(readFile(tb, name)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		row := make([]float64, width)
		for i := range row {
			row[i] = fill
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				tb.Fatalf("%s: bad pair %q", name, kv)
			}
			j, err1 := strconv.Atoi(k)
			x, err2 := strconv.ParseFloat(v, 64)
			if err1 != nil || err2 != nil || j < 0 || j >= width {
				tb.Fatalf("%s: bad pair %q for width %d", name, kv, width)
			}
			row[j] = x
		}
		rows = append(rows, row)
	}
	return rows
}

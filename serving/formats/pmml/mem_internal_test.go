package pmml

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// parseMem parses doc and returns the bytes the parse allocated in all
// (TotalAlloc) and the bytes its tree keeps live after a collection.
func parseMem(t testing.TB, doc []byte) (total, live uint64, err error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	root, err := parseXML(doc)
	runtime.ReadMemStats(&after)
	total = after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > before.HeapAlloc {
		live = after.HeapAlloc - before.HeapAlloc
	}
	runtime.KeepAlive(root)
	return total, live, err
}

// TestParseMemoryBound parses documents made to cost the parser the most
// memory per byte. Before the tree was bounded by the document's size and
// ignorable subtrees were skipped, 200k empty elements under <PMML> (800 KB)
// kept 22 times the document's size live and allocated 55 times it in
// all, as did the same elements inside <Extension> or <Header>.
func TestParseMemoryBound(t *testing.T) {
	const n = 200_000
	empty := strings.Repeat("<a/>", n)
	for _, c := range []struct {
		name    string
		doc     string
		refused bool
		live    float64 // the most live heap allowed, per document byte
		total   float64 // the most allocation allowed, per document byte
	}{
		// Elements of 4 bytes, 3 times over the element budget: refused.
		{"flat", "<PMML>" + empty + "</PMML>", true, 1, 35},
		{"deep", "<PMML>" + strings.Repeat(strings.Repeat("<a>", 1000)+strings.Repeat("</a>", 1000), n/1000) + "</PMML>", true, 1, 35},
		// Ignorable subtrees are read past, not kept.
		{"extension", "<PMML><Extension>" + empty + "</Extension></PMML>", false, 1, 35},
		{"header", "<PMML><Header><Annotation>" + empty + "</Annotation></Header></PMML>", false, 1, 35},
		{"nested extension", "<PMML><DataDictionary><DataField><Extension>" + empty + "</Extension></DataField></DataDictionary></PMML>", false, 1, 35},
		// The densest documents within the budget.
		{"padded", "<PMML>" + strings.Repeat("<a/>        ", n) + "</PMML>", false, 10, 35},
		// 100 attributes per element, named as shortly as distinct names
		// allow (an element may not repeat one).
		{"attributes", "<PMML>" + strings.Repeat("<a "+shortAttrs(100)+"/>", n/100) + "</PMML>", false, 10, 60},
	} {
		total, live, err := parseMem(t, []byte(c.doc))
		perByte := func(x uint64) float64 { return float64(x) / float64(len(c.doc)) }
		t.Logf("%-16s %8d bytes: live %5.1f×, total %5.1f× the document; err=%v", c.name, len(c.doc), perByte(live), perByte(total), err)
		if c.refused {
			var de *docError
			if !errors.As(err, &de) || de.unsupported || !strings.Contains(err.Error(), "one per 12 bytes") {
				t.Errorf("%s: err = %v, want corrupt naming the element limit", c.name, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if perByte(live) > c.live || perByte(total) > c.total {
			t.Errorf("%s: live %.1f×, total %.1f× the document, want at most %v× and %v×", c.name, perByte(live), perByte(total), c.live, c.total)
		}
	}
}

// shortAttrs returns n empty attributes with the shortest distinct names:
// one letter, then two.
func shortAttrs(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for i := range n {
		if i < len(letters) {
			b.WriteByte(letters[i])
		} else {
			b.WriteByte(letters[(i-len(letters))/len(letters)])
			b.WriteByte(letters[(i-len(letters))%len(letters)])
		}
		b.WriteString(`="" `)
	}
	return b.String()
}

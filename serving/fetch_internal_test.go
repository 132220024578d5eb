package serving

import (
	"net/url"
	"testing"
)

// FuzzUnescapeLoosely: unescapeLoosely decodes as url.PathUnescape does
// wherever that succeeds, and otherwise keeps each "%" that starts no
// escape, so that looseDots judges what a lenient decoder reads.
func FuzzUnescapeLoosely(f *testing.F) {
	for _, s := range []string{"%2e%2e", "%2E%2e;%zz", "..%", "%%2e", "a%2", "%252e", "m%20v1", "%zz%2f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := unescapeLoosely(s)
		if want, err := url.PathUnescape(s); err == nil && got != want {
			t.Fatalf("unescapeLoosely(%q) = %q, url.PathUnescape = %q", s, got, want)
		}
		if len(got) > len(s) {
			t.Fatalf("unescapeLoosely(%q) = %q, longer", s, got)
		}
	})
}

func TestUnescapeLooselyKeepsStrayPercents(t *testing.T) {
	for in, want := range map[string]string{
		"%2e%2e;%zz": "..;%zz",
		"%2E%2e%":    "..%",
		"%%2e":       "%.",
		"a%2":        "a%2",
		"100%":       "100%",
		"no escape":  "no escape",
	} {
		if got := unescapeLoosely(in); got != want {
			t.Errorf("unescapeLoosely(%q) = %q, want %q", in, got, want)
		}
	}
}

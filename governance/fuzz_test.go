package governance

import (
	"bytes"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// FuzzSigningPayloadIsInjective checks that two different (name,
// version, format, sha256, labels) tuples never share a payload, so a
// signature for one model can never be valid for another.
func FuzzSigningPayloadIsInjective(f *testing.F) {
	f.Add("ab", "c", uint64(1), "a", "bc", uint64(1), []byte("x"), []byte("x"), "", "", "", "")
	f.Add("m", "linear", uint64(2), "m", "linear", uint64(3), []byte("x"), []byte("x"), "", "", "", "")
	f.Add("m", "f", uint64(1), "m", "f", uint64(1), []byte("x"), []byte("y"), "", "", "", "")
	f.Add("m", "f", uint64(1), "m", "f", uint64(1), []byte("x"), []byte("x"), "ab", "c", "a", "bc")
	f.Add("m", "f", uint64(1), "m", "f", uint64(1), []byte("x"), []byte("x"), "leaves.transform", "raw", "", "")
	f.Fuzz(func(t *testing.T, n1, f1 string, v1 uint64, n2, f2 string, v2 uint64, b1, b2 []byte, k1, l1, k2, l2 string) {
		labels := func(k, v string) map[string]string {
			if k == "" {
				return nil
			}
			return map[string]string{k: v}
		}
		d1 := serving.Descriptor{Name: n1, Format: f1, Version: v1, Bytes: b1, Labels: labels(k1, l1)}
		d2 := serving.Descriptor{Name: n2, Format: f2, Version: v2, Bytes: b2, Labels: labels(k2, l2)}
		p1, err1 := SigningPayload(d1)
		p2, err2 := SigningPayload(d2)
		if err1 != nil || err2 != nil {
			return
		}
		sameLabels := (k1 == "" && k2 == "") || (k1 == k2 && l1 == l2 && k1 != "")
		same := n1 == n2 && f1 == f2 && v1 == v2 && serving.ContentID(b1) == serving.ContentID(b2) && sameLabels
		if same != bytes.Equal(p1, p2) {
			t.Fatalf("tuples equal=%v but payloads equal=%v", same, bytes.Equal(p1, p2))
		}
	})
}

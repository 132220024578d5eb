package wire_test

import (
	"reflect"
	"testing"

	"github.com/modelstream/modelstream/serving/wire"
)

// FuzzParseProvenanceHeaders checks that any headers parse without
// panicking, and that what parses re-encodes to the same provenance.
func FuzzParseProvenanceHeaders(f *testing.F) {
	f.Add("fraud", "3", "abc", "linear", `{"combinator":"budget","winner":0,"candidates":[]}`)
	f.Add("", "x", "", "", "{")
	f.Fuzz(func(t *testing.T, name, version, id, format, decision string) {
		hs := []wire.Header{
			{Key: []byte(wire.HeaderModel), Value: []byte(name)},
			{Key: []byte(wire.HeaderVersion), Value: []byte(version)},
			{Key: []byte(wire.HeaderID), Value: []byte(id)},
			{Key: []byte(wire.HeaderFormat), Value: []byte(format)},
			{Key: []byte(wire.HeaderDecision), Value: []byte(decision)},
		}
		p, err := wire.ProvenanceOf(hs, nil)
		if err != nil {
			return
		}
		again, err := wire.ProvenanceOf(wire.ProvenanceHeaders(p), nil)
		if err != nil || !reflect.DeepEqual(again.Model, p.Model) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", p.Model, again.Model, err)
		}
	})
}

// FuzzDecodeModel checks that any message decodes without panicking, and
// that what decodes re-encodes to the same descriptor.
func FuzzDecodeModel(f *testing.F) {
	f.Add([]byte("fraud"), []byte("{}"), "linear", "3", "2026-11-25T16:53:44Z", "AQID")
	f.Add([]byte(""), []byte(""), "", "0", "x", "!!")
	f.Fuzz(func(t *testing.T, key, value []byte, format, version, created, sig string) {
		m := wire.Message{Key: key, Value: value, Headers: []wire.Header{
			{Key: []byte(wire.HeaderFormat), Value: []byte(format)},
			{Key: []byte(wire.HeaderVersion), Value: []byte(version)},
			{Key: []byte(wire.HeaderCreated), Value: []byte(created)},
			{Key: []byte(wire.HeaderSignature), Value: []byte(sig)},
		}}
		d, err := wire.DecodeModel(m, 1<<10)
		if err != nil {
			return
		}
		m2, err := wire.EncodeModel(d, 1<<10)
		if err != nil {
			t.Fatalf("decoded %+v but cannot re-encode it: %v", d, err)
		}
		d2, err := wire.DecodeModel(m2, 1<<10)
		if err != nil || d2.Name != d.Name || d2.Version != d.Version || d2.Format != d.Format || !d2.Created.Equal(d.Created) || string(d2.Signature) != string(d.Signature) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", d, d2, err)
		}
	})
}

package wire_test

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/modelstream/modelstream/serving"
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

// FuzzProvenanceHeader checks that any value of modelstream.provenance
// parses without panicking; that what parses re-encodes to a value that
// parses the same; and that any model reference, escaped by the writer,
// reads back unchanged, beside legacy headers that agree with it.
func FuzzProvenanceHeader(f *testing.F) {
	f.Add([]byte("fraud/3/9f2c/linear"), "fraud", uint64(3), "9f2c", "linear")
	f.Add([]byte("risk%2feu/02//%4C/later"), "risk/eu", uint64(0), "", "")
	f.Add([]byte("%/1//"), "a b%2F\x00\xff", uint64(1<<63), "/", "%")
	f.Add([]byte("m/18446744073709551616//"), "", uint64(1), "", "")
	f.Fuzz(func(t *testing.T, value []byte, name string, version uint64, id, format string) {
		hs := []wire.Header{{Key: []byte(wire.HeaderProvenance), Value: value}}
		p, err := wire.ProvenanceOf(hs, nil)
		switch {
		case errors.Is(err, wire.ErrMalformed):
		case err != nil:
			t.Fatalf("%q: %v, want nil or ErrMalformed", value, err)
		default:
			again := wire.ProvenanceHeaders(p)
			q, err := wire.ProvenanceOf(again, nil)
			if err != nil || q != p {
				t.Fatalf("%q reads as %+v, re-encoded as %q, which reads as %+v, %v", value, p.Model, again[0].Value, q.Model, err)
			}
		}

		ref := serving.ModelRef{Name: name, Version: version, ID: id, Format: format}
		hs = wire.ProvenanceHeaders(serving.Provenance{Model: ref})
		if name == "" {
			if p, err := wire.ProvenanceOf(hs, nil); len(hs) != 0 || !errors.Is(err, wire.ErrNoProvenance) {
				t.Fatalf("no name: headers %q read as %+v, %v; want none, ErrNoProvenance", hs, p, err)
			}
			return
		}
		if bytes.ContainsFunc(hs[0].Value, func(r rune) bool { return r >= 0x80 || r <= ' ' }) || bytes.Count(hs[0].Value, []byte("/")) != 3 {
			t.Fatalf("%+v written as %q: not 4 fields of printable ASCII", ref, hs[0].Value)
		}
		p, err = wire.ProvenanceOf(hs, nil)
		if err != nil || p.Model != ref {
			t.Fatalf("%+v written as %q reads as %+v, %v", ref, hs[0].Value, p.Model, err)
		}
		legacy := []wire.Header{
			{Key: []byte(wire.HeaderModel), Value: []byte(name)},
			{Key: []byte(wire.HeaderVersion), Value: []byte(strconv.FormatUint(version, 10))},
			{Key: []byte(wire.HeaderID), Value: []byte(id)},
			{Key: []byte(wire.HeaderFormat), Value: []byte(format)},
		}
		if p, err := wire.ProvenanceOf(append(legacy, hs...), nil); err != nil || p.Model != ref {
			t.Fatalf("%+v in both forms reads as %+v, %v", ref, p.Model, err)
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

// FuzzDecodeScore checks that any score record decodes without
// panicking, and that a score that decodes comes back the same from
// either encoding.
func FuzzDecodeScore(f *testing.F) {
	f.Add([]byte("k"), []byte(`{"prediction":{"value":0.5},"provenance":{"model":{"name":"m","version":1}},"key":"k","topic":"t","partition":1,"offset":2}`), "", "")
	f.Add([]byte("k"), []byte(`{"prediction":{"value":0.5,"values":[1,2],"label":"x"},"topic":"t","offset":2}`), "m", "1")
	f.Add([]byte{0xff}, []byte(`{"prediction":{},"key_base64":"/w=="}`), "m", "x")
	f.Add([]byte(nil), []byte{0, 0, 0, 0, 1}, "m", "1")
	f.Fuzz(func(t *testing.T, key, value []byte, model, version string) {
		m := wire.Message{Key: key, Value: value, Headers: []wire.Header{
			{Key: []byte(wire.HeaderModel), Value: []byte(model)},
			{Key: []byte(wire.HeaderVersion), Value: []byte(version)},
		}}
		s, err := wire.DecodeScore(m)
		if err != nil || !utf8.ValidString(s.Provenance.Model.Name) { // JSON cannot carry such a name
			return
		}
		for _, e := range []wire.ScoreEncoding{wire.ScoreJSON, wire.ScoreCompact} {
			v, err := e.AppendScore(nil, &s)
			if err != nil {
				t.Fatalf("encoding %d of %+v: %v", e, s, err)
			}
			again, err := wire.DecodeScore(wire.Message{Key: s.InputKey(), Value: v, Headers: wire.ProvenanceHeaders(s.Provenance)})
			if err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("encoding %d: %s decodes to %+v, %v; want %+v", e, v, again, err, s)
			}
		}
	})
}

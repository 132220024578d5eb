package wire_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// scoreRecord is the record a writer makes of s in encoding e: the value,
// the input's key as the record's key, and the provenance headers.
func scoreRecord(t *testing.T, e wire.ScoreEncoding, s wire.Score) wire.Message {
	t.Helper()
	v, err := e.AppendScore(nil, &s)
	if err != nil {
		t.Fatalf("%d: AppendScore: %v", e, err)
	}
	return wire.Message{Key: s.InputKey(), Value: v, Headers: wire.ProvenanceHeaders(s.Provenance)}
}

func TestScoreEncodingsRoundTrip(t *testing.T) {
	scores := map[string]wire.Score{
		"plain":    {Prediction: serving.Prediction{Value: 0.25}, Provenance: serving.Provenance{Model: fast}, Key: "order-1", Topic: "orders", Partition: 2, Offset: 99},
		"no key":   {Prediction: serving.Prediction{Value: -1e-9, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: fast}, Topic: "orders"},
		"binary":   {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: big}, KeyBase64: []byte{0xff, 0}, Topic: "t", Offset: 1 << 40},
		"values":   {Prediction: serving.Prediction{Value: 2, Values: []float64{0.1, 0.2, 0.7}, Label: "c"}, Provenance: serving.Provenance{Model: big}, Key: `k"<>\`, Topic: "t"},
		"decision": {Prediction: serving.Prediction{Value: 0.93}, Provenance: decision(), Key: "k", Topic: "t", Partition: 1},
	}
	for name, s := range scores {
		for _, e := range []wire.ScoreEncoding{wire.ScoreJSON, wire.ScoreCompact} {
			m := scoreRecord(t, e, s)
			got, err := wire.DecodeScore(m)
			if err != nil {
				t.Fatalf("%s, encoding %d: %v", name, e, err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Errorf("%s, encoding %d: %s decodes to\n%+v, want\n%+v", name, e, m.Value, got, s)
			}
			compact := !bytes.Contains(m.Value, []byte(`"provenance"`)) && !bytes.Contains(m.Value, []byte(`"key`))
			if compact != (e == wire.ScoreCompact) {
				t.Errorf("%s, encoding %d: value %s", name, e, m.Value)
			}
		}
	}
	// A single model's compact score is a fraction of the default one.
	s := scores["plain"]
	full, compact := scoreRecord(t, wire.ScoreJSON, s), scoreRecord(t, wire.ScoreCompact, s)
	if 3*len(compact.Value) > len(full.Value) {
		t.Errorf("compact value %d bytes, JSON %d", len(compact.Value), len(full.Value))
	}
}

func TestBadScores(t *testing.T) {
	ok := wire.Score{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: fast}, Key: "k", Topic: "t"}
	for _, e := range []wire.ScoreEncoding{wire.ScoreJSON, wire.ScoreCompact, 7} {
		for _, p := range []serving.Prediction{{Value: math.NaN()}, {Value: 1, Confidence: math.Inf(1)}, {Value: 1, Values: []float64{math.Inf(-1)}}} {
			s := ok
			s.Prediction = p
			if e == 7 {
				s = ok
			}
			if v, err := e.AppendScore([]byte("x"), &s); !errors.Is(err, wire.ErrMalformed) || string(v) != "x" {
				t.Errorf("encoding %d of %+v: %q, %v", e, p, v, err)
			}
		}
	}

	compact := scoreRecord(t, wire.ScoreCompact, ok)
	full := scoreRecord(t, wire.ScoreJSON, ok)
	other := wire.ProvenanceHeaders(serving.Provenance{Model: big})
	for name, tc := range map[string]struct {
		m    wire.Message
		want error
		part string // what the error says is malformed
	}{
		"empty":            {wire.Message{}, wire.ErrMalformed, "score"},
		"not JSON":         {wire.Message{Value: []byte("0.93")}, wire.ErrMalformed, "score"},
		"no prediction":    {wire.Message{Value: []byte(`{"topic":"t"}`), Headers: compact.Headers}, wire.ErrMalformed, "score"},
		"wrong type":       {wire.Message{Value: []byte(`{"prediction":{"value":"high"}}`), Headers: compact.Headers}, wire.ErrMalformed, "score"},
		"registry frame":   {wire.Message{Value: []byte{0, 0, 0, 0, 1, 2}, Headers: compact.Headers}, wire.ErrMalformed, "score"},
		"compact, no hdrs": {wire.Message{Key: compact.Key, Value: compact.Value}, wire.ErrNoProvenance, ""},
		"compact, bad hdr": {wire.Message{Value: compact.Value, Headers: []wire.Header{{Key: []byte(wire.HeaderModel), Value: []byte("m")}, {Key: []byte(wire.HeaderVersion), Value: []byte("x")}}}, wire.ErrMalformed, "provenance"},
		"disagree":         {wire.Message{Value: full.Value, Headers: other}, wire.ErrMalformed, "provenance"},
	} {
		if s, err := wire.DecodeScore(tc.m); !errors.Is(err, tc.want) || tc.part != "" && !strings.Contains(err.Error(), "malformed "+tc.part) {
			t.Errorf("%s: %+v, %v; want %v (malformed %s)", name, s, err, tc.want, tc.part)
		}
	}
	// A full value needs no headers, and ignores headers of others.
	if _, err := wire.DecodeScore(wire.Message{Value: full.Value, Headers: []wire.Header{{Key: []byte("traceparent"), Value: []byte("00-x")}}}); err != nil {
		t.Error(err)
	}
}

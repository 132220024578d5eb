package wire_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

var (
	fast = serving.ModelRef{Name: "fraud-fast", Version: 3, ID: serving.ContentID([]byte("fast")), Format: "linear"}
	big  = serving.ModelRef{Name: "fraud-big", Version: 7, ID: serving.ContentID([]byte("big")), Format: "onnx"}
)

func decision() serving.Provenance {
	return serving.Provenance{Model: fast, Decision: &serving.Decision{
		Combinator: "budget", Decider: "first", Winner: 0,
		Candidates: []serving.Candidate{
			{Model: fast, Latency: 41 * time.Microsecond, Status: serving.StatusOK, Prediction: &serving.Prediction{Value: 0.93}},
			{Model: big, Latency: 20 * time.Millisecond, Status: serving.StatusLate},
		},
	}}
}

func TestProvenanceHeadersRoundTrip(t *testing.T) {
	for name, p := range map[string]serving.Provenance{
		"single":   {Model: fast},
		"decision": decision(),
		"no id":    {Model: serving.ModelRef{Name: "m", Version: 1}},
		"split":    {Model: big, Decision: &serving.Decision{Combinator: "split", Variant: "canary", Winner: 0, Candidates: []serving.Candidate{{Model: big}, {Model: fast, Status: serving.StatusSkipped}}}},
	} {
		t.Run(name, func(t *testing.T) {
			hs := wire.ProvenanceHeaders(p)
			got, err := wire.ProvenanceOf(append([]wire.Header{{Key: []byte("traceparent"), Value: []byte("x")}}, hs...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
			}
			ref, err := whichOf(hs, nil)
			if err != nil || ref != p.Model {
				t.Fatalf("Which = %v, %v", ref, err)
			}
		})
	}
	hs := wire.ProvenanceHeaders(decision())
	keys := map[string]string{}
	for _, h := range hs {
		keys[string(h.Key)] = string(h.Value)
	}
	if keys[wire.HeaderModel] != "fraud-fast" || keys[wire.HeaderVersion] != "3" || keys[wire.HeaderID] != fast.ID ||
		keys[wire.HeaderFormat] != "linear" || keys[wire.HeaderCombinator] != "budget" {
		t.Fatalf("headers %v", keys)
	}
}

func TestWhichFromTheOutputValue(t *testing.T) {
	p := decision()
	// A marshalled serving.Result, and a sink's score record, both carry
	// the provenance field.
	res, _ := json.Marshal(serving.Result{Prediction: serving.Prediction{Value: 0.93}, Provenance: p})
	score, _ := json.Marshal(map[string]any{"prediction": map[string]any{"value": 0.93}, "provenance": p, "key": "k", "topic": "in", "partition": 2, "offset": 99})
	for _, v := range [][]byte{res, score} {
		got, err := wire.ProvenanceOf(nil, v)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("wire.ProvenanceOf(%s) = %+v, %v", v, got, err)
		}
		// Headers without the decision header, as a minimal encoder
		// writes them, agree with the value and gain its decision.
		short := wire.ProvenanceHeaders(serving.Provenance{Model: p.Model})
		got, err = wire.ProvenanceOf(short, v)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("short headers + value = %+v, %v", got, err)
		}
	}
}

func TestProvenanceErrors(t *testing.T) {
	v, _ := json.Marshal(serving.Result{Provenance: serving.Provenance{Model: fast}})
	// Headers and value disagree: one of them was altered.
	if _, err := whichOf(wire.ProvenanceHeaders(serving.Provenance{Model: big}), v); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("disagreement: %v", err)
	}
	if _, err := whichOf(nil, []byte(`{"prediction":{"value":1}}`)); !errors.Is(err, wire.ErrNoProvenance) {
		t.Fatalf("no provenance field: %v", err)
	}
	if _, err := whichOf(nil, nil); !errors.Is(err, wire.ErrNoProvenance) {
		t.Fatalf("nothing: %v", err)
	}
	if _, err := whichOf(nil, []byte("not json")); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("not json: %v", err)
	}
	bad := []wire.Header{{Key: []byte(wire.HeaderModel), Value: []byte("m")}, {Key: []byte(wire.HeaderVersion), Value: []byte("v2")}}
	if _, err := wire.ProvenanceOf(bad, nil); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("bad version: %v", err)
	}
	if _, err := wire.ProvenanceOf(bad[:1], nil); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("missing version: %v", err)
	}
	badDecision := append(wire.ProvenanceHeaders(serving.Provenance{Model: fast}), wire.Header{Key: []byte(wire.HeaderDecision), Value: []byte("{")})
	if _, err := wire.ProvenanceOf(badDecision, nil); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("bad decision: %v", err)
	}
	// Headers answer even when the value is not ours.
	if ref, err := whichOf(wire.ProvenanceHeaders(serving.Provenance{Model: fast}), []byte("a,b,c")); err != nil || ref != fast {
		t.Fatalf("headers with a CSV value: %v, %v", ref, err)
	}
}

func whichOf(hs []wire.Header, v []byte) (serving.ModelRef, error) {
	p, err := wire.ProvenanceOf(hs, v)
	return p.Model, err
}

func TestScoreKey(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("order-1"), []byte("é"), {0xff, 'a'}} {
		s := wire.Score{Provenance: serving.Provenance{Model: fast}}
		s.SetKey(key)
		if utf8.Valid(key) != (s.KeyBase64 == nil) || (s.KeyBase64 != nil && s.Key != "") {
			t.Errorf("SetKey(%q): Key %q, KeyBase64 %q", key, s.Key, s.KeyBase64)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeScore(wire.Message{Value: b})
		if err != nil || string(got.InputKey()) != string(key) || (len(key) == 0) != (got.InputKey() == nil) {
			t.Errorf("key %q: %s decodes to %q, %v", key, b, got.InputKey(), err)
		}
	}
	b, _ := json.Marshal(wire.Score{KeyBase64: []byte{0xff}})
	if !strings.Contains(string(b), `"key_base64":"/w=="`) {
		t.Errorf("KeyBase64 in JSON: %s", b)
	}
}

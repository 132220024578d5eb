package governance

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
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
			hs := ProvenanceHeaders(p)
			got, err := ParseProvenanceHeaders(append([]Header{{Key: []byte("traceparent"), Value: []byte("x")}}, hs...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
			}
			ref, err := Which(hs, nil)
			if err != nil || ref != p.Model {
				t.Fatalf("Which = %v, %v", ref, err)
			}
		})
	}
	hs := ProvenanceHeaders(decision())
	keys := map[string]string{}
	for _, h := range hs {
		keys[string(h.Key)] = string(h.Value)
	}
	if keys[HeaderModel] != "fraud-fast" || keys[HeaderVersion] != "3" || keys[HeaderID] != fast.ID ||
		keys[HeaderFormat] != "linear" || keys[HeaderCombinator] != "budget" {
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
		got, err := ProvenanceOf(nil, v)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("ProvenanceOf(%s) = %+v, %v", v, got, err)
		}
		// Headers without the decision header, as a minimal encoder
		// writes them, agree with the value and gain its decision.
		short := ProvenanceHeaders(serving.Provenance{Model: p.Model})
		got, err = ProvenanceOf(short, v)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("short headers + value = %+v, %v", got, err)
		}
	}
}

func TestProvenanceErrors(t *testing.T) {
	v, _ := json.Marshal(serving.Result{Provenance: serving.Provenance{Model: fast}})
	// Headers and value disagree: one of them was altered.
	if _, err := Which(ProvenanceHeaders(serving.Provenance{Model: big}), v); !errors.Is(err, ErrBadProvenance) {
		t.Fatalf("disagreement: %v", err)
	}
	if _, err := Which(nil, []byte(`{"prediction":{"value":1}}`)); !errors.Is(err, ErrNoProvenance) {
		t.Fatalf("no provenance field: %v", err)
	}
	if _, err := Which(nil, nil); !errors.Is(err, ErrNoProvenance) {
		t.Fatalf("nothing: %v", err)
	}
	if _, err := Which(nil, []byte("not json")); !errors.Is(err, ErrBadProvenance) {
		t.Fatalf("not json: %v", err)
	}
	bad := []Header{{Key: []byte(HeaderModel), Value: []byte("m")}, {Key: []byte(HeaderVersion), Value: []byte("v2")}}
	if _, err := ParseProvenanceHeaders(bad); !errors.Is(err, ErrBadProvenance) {
		t.Fatalf("bad version: %v", err)
	}
	if _, err := ParseProvenanceHeaders(bad[:1]); !errors.Is(err, ErrBadProvenance) {
		t.Fatalf("missing version: %v", err)
	}
	badDecision := append(ProvenanceHeaders(serving.Provenance{Model: fast}), Header{Key: []byte(HeaderDecision), Value: []byte("{")})
	if _, err := ParseProvenanceHeaders(badDecision); !errors.Is(err, ErrBadProvenance) {
		t.Fatalf("bad decision: %v", err)
	}
	// Headers answer even when the value is not ours.
	if ref, err := Which(ProvenanceHeaders(serving.Provenance{Model: fast}), []byte("a,b,c")); err != nil || ref != fast {
		t.Fatalf("headers with a CSV value: %v, %v", ref, err)
	}
}

func TestWhichAt(t *testing.T) {
	ctx := context.Background()
	store, _ := registry.NewMemory()
	defer store.Close()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v1 := serving.ModelRef{Name: "fraud", Version: 1, ID: "a"}
	v2 := serving.ModelRef{Name: "fraud", Version: 2, ID: "b"}
	_ = store.RecordActivation(ctx, serving.Activation{Model: v1, Kind: serving.EventActivated, At: t0})
	_ = store.RecordActivation(ctx, serving.Activation{Model: v2, Kind: serving.EventActivated, At: t0.Add(time.Minute)})
	if ref, err := WhichAt(ctx, store, "fraud", t0.Add(time.Minute-time.Nanosecond)); err != nil || ref != v1 {
		t.Fatalf("before the swap: %v, %v", ref, err)
	}
	if ref, err := WhichAt(ctx, store, "fraud", t0.Add(time.Minute)); err != nil || ref != v2 {
		t.Fatalf("at the swap: %v, %v", ref, err)
	}
	if _, err := WhichAt(ctx, store, "fraud", t0.Add(-time.Second)); !errors.Is(err, registry.ErrNotActive) {
		t.Fatalf("before anything: %v", err)
	}
}

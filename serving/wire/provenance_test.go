package wire_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
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
	if len(keys) != 3 || keys[wire.HeaderProvenance] != "fraud-fast/3/"+fast.ID+"/linear" || keys[wire.HeaderCombinator] != "budget" || keys[wire.HeaderDecision] == "" {
		t.Fatalf("headers %v", keys)
	}
}

// legacyHeaders returns the provenance headers of r as writers wrote them
// before modelstream.provenance.
func legacyHeaders(r serving.ModelRef) []wire.Header {
	hs := []wire.Header{
		{Key: []byte(wire.HeaderModel), Value: []byte(r.Name)},
		{Key: []byte(wire.HeaderVersion), Value: []byte(strconv.FormatUint(r.Version, 10))},
	}
	if r.ID != "" {
		hs = append(hs, wire.Header{Key: []byte(wire.HeaderID), Value: []byte(r.ID)})
	}
	if r.Format != "" {
		hs = append(hs, wire.Header{Key: []byte(wire.HeaderFormat), Value: []byte(r.Format)})
	}
	return hs
}

func provenanceHeader(v string) wire.Header {
	return wire.Header{Key: []byte(wire.HeaderProvenance), Value: []byte(v)}
}

// The one header escapes what would make it ambiguous, and a reader
// takes the text of other writers: escapes in lower case, bytes left
// unescaped, and fields after the fourth.
func TestProvenanceHeaderText(t *testing.T) {
	for _, tc := range []struct {
		ref  serving.ModelRef
		text string
	}{
		{serving.ModelRef{Name: "m", Version: 1}, "m/1//"},
		{fast, "fraud-fast/3/" + fast.ID + "/linear"},
		{serving.ModelRef{Name: "risk/eu", Version: 18446744073709551615, ID: "a/b", Format: "x%y"}, "risk%2Feu/18446744073709551615/a%2Fb/x%25y"},
		{serving.ModelRef{Name: "Bet räkning 1+1=2 ~_.-", Version: 0, Format: " "}, "Bet%20r%C3%A4kning%201%2B1%3D2%20~_.-/0//%20"},
		{serving.ModelRef{Name: "\x00\xff,;\n", Version: 7}, "%00%FF%2C%3B%0A/7//"},
	} {
		hs := wire.ProvenanceHeaders(serving.Provenance{Model: tc.ref})
		if len(hs) != 1 || string(hs[0].Key) != wire.HeaderProvenance || string(hs[0].Value) != tc.text {
			t.Errorf("%q: headers %q, want %s=%s", tc.ref, hs, wire.HeaderProvenance, tc.text)
		}
		if p, err := wire.ProvenanceOf(hs, nil); err != nil || p.Model != tc.ref {
			t.Errorf("%s reads as %q, %v; want %q", tc.text, p.Model, err, tc.ref)
		}
	}
	for text, want := range map[string]serving.ModelRef{
		"risk%2feu/2/%61b/%4c":         {Name: "risk/eu", Version: 2, ID: "ab", Format: "L"},
		"a b,c=d/02/id/fmt":            {Name: "a b,c=d", Version: 2, ID: "id", Format: "fmt"},
		"m/3/id/linear/added/by/later": {Name: "m", Version: 3, ID: "id", Format: "linear"},
		"m/3///":                       {Name: "m", Version: 3},
	} {
		if p, err := wire.ProvenanceOf([]wire.Header{provenanceHeader(text)}, nil); err != nil || p.Model != want {
			t.Errorf("%s reads as %q, %v; want %q", text, p.Model, err, want)
		}
	}
	for _, text := range []string{"", "m", "m/1", "m/1/id", "/1//", "%/1//", "m%2/1//", "m%zz/1//", "m//id/f", "m/v1//", "m/-1//", "m/+1//", "m/1_0//", "m/18446744073709551616//", "m/1/%G0/", "m/1//%"} {
		_, err := wire.ProvenanceOf([]wire.Header{provenanceHeader(text)}, nil)
		if !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), wire.HeaderProvenance) {
			t.Errorf("%q: %v, want ErrMalformed naming %s", text, err, wire.HeaderProvenance)
		}
	}
}

// Records already on topics carry the four legacy headers; a record with
// both forms must say the same in both.
func TestLegacyProvenanceHeaders(t *testing.T) {
	for _, ref := range []serving.ModelRef{fast, {Name: "m", Version: 1}, {Name: "risk/eu", Version: 2, Format: "onnx"}} {
		p, err := wire.ProvenanceOf(legacyHeaders(ref), nil)
		if err != nil || p.Model != ref || p.Decision != nil {
			t.Errorf("legacy headers of %q read as %+v, %v", ref, p, err)
		}
		both := append(legacyHeaders(ref), wire.ProvenanceHeaders(serving.Provenance{Model: ref})...)
		if p, err := wire.ProvenanceOf(both, nil); err != nil || p.Model != ref {
			t.Errorf("both forms of %q read as %+v, %v", ref, p, err)
		}
	}
	d := decision()
	hs := append(legacyHeaders(d.Model), wire.ProvenanceHeaders(d)[1:]...) // the legacy model with the decision headers
	if p, err := wire.ProvenanceOf(hs, nil); err != nil || !reflect.DeepEqual(p, d) {
		t.Errorf("legacy headers with a decision read as %+v, %v", p, err)
	}
	v, _ := json.Marshal(serving.Result{Provenance: serving.Provenance{Model: fast}})
	if p, err := wire.ProvenanceOf(legacyHeaders(fast), v); err != nil || p.Model != fast {
		t.Errorf("legacy headers with a JSON value: %+v, %v", p, err)
	}
	if _, err := wire.ProvenanceOf(legacyHeaders(big), v); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("legacy headers that disagree with the value: %v", err)
	}
	newer := wire.ProvenanceHeaders(serving.Provenance{Model: fast})
	for name, hs := range map[string][]wire.Header{
		"other model":      append(legacyHeaders(big), newer...),
		"other version":    append(legacyHeaders(serving.ModelRef{Name: fast.Name, Version: 4, ID: fast.ID}), newer...),
		"other id":         append(legacyHeaders(serving.ModelRef{Name: fast.Name, Version: 3, ID: big.ID}), newer...),
		"no version":       append(legacyHeaders(fast)[:1:1], newer...),
		"empty name":       append([]wire.Header{{Key: []byte(wire.HeaderModel)}}, newer...),
		"bad version only": append([]wire.Header{{Key: []byte(wire.HeaderVersion), Value: []byte("x")}}, newer...),
	} {
		if _, err := wire.ProvenanceOf(hs, nil); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// A legacy header missing its version, or a name alone, is no provenance
	// or malformed, as it was.
	if _, err := wire.ProvenanceOf(legacyHeaders(fast)[:1], nil); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("legacy name without version: %v", err)
	}
	if _, err := wire.ProvenanceOf([]wire.Header{{Key: []byte(wire.HeaderModel)}, {Key: []byte(wire.HeaderVersion), Value: []byte("1")}}, nil); !errors.Is(err, wire.ErrNoProvenance) {
		t.Errorf("legacy empty name: %v", err)
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

// A result that names no model (a Scorer of a user's that sets no
// provenance) has no provenance on the wire, as with the legacy headers:
// not a modelstream.provenance header that every reader refuses.
func TestProvenanceWithoutModel(t *testing.T) {
	for _, p := range []serving.Provenance{{}, {Model: serving.ModelRef{Version: 2, ID: fast.ID, Format: "linear"}}} {
		hs := wire.ProvenanceHeaders(p)
		if len(hs) != 0 {
			t.Errorf("%+v: headers %q, want none", p.Model, hs)
		}
		if _, err := wire.ProvenanceOf(hs, nil); !errors.Is(err, wire.ErrNoProvenance) {
			t.Errorf("%+v: ProvenanceOf = %v, want ErrNoProvenance", p.Model, err)
		}
	}
}

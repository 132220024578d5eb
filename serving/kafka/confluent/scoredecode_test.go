package confluent

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// scoreCases are scores of every shape both score schemas carry.
func scoreCases() map[string]wire.Score {
	m := serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}
	return map[string]wire.Score{
		"plain":    {Prediction: serving.Prediction{Value: 0.25}, Provenance: serving.Provenance{Model: m}, Key: "order-1", Topic: "orders", Partition: 2, Offset: 99},
		"no key":   {Prediction: serving.Prediction{Value: -1e-300, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}, Topic: "t", Offset: 1 << 50},
		"binary":   {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: m}, KeyBase64: []byte{0xff, 0}, Topic: "t", Partition: -1},
		"values":   {Prediction: serving.Prediction{Value: 2, Values: []float64{0.1, 0.2, 0.7}, Label: "é"}, Provenance: serving.Provenance{Model: m}, Key: "k", Topic: "t"},
		"decision": {Prediction: serving.Prediction{Value: 0.93}, Provenance: serving.Provenance{Model: m, Decision: &serving.Decision{Combinator: "budget", Decider: "first", Candidates: []serving.Candidate{{Model: m, Latency: time.Millisecond, Status: serving.StatusOK}}}}, Key: "k", Topic: "t"},
	}
}

// TestScoreDecoder reads back what AvroScores writes in both schemas,
// and the JSON scores of both wire encodings, from records as a Sink
// writes them (the provenance headers, the input's key), fetching each
// schema once.
func TestScoreDecoder(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	dec, err := NewScoreDecoder(reg.client)
	if err != nil {
		t.Fatal(err)
	}
	var encs = map[string]interface {
		AppendScore([]byte, *wire.Score) ([]byte, error)
	}{"json": wire.ScoreJSON, "compact json": wire.ScoreCompact}
	if encs["avro"], err = NewAvroScores(ctx, reg.client, "scores-value"); err != nil {
		t.Fatal(err)
	}
	if encs["compact avro"], err = NewAvroScores(ctx, reg.client, "scores-value", CompactScores()); err != nil {
		t.Fatal(err)
	}
	reg.byID.Store(0)
	for name, enc := range encs {
		for sname, s := range scoreCases() {
			v, err := enc.AppendScore(nil, &s)
			if err != nil {
				t.Fatalf("%s %s: %v", name, sname, err)
			}
			m := wire.Message{Key: s.InputKey(), Value: v, Headers: wire.ProvenanceHeaders(s.Provenance)}
			got, err := dec.DecodeScore(ctx, m)
			if err != nil || !reflect.DeepEqual(got, s) {
				t.Errorf("%s %s: decodes to\n%+v, %v; want\n%+v", name, sname, got, err, s)
			}
			if strings.Contains(name, "compact") {
				continue
			}
			// The whole score stands alone, as a reader of the value alone
			// reads it.
			got, err = dec.DecodeScore(ctx, wire.Message{Value: v})
			if err != nil || !reflect.DeepEqual(got, s) {
				t.Errorf("%s %s, value alone: decodes to\n%+v, %v; want\n%+v", name, sname, got, err, s)
			}
		}
	}
	if n := reg.byID.Load(); n != 2 {
		t.Errorf("%d schema fetches, want 2: one per score schema", n)
	}
}

// TestScoreDecoderOtherWriters: a score schema registered by another
// writer, spaced and documented its own way, is recognised by its
// canonical form, and a body written by hamba/avro, not by AvroScores,
// reads, its array in a block of a negative count and a size as the
// specification allows.
func TestScoreDecoderOtherWriters(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	dec, err := NewScoreDecoder(reg.client)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(ScoreCompactSchema, `"name":"Score",`, `"name" : "Score", "doc": "written by a JVM job",`, 1)
	if text == ScoreCompactSchema {
		t.Fatal("no change")
	}
	id := reg.register(t, "jvm-scores-value", sr.Schema{Schema: text, Type: sr.TypeAvro})
	type pred struct {
		Value      float64   `avro:"value"`
		Values     []float64 `avro:"values"`
		Label      string    `avro:"label"`
		Confidence float64   `avro:"confidence"`
	}
	body, err := avro.Marshal(avro.MustParse(ScoreCompactSchema), map[string]any{
		"prediction": pred{Value: 0.5, Values: []float64{0.5, 0.5}, Label: "fraud", Confidence: 0.5},
		"topic":      "in", "partition": 3, "offset": int64(12),
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := serving.ModelRef{Name: "fraud", Version: 9}
	m := wire.Message{Key: []byte("k"), Value: frame(id, nil, body), Headers: wire.ProvenanceHeaders(serving.Provenance{Model: ref})}
	want := wire.Score{Prediction: serving.Prediction{Value: 0.5, Values: []float64{0.5, 0.5}, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: ref}, Key: "k", Topic: "in", Partition: 3, Offset: 12}
	if got, err := dec.DecodeScore(ctx, m); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("hamba's body: %+v, %v; want %+v", got, err, want)
	}
	// The same values in two blocks, the second of count -1 and size 8.
	blocks := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))
	blocks = binary.AppendVarint(blocks, 1)
	blocks = binary.LittleEndian.AppendUint64(blocks, math.Float64bits(0.5))
	blocks = binary.AppendVarint(blocks, -1)
	blocks = binary.AppendVarint(blocks, 8)
	blocks = binary.LittleEndian.AppendUint64(blocks, math.Float64bits(0.5))
	blocks = binary.AppendVarint(blocks, 0)
	blocks = appendString(blocks, "fraud")
	blocks = binary.LittleEndian.AppendUint64(blocks, math.Float64bits(0.5))
	blocks = appendString(blocks, "in")
	blocks = binary.AppendVarint(blocks, 3)
	blocks = binary.AppendVarint(blocks, 12)
	m.Value = frame(id, nil, blocks)
	if got, err := dec.DecodeScore(ctx, m); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("blocks: %+v, %v; want %+v", got, err, want)
	}
}

// TestScoreDecoderBadScores: every frame that is not a score is an error
// that says why, typed, and returns without a stall: an unknown schema
// ID, a registry down, a foreign schema, a body that does not match, a
// prediction that is not finite, provenance that disagrees or is absent.
func TestScoreDecoderBadScores(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	dec, err := NewScoreDecoder(reg.client, Retry(2, time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	full, err := NewAvroScores(ctx, reg.client, "scores-value")
	if err != nil {
		t.Fatal(err)
	}
	compact, err := NewAvroScores(ctx, reg.client, "scores-value", CompactScores())
	if err != nil {
		t.Fatal(err)
	}
	foreign := reg.register(t, "txn-value", sr.Schema{Schema: avroV1, Type: sr.TypeAvro})
	proto := reg.register(t, "p-value", sr.Schema{Schema: "syntax = \"proto3\";\nmessage M { double x = 1; }\n", Type: sr.TypeProtobuf})
	ref := serving.ModelRef{Name: "fraud", Version: 3}
	s := wire.Score{Prediction: serving.Prediction{Value: 0.5}, Provenance: serving.Provenance{Model: ref}, Key: "k", Topic: "t", Offset: 1}
	fv, _ := full.AppendScore(nil, &s)
	cv, _ := compact.AppendScore(nil, &s)
	hdrs := wire.ProvenanceHeaders(s.Provenance)
	other := wire.ProvenanceHeaders(serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 4}})
	nan := append([]byte(nil), cv...)
	binary.LittleEndian.PutUint64(nan[5:], math.Float64bits(math.NaN()))
	for _, c := range []struct {
		name string
		m    wire.Message
		want []error
	}{
		{"unknown ID", wire.Message{Value: frame(9999, nil, cv[5:]), Headers: hdrs}, []error{ErrUnknownSchema}},
		{"foreign schema", wire.Message{Value: frame(foreign, nil, cv[5:]), Headers: hdrs}, []error{ErrUnsupported}},
		{"protobuf schema", wire.Message{Value: frame(proto, []int{0}, cv[5:]), Headers: hdrs}, []error{ErrUnsupported}},
		{"truncated", wire.Message{Value: cv[:len(cv)-3], Headers: hdrs}, []error{ErrIncompatible, serving.ErrFieldType}},
		{"trailing", wire.Message{Value: append(cv[:len(cv):len(cv)], 0), Headers: hdrs}, []error{ErrIncompatible}},
		{"short frame", wire.Message{Value: []byte{0, 0, 1}, Headers: hdrs}, []error{wire.ErrMalformed}},
		{"not finite", wire.Message{Value: nan, Headers: hdrs}, []error{wire.ErrMalformed}},
		{"compact without headers", wire.Message{Value: cv}, []error{wire.ErrNoProvenance}},
		{"headers disagree", wire.Message{Value: fv, Headers: other}, []error{wire.ErrMalformed}},
		{"headers malformed", wire.Message{Value: cv, Headers: []wire.Header{{Key: []byte(wire.HeaderProvenance), Value: []byte("fraud/x//")}}}, []error{wire.ErrMalformed}},
		{"not a score at all", wire.Message{Value: []byte("{"), Headers: hdrs}, []error{wire.ErrMalformed}},
	} {
		_, err := dec.DecodeScore(ctx, c.m)
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: %v, want %v", c.name, err, w)
			}
		}
		var se *SchemaError
		if isSchema := errors.As(err, &se); isSchema != (c.want[0] == ErrUnknownSchema || c.want[0] == ErrUnsupported || c.want[0] == ErrIncompatible) {
			t.Errorf("%s: %v: a *SchemaError %v", c.name, err, isSchema)
		}
	}
	// A registry down: ErrUnavailable once the retries are spent, for a
	// schema not cached yet; the cached ones still decode.
	dec2, err := NewScoreDecoder(reg.client, Retry(2, time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec2.DecodeScore(ctx, wire.Message{Value: cv, Headers: hdrs}); err != nil {
		t.Fatal(err)
	}
	reg.down.Store(true)
	if _, err := dec2.DecodeScore(ctx, wire.Message{Value: fv}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("registry down: %v, want ErrUnavailable", err)
	}
	if _, err := dec2.DecodeScore(ctx, wire.Message{Value: cv, Headers: hdrs}); err != nil {
		t.Errorf("registry down, cached schema: %v", err)
	}
}

// TestScoreDecoderCancel: a registry that does not answer holds
// DecodeScore only until its context is cancelled, and the next call
// asks again rather than failing for the Retry window.
func TestScoreDecoderCancel(t *testing.T) {
	release := make(chan struct{})
	var stall atomic.Bool
	stall.Store(true)
	reg := newRegistry(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if stall.Load() {
			select {
			case <-release:
			case <-req.Context().Done():
			}
			return
		}
		http.Redirect(w, req, reg.url+req.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx := context.Background()
	full, err := NewAvroScores(ctx, reg.client, "scores-value")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewScoreDecoder(cl) // the default Retry: 4 tries of up to 5s
	if err != nil {
		t.Fatal(err)
	}
	s := wire.Score{Prediction: serving.Prediction{Value: 0.5}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}, Topic: "t"}
	v, _ := full.AppendScore(nil, &s)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := dec.DecodeScore(cctx, wire.Message{Value: v}); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled: %v, want ErrUnavailable and the context's error", err)
		}
	case <-time.After(4 * time.Second): // a guard against hanging, not a timing assertion
		t.Fatal("DecodeScore did not return when its context was done")
	}
	stall.Store(false)
	if got, err := dec.DecodeScore(ctx, wire.Message{Value: v}); err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("after the cancel: %+v, %v", got, err)
	}
}

// FuzzScoreBody reads fuzzed bodies as both score schemas: a body is
// refused with a typed error, never a panic, and one that is read is
// read as hamba/avro reads it, field for field.
func FuzzScoreBody(f *testing.F) {
	ctx := context.Background()
	reg := newRegistry(f)
	for _, opts := range [][]ScoreOption{nil, {CompactScores()}} {
		enc, err := NewAvroScores(ctx, reg.client, "s", opts...)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range scoreCases() {
			v, err := enc.AppendScore(nil, &s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(v[5:])
		}
	}
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	schemas := map[bool]avro.Schema{false: avro.MustParse(ScoreSchema), true: avro.MustParse(ScoreCompactSchema)}
	hdrs := wire.ProvenanceHeaders(serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, compact := range []bool{false, true} {
			s, err := scorePlan{compact: compact}.decodeScore(body, wire.Message{Headers: hdrs})
			if err != nil {
				if !errors.Is(err, ErrIncompatible) && !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("compact %v: %v: not a typed refusal", compact, err)
				}
				continue
			}
			var a map[string]any
			if err := avro.Unmarshal(schemas[compact], body, &a); err != nil {
				t.Fatalf("compact %v: read %+v, hamba/avro refuses: %v", compact, s, err)
			}
			p := a["prediction"].(map[string]any)
			vs, _ := p["values"].([]any)
			if p["value"] != s.Value || p["label"] != s.Label || p["confidence"] != s.Confidence || len(vs) != len(s.Values) ||
				a["topic"] != s.Topic || a["partition"] != int(s.Partition) || a["offset"] != s.Offset {
				t.Fatalf("compact %v: read %+v, hamba/avro %+v", compact, s, a)
			}
			for i, v := range vs {
				if v != s.Values[i] {
					t.Fatalf("compact %v: output %d: %v, hamba/avro %v", compact, i, s.Values[i], v)
				}
			}
			if !compact {
				m := a["provenance"].(map[string]any)["model"].(map[string]any)
				if m["name"] != s.Provenance.Model.Name || m["version"] != int64(s.Provenance.Model.Version) {
					t.Fatalf("read %+v, hamba/avro %+v", s.Provenance.Model, m)
				}
			}
		}
	})
}

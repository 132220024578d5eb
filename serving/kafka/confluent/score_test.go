package confluent_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/kafka/confluent"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// avroScore is a score record as hamba/avro decodes it.
type avroScore struct {
	Prediction struct {
		Value      float64   `avro:"value"`
		Values     []float64 `avro:"values"`
		Label      string    `avro:"label"`
		Confidence float64   `avro:"confidence"`
	} `avro:"prediction"`
	Provenance struct {
		Model struct {
			Name    string `avro:"name"`
			Version int64  `avro:"version"`
			ID      string `avro:"id"`
			Format  string `avro:"format"`
		} `avro:"model"`
		Decision *string `avro:"decision"`
	} `avro:"provenance"`
	Key       *[]byte `avro:"key"`
	Topic     string  `avro:"topic"`
	Partition int32   `avro:"partition"`
	Offset    int64   `avro:"offset"`
}

// decodeAvroScore reads the value of a Confluent-framed score record
// with hamba/avro and the schema the registry holds under the frame's
// ID, and returns it as a wire.Score. A value of ScoreCompactSchema has
// no provenance and no key: they are read from m's headers, with
// wire.ProvenanceOf, and from its key, as a reader of compact scores
// does.
func decodeAvroScore(t *testing.T, cl *sr.Client, m wire.Message) wire.Score {
	t.Helper()
	var h sr.ConfluentHeader
	id, body, err := h.DecodeID(m.Value)
	if err != nil {
		t.Fatalf("frame %x: %v", m.Value, err)
	}
	s, err := cl.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var a avroScore
	if err := avro.Unmarshal(avro.MustParse(s.Schema), body, &a); err != nil {
		t.Fatalf("avro: %v", err)
	}
	out := wire.Score{
		Prediction: serving.Prediction{Value: a.Prediction.Value, Values: a.Prediction.Values, Label: a.Prediction.Label, Confidence: a.Prediction.Confidence},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: a.Provenance.Model.Name, Version: uint64(a.Provenance.Model.Version), ID: a.Provenance.Model.ID, Format: a.Provenance.Model.Format}},
		Topic:      a.Topic, Partition: a.Partition, Offset: a.Offset,
	}
	if len(out.Prediction.Values) == 0 {
		out.Prediction.Values = nil
	}
	if a.Provenance.Decision != nil {
		out.Provenance.Decision = new(serving.Decision)
		if err := json.Unmarshal([]byte(*a.Provenance.Decision), out.Provenance.Decision); err != nil {
			t.Fatal(err)
		}
	}
	if a.Key != nil {
		out.SetKey(*a.Key)
	}
	if s.Schema == confluent.ScoreCompactSchema {
		if out.Provenance, err = wire.ProvenanceOf(m.Headers, m.Value); err != nil {
			t.Fatalf("provenance of a compact score: %v", err)
		}
		if m.Key != nil {
			out.SetKey(m.Key)
		}
	}
	return out
}

func newClient(t *testing.T, url string) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestAvroScoresRoundTrip encodes scores of every shape and decodes them
// back with hamba/avro and the schema registered in the registry.
func TestAvroScoresRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl := newClient(t, reg.URL())
	enc, err := confluent.NewAvroScores(ctx, cl, "scores-value")
	if err != nil {
		t.Fatal(err)
	}
	// Once registered, the schema is found again, not registered twice.
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value"); err != nil {
		t.Fatal(err)
	}
	if vs, err := cl.SubjectVersions(ctx, "scores-value"); err != nil || len(vs) != 1 {
		t.Fatalf("versions %v, %v; want one", vs, err)
	}
	m := serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}
	for name, s := range map[string]wire.Score{
		"plain":    {Prediction: serving.Prediction{Value: 0.25}, Provenance: serving.Provenance{Model: m}, Key: "order-1", Topic: "orders", Partition: 2, Offset: 99},
		"no key":   {Prediction: serving.Prediction{Value: -1e-300, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}, Topic: "t", Offset: 1 << 50},
		"binary":   {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: m}, KeyBase64: []byte{0xff, 0}, Topic: "t", Partition: -1},
		"values":   {Prediction: serving.Prediction{Value: 2, Values: []float64{0.1, 0.2, 0.7}, Label: "é"}, Provenance: serving.Provenance{Model: m}, Key: "k", Topic: "t"},
		"decision": {Prediction: serving.Prediction{Value: 0.93}, Provenance: serving.Provenance{Model: m, Decision: &serving.Decision{Combinator: "budget", Decider: "first", Candidates: []serving.Candidate{{Model: m, Latency: time.Millisecond, Status: serving.StatusOK}}}}, Key: "k", Topic: "t"},
	} {
		v, err := enc.AppendScore([]byte("prefix"), &s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(string(v), "prefix") {
			t.Fatalf("%s: AppendScore did not append: %q", name, v)
		}
		if got := decodeAvroScore(t, cl, wire.Message{Value: v[len("prefix"):]}); !reflect.DeepEqual(got, s) {
			t.Errorf("%s: decodes to\n%+v, want\n%+v", name, got, s)
		}
		if _, err := wire.DecodeScore(wire.Message{Value: v[len("prefix"):], Headers: wire.ProvenanceHeaders(s.Provenance)}); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: wire.DecodeScore of an Avro score: %v, want ErrMalformed", name, err)
		}
	}
	// What Avro could carry but no score encoding accepts.
	for name, s := range map[string]wire.Score{
		"NaN":        {Prediction: serving.Prediction{Value: math.NaN()}, Provenance: serving.Provenance{Model: m}},
		"infinite":   {Prediction: serving.Prediction{Value: 1, Confidence: math.Inf(1)}, Provenance: serving.Provenance{Model: m}},
		"an output":  {Prediction: serving.Prediction{Value: 1, Values: []float64{1, math.Inf(-1)}}, Provenance: serving.Provenance{Model: m}},
		"huge vers.": {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: math.MaxUint64}}},
		"label":      {Prediction: serving.Prediction{Value: 1, Label: "caf\xe9"}, Provenance: serving.Provenance{Model: m}, Topic: "t"},
		"model name": {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "\xff", Version: 1}}, Topic: "t"},
		"format":     {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1, Format: "x\xc3"}}, Topic: "t"},
		"topic":      {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: m}, Topic: "t\x80"},
	} {
		if v, err := enc.AppendScore([]byte("x"), &s); !errors.Is(err, wire.ErrMalformed) || string(v) != "x" {
			t.Errorf("%s: %q, %v; want ErrMalformed and nothing appended", name, v, err)
		}
	}
}

// TestAvroScoresCompact: with CompactScores the values carry the
// prediction and the origin only, in ScoreCompactSchema, registered under
// the subject as its own version beside ScoreSchema; the provenance comes
// back from the headers the Sink writes, and the key from the record's
// key. What only the provenance or the key could make unencodable (a
// version above the largest long, a model name that is not UTF-8) is
// encoded, since neither is in the value.
func TestAvroScoresCompact(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl := newClient(t, reg.URL())
	full, err := confluent.NewAvroScores(ctx, cl, "scores-value")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := confluent.NewAvroScores(ctx, cl, "scores-value", confluent.CompactScores())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value", confluent.CompactScores()); err != nil {
		t.Fatal(err)
	}
	if vs, err := cl.SubjectVersions(ctx, "scores-value"); err != nil || len(vs) != 2 {
		t.Fatalf("versions %v, %v; want two: ScoreSchema's and ScoreCompactSchema's", vs, err)
	}
	m := serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}
	for name, s := range map[string]wire.Score{
		"plain":    {Prediction: serving.Prediction{Value: 0.25}, Provenance: serving.Provenance{Model: m}, Key: "order-1", Topic: "orders", Partition: 2, Offset: 99},
		"no key":   {Prediction: serving.Prediction{Value: -1e-300, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}, Topic: "t", Offset: 1 << 50},
		"binary":   {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: m}, KeyBase64: []byte{0xff, 0}, Topic: "t", Partition: -1},
		"values":   {Prediction: serving.Prediction{Value: 2, Values: []float64{0.1, 0.2, 0.7}, Label: "é"}, Provenance: serving.Provenance{Model: m}, Key: "k", Topic: "t"},
		"decision": {Prediction: serving.Prediction{Value: 0.93}, Provenance: serving.Provenance{Model: m, Decision: &serving.Decision{Combinator: "budget", Decider: "first", Candidates: []serving.Candidate{{Model: m, Latency: time.Millisecond, Status: serving.StatusOK}}}}, Key: "k", Topic: "t"},
		"version":  {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: math.MaxUint64}}, Topic: "t"},
		"name":     {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "\xff/x", Version: 1, Format: "x\xc3"}}, Topic: "t"},
	} {
		v, err := enc.AppendScore([]byte("prefix"), &s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(string(v), "prefix") {
			t.Fatalf("%s: AppendScore did not append: %q", name, v)
		}
		v = v[len("prefix"):]
		// What a Sink writes beside the value: the provenance headers
		// and the input's key.
		msg := wire.Message{Key: s.InputKey(), Value: v, Headers: wire.ProvenanceHeaders(s.Provenance)}
		if got := decodeAvroScore(t, cl, msg); !reflect.DeepEqual(got, s) {
			t.Errorf("%s: decodes to\n%+v, want\n%+v", name, got, s)
		}
		var h sr.ConfluentHeader
		id, body, _ := h.DecodeID(v)
		if ss, err := cl.SchemaByID(ctx, id); err != nil || ss.Schema != confluent.ScoreCompactSchema {
			t.Errorf("%s: written with schema %d: %v, want ScoreCompactSchema", name, id, err)
		}
		// The value holds the prediction and the origin, nothing else.
		want := 8 + 1 + (1 + len(s.Label)) + 8 + (1 + len(s.Topic)) + varintLen(int64(s.Partition)) + varintLen(s.Offset)
		if len(s.Values) > 0 {
			want += 1 + 8*len(s.Values) // the block's count and its items
		}
		if len(body) != want {
			t.Errorf("%s: %d bytes of Avro, want %d", name, len(body), want)
		}
		if fv, err := full.AppendScore(nil, &s); err == nil && len(fv) <= len(v) {
			t.Errorf("%s: compact %d bytes, full %d", name, len(v), len(fv))
		}
	}
	for name, s := range map[string]wire.Score{
		"NaN":       {Prediction: serving.Prediction{Value: math.NaN()}, Provenance: serving.Provenance{Model: m}},
		"infinite":  {Prediction: serving.Prediction{Value: 1, Confidence: math.Inf(1)}, Provenance: serving.Provenance{Model: m}},
		"an output": {Prediction: serving.Prediction{Value: 1, Values: []float64{1, math.Inf(-1)}}, Provenance: serving.Provenance{Model: m}},
		"label":     {Prediction: serving.Prediction{Value: 1, Label: "caf\xe9"}, Provenance: serving.Provenance{Model: m}, Topic: "t"},
		"topic":     {Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: m}, Topic: "t\x80"},
	} {
		if v, err := enc.AppendScore([]byte("x"), &s); !errors.Is(err, wire.ErrMalformed) || string(v) != "x" {
			t.Errorf("%s: %q, %v; want ErrMalformed and nothing appended", name, v, err)
		}
	}
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value", nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("nil option: %v, want serving.ErrConfig", err)
	}
}

// varintLen is the length of x as an Avro long.
func varintLen(x int64) int { return len(binary.AppendVarint(nil, x)) }

// TestScoreCompactSchemaEvolves: a reader of ScoreCompactSchema reads
// records written with ScoreSchema, so a subject may move from the one to
// the other under BACKWARD compatibility, the registry's default; a
// reader of ScoreSchema cannot read compact records (their provenance has
// no default), so it may not move back. srfake does not check
// compatibility, so hamba/avro's resolution stands in for the registry's.
func TestScoreCompactSchemaEvolves(t *testing.T) {
	fullS, compactS := avro.MustParse(confluent.ScoreSchema), avro.MustParse(confluent.ScoreCompactSchema)
	sc := avro.NewSchemaCompatibility()
	if err := sc.Compatible(compactS, fullS); err != nil {
		t.Fatalf("ScoreCompactSchema cannot read ScoreSchema: %v", err)
	}
	if err := sc.Compatible(fullS, compactS); err == nil {
		t.Error("ScoreSchema reads ScoreCompactSchema, though its provenance has no default")
	}
	reg := srfake.New()
	t.Cleanup(reg.Close)
	enc, err := confluent.NewAvroScores(context.Background(), newClient(t, reg.URL()), "s")
	if err != nil {
		t.Fatal(err)
	}
	s := wire.Score{Prediction: serving.Prediction{Value: 0.5, Values: []float64{0.5, 0.5}, Label: "a", Confidence: 0.75},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 7}}, Key: "k", Topic: "orders", Partition: 3, Offset: 1234}
	v, err := enc.AppendScore(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := sc.Resolve(compactS, fullS)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := avro.Unmarshal(resolved, v[5:], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"prediction": map[string]any{"value": 0.5, "values": []any{0.5, 0.5}, "label": "a", "confidence": 0.75}, "topic": "orders", "partition": 3, "offset": int64(1234)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a ScoreSchema record read with ScoreCompactSchema:\n%#v, want\n%#v", got, want)
	}
}

// TestNewAvroScoresErrors: a registry that refuses the schema, one that
// is down, and bad arguments.
func TestNewAvroScoresErrors(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	var refuse, down atomic.Bool
	var status atomic.Int32
	h := reg.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case status.Load() != 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(status.Load()))
			fmt.Fprintf(w, `{"error_code":%d,"message":"refused"}`, status.Load())
		case down.Load():
			http.Error(w, `{"error_code":50301,"message":"down"}`, http.StatusServiceUnavailable)
		case refuse.Load() && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	cl := newClient(t, srv.URL)
	ctx := context.Background()

	refuse.Store(true)
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value"); !errors.Is(err, confluent.ErrIncompatible) {
		t.Errorf("refused: %v, want ErrIncompatible", err)
	}
	refuse.Store(false)
	down.Store(true)
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value"); !errors.Is(err, confluent.ErrUnavailable) {
		t.Errorf("down: %v, want ErrUnavailable", err)
	}
	down.Store(false)
	// Each answer of the registry's lookup, by whose fault it is: only
	// what may pass is ErrUnavailable.
	for _, c := range []struct {
		status int
		want   error
	}{
		{http.StatusUnauthorized, serving.ErrConfig},
		{http.StatusForbidden, serving.ErrConfig},
		{http.StatusBadRequest, serving.ErrConfig},
		{http.StatusMethodNotAllowed, serving.ErrConfig},
		{http.StatusUnprocessableEntity, confluent.ErrIncompatible},
		{http.StatusTooManyRequests, confluent.ErrUnavailable},
		{http.StatusInternalServerError, confluent.ErrUnavailable},
	} {
		status.Store(int32(c.status))
		_, err := confluent.NewAvroScores(ctx, cl, "scores-value")
		if !errors.Is(err, c.want) {
			t.Errorf("lookup answered %d: %v, want %v", c.status, err, c.want)
		}
		for _, other := range []error{serving.ErrConfig, confluent.ErrIncompatible, confluent.ErrUnavailable} {
			if other != c.want && errors.Is(err, other) {
				t.Errorf("lookup answered %d: %v is also %v", c.status, err, other)
			}
		}
	}
	status.Store(0)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if _, err := confluent.NewAvroScores(ctx, newClient(t, gone.URL), "scores-value"); !errors.Is(err, confluent.ErrUnavailable) {
		t.Errorf("no registry at the URL: %v, want ErrUnavailable", err)
	}
	withPassword := strings.Replace(gone.URL, "http://", "http://user:hunter2@", 1)
	if _, err := confluent.NewAvroScores(ctx, newClient(t, withPassword), "scores-value"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("no registry at a URL with a password: %v, want an error that does not quote the password", err)
	}
	if _, err := confluent.NewAvroScores(ctx, nil, "s"); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("nil client: %v", err)
	}
	if _, err := confluent.NewAvroScores(ctx, cl, ""); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("empty subject: %v", err)
	}
	if _, err := confluent.NewAvroScores(ctx, cl, "scores-value"); err != nil {
		t.Errorf("registry back: %v", err)
	}
}

// TestSinkWritesAvroScores runs a Source and a Sink writing Avro scores on
// the embedded broker, of each schema: each score decodes with hamba/avro
// to what the Scorer answered, with the provenance headers beside it (for
// compact scores, the provenance and the key come from the record alone);
// the record whose prediction is NaN, and the one whose label is not
// UTF-8, are dead-lettered with the reason.
func TestSinkWritesAvroScores(t *testing.T) {
	for name, opts := range map[string][]confluent.ScoreOption{"full": nil, "compact": {confluent.CompactScores()}} {
		t.Run(name, func(t *testing.T) { testSinkWritesAvroScores(t, opts...) })
	}
}

func testSinkWritesAvroScores(t *testing.T, opts ...confluent.ScoreOption) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl := newClient(t, reg.URL())
	enc, err := confluent.NewAvroScores(ctx, cl, kafka.DefaultScoresTopic+"-value", opts...)
	if err != nil {
		t.Fatal(err)
	}
	m := serving.ModelRef{Name: "m", Version: 2, ID: serving.ContentID([]byte("m")), Format: "linear"}
	scorer := serving.ScorerFunc(func(_ context.Context, r serving.Record) (serving.Result, error) {
		p := serving.Prediction{Value: r.Features[0] * 2}
		switch r.Features[0] {
		case 3:
			p.Value = math.NaN()
		case 5:
			p.Label = "\xff" // not UTF-8
		}
		return serving.Result{Prediction: p, Provenance: serving.Provenance{Model: m}}, nil
	})

	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewSink(ctx, cfg, kafka.ScoreEncoding(enc))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(cfg, "avro-out", scorer, sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	scores := c.Consume(t, kafka.DefaultScoresTopic)
	dlq := c.Consume(t, kafka.DefaultDeadLetterTopic)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		sink.Close()
	})
	var in []kafkatest.Message
	for i := range 6 {
		in = append(in, kafkatest.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "[%d]", i)})
	}
	c.Produce(t, kafka.DefaultDataTopic, in...)

	for i, msg := range scores.Next(t, 4) {
		x := i
		if i >= 3 {
			x++ // record 3 was dead-lettered
		}
		want := wire.Score{Prediction: serving.Prediction{Value: float64(2 * x)}, Provenance: serving.Provenance{Model: m}, Key: fmt.Sprint("k", x), Topic: kafka.DefaultDataTopic, Offset: int64(x)}
		if got := decodeAvroScore(t, cl, wire.Message{Key: msg.Key, Value: msg.Value, Headers: msg.Headers}); !reflect.DeepEqual(got, want) {
			t.Errorf("score %d: %+v, want %+v", i, got, want)
		}
		if p, err := wire.ProvenanceOf(msg.Headers, msg.Value); err != nil || p.Model != m {
			t.Errorf("score %d: headers give %v, %v", i, p.Model, err)
		}
		if string(msg.Key) != want.Key {
			t.Errorf("score %d: key %q", i, msg.Key)
		}
	}
	for i, dead := range dlq.Next(t, 2) {
		want := [...]struct{ off, reason string }{{"3", "not finite"}, {"5", "not UTF-8"}}[i]
		reason, _ := dead.Header(wire.HeaderDLQReason)
		if off, _ := dead.Header(wire.HeaderDLQOffset); off != want.off || !strings.Contains(reason, want.reason) || string(dead.Value) != "["+want.off+"]" {
			t.Errorf("dead letter %s at offset %s: %q, want offset %s for %q", dead.Value, off, reason, want.off, want.reason)
		}
	}
}

// TestAvroScoresWrongRegistryURL: a server that answers 404 to every
// path is not a registry that lacks the subject: NewAvroScores fails with
// serving.ErrConfig and posts nothing to it. It used to take the 404 for
// "not registered yet" and POST the schema to the wrong server.
func TestAvroScoresWrongRegistryURL(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			posts.Add(1) // a registration, not the lookup (POST /subjects/{s})
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	_, err := confluent.NewAvroScores(context.Background(), newClient(t, srv.URL), "scores-value")
	if !errors.Is(err, serving.ErrConfig) {
		t.Errorf("a server that is not a registry: %v, want serving.ErrConfig", err)
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d registrations posted to a server that is not a registry", n)
	}
}

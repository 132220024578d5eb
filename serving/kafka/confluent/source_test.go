package confluent_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/kafka/confluent"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestSourceScoresAvroAndDeadLettersBadFrames runs the codec inside a
// kafka.Source on the embedded broker: Avro records of two schema
// versions (the second registered mid-stream, with the nested field the
// model reads moved) are scored by a model that names its inputs, and a
// malformed frame, an unknown schema ID and a truncated record are each
// dead-lettered with their reason, while the records around them are
// scored; a null reaches the model as missing.
func TestSourceScoresAvroAndDeadLettersBadFrames(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	v1 := `{"type":"record","name":"Txn","fields":[{"name":"amount","type":"double"},
	  {"name":"merchant","type":{"type":"record","name":"M","fields":[{"name":"risk","type":["null","double"]}]}}]}`
	v2 := `{"type":"record","name":"Txn","fields":[{"name":"channel","type":"string"},
	  {"name":"merchant","type":{"type":"record","name":"M","fields":[{"name":"risk","type":["null","double"]},{"name":"age","type":"long"}]}},
	  {"name":"amount","type":"double"}]}`
	s1, err := cl.CreateSchema(ctx, "txn-value", sr.Schema{Schema: v1, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	frame := func(id int, schema string, v map[string]any) []byte {
		b, _ := h.AppendEncode(nil, id, nil)
		body, err := avro.Marshal(avro.MustParse(schema), v)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, body...)
	}

	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)), serving.WithNonFinite(serving.AllowMissing))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// score = amount + 10 * merchant.risk
	doc := linear.Document{Kind: linear.KindLinear, Features: 2, FeatureNames: []string{"amount", "merchant.risk"}, Weights: [][]float64{{1, 10}}, Bias: []float64{0}}
	mb, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: linear.FormatName, Bytes: mb}); err != nil {
		t.Fatal(err)
	}
	codec, err := confluent.New(cl)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewSink(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(cfg, "avro", srv.Model("m"), sink, kafka.RecordCodec(codec), kafka.CommitInterval(100*time.Millisecond), kafka.Topics(kafka.DefaultDataTopic))
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

	good := frame(s1.ID, v1, map[string]any{"amount": 5.0, "merchant": map[string]any{"risk": 0.5}})
	c.Produce(t, kafka.DefaultDataTopic,
		kafkatest.Message{Key: []byte("a"), Value: good},
		kafkatest.Message{Key: []byte("bad-magic"), Value: append([]byte{1}, good[1:]...)},
		kafkatest.Message{Key: []byte("b"), Value: frame(s1.ID, v1, map[string]any{"amount": 2.0, "merchant": map[string]any{"risk": 1.0}})},
		kafkatest.Message{Key: []byte("unknown-id"), Value: append([]byte{0, 0, 0, 0x30, 0x39}, good[5:]...)},
		kafkatest.Message{Key: []byte("truncated"), Value: good[:len(good)-3]},
	)
	got := scores.Next(t, 2)
	// A producer moves to v2 mid-stream.
	s2, err := cl.CreateSchema(ctx, "txn-value", sr.Schema{Schema: v2, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	c.Produce(t, kafka.DefaultDataTopic,
		kafkatest.Message{Key: []byte("c"), Value: frame(s2.ID, v2, map[string]any{"channel": "web", "merchant": map[string]any{"risk": 0.25, "age": int64(3)}, "amount": 1.0})},
		kafkatest.Message{Key: []byte("d"), Value: frame(s2.ID, v2, map[string]any{"channel": "pos", "merchant": map[string]any{"risk": nil, "age": int64(3)}, "amount": 7.0})},
	)
	got = append(got, scores.Next(t, 1)...)
	want := map[string]float64{"a": 10, "b": 12, "c": 3.5}
	for _, m := range got {
		s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[string(m.Key)]; ok && s.Prediction.Value != w {
			t.Errorf("score of %s: %v, want %v", m.Key, s.Prediction.Value, w)
		}
		if string(m.Key) == "d" {
			t.Errorf("d scored %v: its null risk was read as a number", s.Prediction.Value)
		}
	}
	reasons := map[string]string{"bad-magic": "malformed frame", "unknown-id": "unknown schema ID", "truncated": "does not match its schema"}
	for _, m := range dlq.Next(t, 4) {
		reason, _ := m.Header(wire.HeaderDLQReason)
		stage, _ := m.Header(wire.HeaderDLQStage)
		if string(m.Key) == "d" {
			// The null risk reached the model as missing (NaN), so the
			// linear model's output is NaN, which a score cannot carry.
			if stage != wire.StageScore {
				t.Errorf("dead letter d: stage %q reason %q", stage, reason)
			}
			continue
		}
		if w := reasons[string(m.Key)]; w == "" || !strings.Contains(reason, w) || stage != wire.StageDecode {
			t.Errorf("dead letter %s: stage %q reason %q", m.Key, stage, reason)
		}
	}
}

package kafka_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

func TestWireRoundTrip(t *testing.T) {
	d := serving.Descriptor{
		Name: "fraud", Format: "linear", Version: 7, Description: "weekly retrain",
		Bytes: []byte(`{"kind":"linear"}`), Created: time.Date(2026, 11, 25, 16, 53, 44, 123456789, time.UTC),
		Parent: "abc", Labels: map[string]string{"auc": "0.91", "features": "a,b"}, Signature: []byte{1, 2, 3, 250},
	}
	m, err := kafka.EncodeModel(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "fraud" {
		t.Errorf("key %q", m.Key)
	}
	got, err := kafka.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.SHA256 = serving.ContentID(d.Bytes) // filled in by EncodeModel
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// TestWireKcat decodes what `kcat -P -k fraud -H modelstream.format=linear
// -H modelstream.version=3 -T file` writes, plus headers from other tools.
func TestWireKcat(t *testing.T) {
	m := kafka.ModelMessage{Key: []byte("fraud"), Value: []byte("{}"), Headers: []sarama.RecordHeader{
		{Key: []byte("modelstream.format"), Value: []byte("linear")},
		{Key: []byte("modelstream.version"), Value: []byte("3")},
		{Key: []byte("traceparent"), Value: []byte("00-xyz")},
		{Key: []byte("modelstream.future-field"), Value: []byte("ignored")},
	}}
	d, err := kafka.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "fraud" || d.Format != "linear" || d.Version != 3 || string(d.Bytes) != "{}" {
		t.Errorf("decoded %+v", d)
	}
	m.Headers = m.Headers[:1] // no version: unassigned
	if d, err := kafka.DecodeModel(m, 0); err != nil || d.Version != 0 {
		t.Errorf("without version: %+v, %v", d, err)
	}
}

func TestWireErrors(t *testing.T) {
	h := func(kv ...string) []sarama.RecordHeader {
		var out []sarama.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			out = append(out, sarama.RecordHeader{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		m    kafka.ModelMessage
		want error
	}{
		{"no key", kafka.ModelMessage{Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear")}, kafka.ErrMissingName},
		{"no format", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x")}, kafka.ErrMissingFormat},
		{"version text", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear", kafka.HeaderVersion, "three")}, kafka.ErrBadVersion},
		{"version zero", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear", kafka.HeaderVersion, "0")}, kafka.ErrBadVersion},
		{"version negative", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear", kafka.HeaderVersion, "-1")}, kafka.ErrBadVersion},
		{"created", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear", kafka.HeaderCreated, "yesterday")}, kafka.ErrBadHeader},
		{"signature", kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(kafka.HeaderFormat, "linear", kafka.HeaderSignature, "!!")}, kafka.ErrBadHeader},
		{"empty", kafka.ModelMessage{Key: []byte("m"), Headers: h(kafka.HeaderFormat, "linear")}, kafka.ErrMissingModel},
		{"oversized", kafka.ModelMessage{Key: []byte("m"), Value: make([]byte, 11), Headers: h(kafka.HeaderFormat, "linear")}, kafka.ErrOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.DecodeModel(tc.m, 10)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var we *kafka.WireError
			if !errors.As(err, &we) || !strings.HasPrefix(err.Error(), "kafka: ") {
				t.Errorf("error %v is not a *WireError with the package prefix", err)
			}
		})
	}
	_, err := kafka.DecodeModel(kafka.ModelMessage{Key: []byte("m"), Value: make([]byte, 11), Headers: h(kafka.HeaderFormat, "x")}, 10)
	if !errors.Is(err, serving.ErrTooLarge) {
		t.Errorf("oversized does not match serving.ErrTooLarge: %v", err)
	}
	if _, err := kafka.EncodeModel(serving.Descriptor{Name: "m", Format: "f", Bytes: make([]byte, 11)}, 10); !errors.Is(err, kafka.ErrOversized) {
		t.Errorf("encode oversized: %v", err)
	}
	if _, err := kafka.EncodeModel(serving.Descriptor{Name: "m", Bytes: []byte("x")}, 0); !errors.Is(err, kafka.ErrMissingFormat) {
		t.Errorf("encode without format: %v", err)
	}
	if _, err := kafka.EncodeModel(serving.Descriptor{Name: "m", Format: "f"}, 0); !errors.Is(err, kafka.ErrMissingModel) {
		t.Errorf("encode without model: %v", err)
	}
}

// TestWireRepeatedHeaders: a repeated header keeps its last value, as
// documented (and as Java's Headers.lastHeader reads it), but every
// occurrence must parse; an empty label name is ignored.
func TestWireRepeatedHeaders(t *testing.T) {
	h := func(kv ...string) []sarama.RecordHeader {
		var out []sarama.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			out = append(out, sarama.RecordHeader{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return out
	}
	m := kafka.ModelMessage{Key: []byte("m"), Value: []byte("x"), Headers: h(
		kafka.HeaderFormat, "onnx", kafka.HeaderFormat, "linear",
		kafka.HeaderVersion, "2", kafka.HeaderVersion, "3",
		kafka.HeaderLabelPrefix+"team", "a", kafka.HeaderLabelPrefix+"team", "b",
		kafka.HeaderLabelPrefix, "nameless",
	)}
	d, err := kafka.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != "linear" || d.Version != 3 || len(d.Labels) != 1 || d.Labels["team"] != "b" {
		t.Errorf("decoded %+v", d)
	}
	m.Headers = h(kafka.HeaderFormat, "linear", kafka.HeaderVersion, "zero", kafka.HeaderVersion, "3")
	if _, err := kafka.DecodeModel(m, 0); !errors.Is(err, kafka.ErrBadVersion) {
		t.Errorf("a bad version followed by a good one: %v, want ErrBadVersion", err)
	}
}

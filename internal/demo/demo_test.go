package demo

import (
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestFormatAvroScore: an Avro score, whose prediction needs the
// registry, is shown by its key, schema ID and provenance headers, not
// as "not a score".
func TestFormatAvroScore(t *testing.T) {
	p := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("m")), Format: "linear"}, Decision: &serving.Decision{Combinator: "split"}}
	m := &sarama.ConsumerMessage{Topic: "scores", Partition: 1, Offset: 7, Key: []byte("card-1"),
		Value: []byte{0, 0, 0, 0, 42, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f}}
	for _, h := range wire.ProvenanceHeaders(p) {
		m.Headers = append(m.Headers, &sarama.RecordHeader{Key: h.Key, Value: h.Value})
	}
	got := FormatScore(m)
	for _, want := range []string{"scores/1@7", "key=card-1", "Avro, schema 42", "by fraud@v3", "via split"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "not a score") {
		t.Errorf("%q", got)
	}
	// Without provenance headers, the frame is still named for what it is.
	m.Headers = nil
	if got := FormatScore(m); !strings.Contains(got, "Avro, schema 42") || strings.Contains(got, " by ") {
		t.Errorf("no headers: %q", got)
	}
}

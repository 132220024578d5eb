package kafka

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestAppendCompactNumbers checks the hand-written compact encoding
// against wire's, byte for byte, on numbers where encoding/json changes
// notation (magnitudes 1e-6 and 1e21, either side), on signed zeros,
// subnormals and the extremes, and on 100k drawn at every magnitude.
// The fixed cases of TestAppendCompact pass with either threshold moved.
func TestAppendCompactNumbers(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 1e-6, math.Nextafter(1e-6, 0), 9.999999e-7, 1e21, math.Nextafter(1e21, 0),
		999999999999999900000, 5e-7, -5e-7, 1e-7, 1e-10, 1e-100, 5e-324, 2.2250738585072014e-308, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 2, 0.1, 1.0 / 3, 123456789.125, 1e20, 1e22}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		v := math.Float64frombits(r.Uint64())
		if finite(v) {
			vals = append(vals, v)
		}
	}
	in := &sarama.ConsumerMessage{Topic: "scores", Partition: 2, Offset: 7}
	var got, want []byte
	for i, v := range vals {
		p := serving.Prediction{Value: v, Confidence: vals[(i+1)%len(vals)]}
		var err error
		if got, err = appendCompact(got[:0], in, &serving.Result{Prediction: p}); err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if want, err = wire.ScoreCompact.AppendScore(want[:0], &wire.Score{Prediction: p, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}); err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%g:\n got %s\nwant %s", v, got, want)
		}
	}
}

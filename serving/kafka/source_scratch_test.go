package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestProcessReusesFeatures: a scoring worker decodes each batch's
// features over those of its previous batch, so that a batch costs no
// allocation for them once the buffer is grown; each record is still
// scored on its own features, and the scores already encoded from an
// earlier batch are not changed by the next.
func TestProcessReusesFeatures(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ref := serving.ModelRef{Name: "m", Version: 1}
	score := serving.ScorerFunc(func(_ context.Context, r serving.Record) (serving.Result, error) {
		f := r.Features
		return serving.Result{Prediction: serving.Prediction{Value: f[0] + 0.5*f[1] + 0.25*f[2]}, Provenance: serving.Provenance{Model: ref}}, nil
	})
	sink := &Sink{o: sinkOptions{topic: "out", dlq: "dlq", enc: wire.ScoreCompact}, max: 1 << 20}
	s := &Source{o: sourceOptions{codec: JSON{}, maxBatch: 1}, scorer: score, sink: sink, log: quiet}
	const n = 100
	batchOf := func(first int) *batch {
		b := &batch{items: make([]item, n), scored: make(chan struct{}), acked: make(chan struct{})}
		for i := range b.items {
			x := first + i
			b.items[i].msg = &sarama.ConsumerMessage{Topic: "in", Offset: int64(x), Value: fmt.Appendf(nil, "[%d, %d, %d]", x, 2*x, 4*x)}
		}
		return b
	}
	// want is the score of record x: x + 0.5*2x + 0.25*4x.
	check := func(b *batch, first int) {
		t.Helper()
		for i := range b.items {
			it := &b.items[i]
			if it.err != nil {
				t.Fatalf("record %d: %v", first+i, it.err)
			}
			v, _ := it.out.Value.Encode()
			want := fmt.Sprintf(`{"prediction":{"value":%s},"topic":"in","partition":0,"offset":%d}`, strconv.Itoa(3*(first+i)), first+i)
			if string(v) != want {
				t.Fatalf("record %d: %s, want %s", first+i, v, want)
			}
		}
	}
	var fs floatSlab
	first := batchOf(0)
	s.process(context.Background(), first, &fs)
	check(first, 0)
	second := batchOf(1000)
	s.process(context.Background(), second, &fs)
	check(second, 1000)
	check(first, 0) // encoded before the second batch wrote over the features

	// Batches of other sizes, the larger first met after a smaller one
	// had sized the buffer.
	big, small := batchOf(2000), batchOf(3000)
	big.items = append(big.items, batchOf(2000 + n).items[:n/2]...)
	small.items = small.items[:n/2]
	var b *batch
	again := func(k int) {
		b = []*batch{big, small}[k%2]
		for i := range b.items {
			b.items[i] = item{msg: b.items[i].msg}
		}
		b.scored = make(chan struct{})
		s.process(context.Background(), b, &fs)
	}
	again(0) // grows the buffer for 1.5n records
	sink.recycle(b.slab)
	allocs := testing.AllocsPerRun(20, func() {
		for k := range 2 {
			again(k + 1)
			sink.recycle(b.slab)
		}
	})
	again(0)
	check(big, 2000)
	again(1)
	check(small, 3000)
	// The channels made above are the allocations left: the score
	// records and values come from a recycled slab, the features from fs.
	if allocs > 2 && !raceEnabled {
		t.Errorf("%.0f allocations for two batches, want 2", allocs)
	}
}

package trainkafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// concept is a labelled record of the stream: y = [3·x0 + x1 > 0],
// and after the change y = [-3·x0 + x1 > 0].
func concept(r *rand.Rand, changed bool) ([]float64, float64) {
	x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
	z := 3*x[0] + x[1]
	if changed {
		z = -3*x[0] + x[1]
	}
	if z > 0 {
		return x, 1
	}
	return x, 0
}

// liveDrift is what runLiveDrift saw.
type liveDrift struct {
	published []serving.Descriptor
	live      serving.ModelRef
	liveAt    map[uint64]int // version -> the first record it scored
	wrong     []bool         // per record scored after v1, by the live version
	reports   int            // drift reports the trainer took
	feedback  feedback.ReaderStats
}

// runLiveDrift runs the whole loop on kfake: v1 is published to the
// models topic and a ModelFeed makes it live in a Server, which scores
// the stream; the scores and, later, the truth go to their topics, where
// a feedbackkafka.Reader joins them and a Page-Hinkley detector watches
// the live error, reporting drift to a Trainer that learns the same
// labelled stream from its data topic and publishes to the models topic.
func runLiveDrift(t *testing.T, n, change int) liveDrift {
	t.Helper()
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1), kafkatest.Topic(kafka.DefaultModelsTopic, 1),
		kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	brokers := cluster.Addrs()
	cfg := testConfig(t, brokers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rng := rand.New(rand.NewPCG(8, 9))

	// v1, learned offline, goes out on the models topic and live.
	pub, err := trainkafka.NewPublisher(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	first, _ := training.NewLearner(training.Logistic, 3)
	for range 1000 {
		x, y := concept(rng, false)
		if _, err := first.Learn(training.Sample{Features: x, Target: y}); err != nil {
			t.Fatal(err)
		}
	}
	v1, _ := first.Snapshot("m", "")
	v1.Version = 1
	if err := pub.Publish(ctx, v1); err != nil {
		t.Fatal(err)
	}
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	defer srv.Close()
	feed, err := kafka.NewModelFeed(cfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { feed.Run(ctx) })
	<-feed.CaughtUp()
	if ref, _ := srv.Current("m"); ref.Version != 1 {
		t.Fatalf("live after the feed caught up: %v", ref)
	}

	// The trainer, without a detector of its own.
	src, err := trainkafka.NewSource(t.Context(), cfg, "trainer", trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var mu sync.Mutex
	var out liveDrift
	l, _ := training.NewLearner(training.Logistic, 3)
	tr, err := training.NewTrainer("m", l, src, pub, training.RetrainOnDrift(300), training.WithLogger(quiet),
		training.WithObserver(func(e training.Event) {
			if e.Kind == training.EventPublished {
				mu.Lock()
				out.published = append(out.published, e.Descriptor)
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	trained := make(chan error, 1)
	wg.Go(func() { trained <- tr.Run(ctx) })

	// The live error, from the joined truth, reports drift.
	ph, _ := training.NewPageHinkley()
	watch, err := feedback.Drift(ph.Add, func(m feedback.Match) float64 {
		if (m.Score.Prediction.Value >= 0.5) == (m.Label.Value == 1) {
			return 0
		}
		return 1
	}, func(m feedback.Match) {
		if tr.ReportDrift(m.Score.Provenance.Model) {
			out.reports++ // on the Reader's goroutine only
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := feedback.NewJoiner(time.Hour, 10000)
	reader, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, watch, feedbackkafka.Retry(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { reader.Run(ctx) })

	// The stream, in batches: each record is scored by the live version;
	// its score, its truth and the labelled record go to their topics.
	// Each batch waits until its truth is joined and learned, as a
	// stream slower than the loop would.
	sc, _ := cfg.SaramaConfig(nil)
	p, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	model := srv.Model("m")
	out.liveAt = map[uint64]int{}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	const batch = 250
	for i := 0; i < n; {
		var msgs []*sarama.ProducerMessage
		for end := i + batch; i < end; i++ {
			x, y := concept(rng, i >= change)
			key := strconv.Itoa(i)
			res, err := model.Score(ctx, serving.Record{Key: []byte(key), Features: x})
			if err != nil {
				t.Fatal(err)
			}
			v := res.Provenance.Model.Version
			if _, ok := out.liveAt[v]; !ok {
				out.liveAt[v] = i
			}
			out.wrong = append(out.wrong, (res.Value >= 0.5) != (y == 1))
			sb, _ := json.Marshal(wire.Score{Key: key, Prediction: res.Prediction, Provenance: res.Provenance})
			at := t0.Add(time.Duration(i) * time.Millisecond)
			msgs = append(msgs,
				&sarama.ProducerMessage{Topic: "scores", Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(sb), Timestamp: at},
				&sarama.ProducerMessage{Topic: "labels", Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(strconv.FormatFloat(y, 'g', -1, 64)), Timestamp: at},
				&sarama.ProducerMessage{Topic: "training", Value: sarama.StringEncoder(fmt.Sprintf("%g,%g,%g,%g", x[0], x[1], x[2], y))})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for reader.Stats().Joined < uint64(i) || tr.Stats().Records < int64(i) {
			select {
			case err := <-trained:
				t.Fatalf("the trainer stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch up to %d: reader %+v, trainer %+v", i, reader.Stats(), tr.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A version published by the trainer goes live through the feed
		// before the next batch is scored.
		mu.Lock()
		last := uint64(0)
		if k := len(out.published); k > 0 {
			last = out.published[k-1].Version
		}
		mu.Unlock()
		for ref, _ := srv.Current("m"); ref.Version < last; ref, _ = srv.Current("m") {
			if time.Now().After(deadline) {
				t.Fatalf("v%d never went live", last)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	out.live, _ = srv.Current("m")
	out.feedback = reader.Stats()
	return out
}

func errorRate(wrong []bool) float64 {
	n := 0
	for _, w := range wrong {
		if w {
			n++
		}
	}
	return float64(n) / float64(len(wrong))
}

// TestLiveDriftRetrainsOverKafka: the concept of the stream changes at
// record 2,500. The drift detector on the live error, fed by the join
// of the scores topic and the feedback topic, reports it; the trainer
// retrains on the data topic and publishes v2 to the models topic, and
// the ModelFeed makes it live, after which the live error is low again.
// Exactly one version is published, for the live drift.
func TestLiveDriftRetrainsOverKafka(t *testing.T) {
	const n, change = 5000, 2500
	got := runLiveDrift(t, n, change)
	t.Logf("reports %d, published %d, live from %v, feedback %+v", got.reports, len(got.published), got.liveAt, got.feedback)
	if len(got.published) != 1 || got.published[0].Version != 2 || got.published[0].Labels[training.LabelTrigger] != string(training.TriggerLiveDrift) {
		t.Fatalf("published %+v, want v2 for the live drift", got.published)
	}
	at, ok := got.liveAt[2]
	if got.live.Version != 2 || !ok || at < change+300 || at > change+1500 {
		t.Fatalf("live %v, v2 first scored record %d (%v); want v2, within 1,500 records of the change at %d", got.live, at, ok, change)
	}
	before, between, after := errorRate(got.wrong[:change]), errorRate(got.wrong[change:at]), errorRate(got.wrong[at+250:])
	t.Logf("live error %.3f before the change, %.3f until v2, %.3f after", before, between, after)
	if before > 0.1 || between < 0.5 || after > 0.1 {
		t.Errorf("live error %.3f, %.3f, %.3f: want low, high, low", before, between, after)
	}
}

// TestNoLiveDriftNoVersionOverKafka runs the same loop on a stream that
// does not change: no drift is reported and nothing is published.
func TestNoLiveDriftNoVersionOverKafka(t *testing.T) {
	got := runLiveDrift(t, 3000, 1<<30)
	if len(got.published) != 0 || got.reports != 0 || got.live.Version != 1 || got.feedback.Joined != 3000 {
		t.Errorf("without a change: %d reports, published %+v, live %v, joined %d", got.reports, got.published, got.live, got.feedback.Joined)
	}
}

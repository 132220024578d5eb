// Command quickstart shows model-as-data end to end in under a minute,
// with nothing installed:
//
//	go run ./examples/quickstart
//
// It starts an embedded Kafka broker, publishes version 1 of a fraud
// model to the models topic, streams card transactions through a
// scoring pipeline, publishes version 2 halfway, and shows the scores
// switching to v2 without a restart. It ends with a summary.
//
// Flags:
//
//	-brokers host:port[,...]  run against a real Kafka cluster instead
//	-listen 127.0.0.1:9092    embedded broker on a fixed port, kept open
//	                          after the demo for kcat and friends (Ctrl-C ends)
//	-records 20000            how many transactions to stream
//	-rate 2000                transactions per second
//	-v                        log model events and pipeline warnings
//
// SIGINT or SIGTERM stops the stream, drains what is in flight, commits,
// and prints the summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"

	// Every model format, registered for its side effect, so that a
	// model of any of them published to the models topic (with kcat, or
	// from a trainer) loads here. A service imports only those it uses.
	_ "github.com/modelstream/modelstream/serving/formats/leaves"
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	_ "github.com/modelstream/modelstream/serving/formats/onnx"
	_ "github.com/modelstream/modelstream/serving/formats/pmml"
	_ "github.com/modelstream/modelstream/serving/formats/tensorflow"
	_ "github.com/modelstream/modelstream/serving/formats/xgboost"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded broker")
	listen := flag.String("listen", "", "embedded broker address, such as 127.0.0.1:9092, kept open after the demo")
	records := flag.Int("records", 20000, "transactions to stream")
	rate := flag.Int("rate", 2000, "transactions per second")
	verbose := flag.Bool("v", false, "log model events and pipeline warnings")
	flag.Parse()
	if *records < 2 || *rate < 1 {
		fmt.Fprintln(os.Stderr, "quickstart: -records must be at least 2 and -rate at least 1")
		os.Exit(2)
	}
	// sarama.Logger is a package variable that sarama's goroutines read
	// while they shut down, so it is set once here, not in run.
	sarama.Logger = discard{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *brokers, *listen, *records, *rate, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

const (
	dataTopic   = "transactions"
	scoresTopic = "scores"
	dlqTopic    = "scores.dlq"
	modelsTopic = kafka.DefaultModelsTopic
)

func run(ctx context.Context, brokers, listen string, n, rate int, verbose bool) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	start := time.Now()
	cl, err := demo.Connect(brokers, listen,
		demo.Topic{Name: dataTopic, Partitions: 4}, demo.Topic{Name: scoresTopic, Partitions: 4},
		demo.Topic{Name: dlqTopic, Partitions: 1}, demo.Topic{Name: modelsTopic, Partitions: 1})
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Printf("modelstream quickstart on the %s\n", cl.Where())
	fmt.Printf("model formats: %s\n", strings.Join(serving.Formats(), ", "))
	run := fmt.Sprintf("%x", rand.Uint32()) // tells this run's records from older ones on a real cluster

	// The scoring side: a Server, fed by the models topic.
	srv, err := serving.NewServer(serving.WithLogger(logger))
	if err != nil {
		return err
	}
	defer srv.Close()
	var announce atomic.Bool // after the demo, show models published by others
	kcfg, err := kafka.NewConfig(cl.Brokers, kafka.Logger(logger))
	if err != nil {
		return err
	}
	feed, err := kafka.NewModelFeed(kcfg, srv, kafka.Observer(func(e kafka.FeedEvent) {
		if announce.Load() {
			fmt.Printf("model feed: %s %s", e.Model, e.Outcome)
			if e.Err != nil {
				fmt.Printf(": %v", e.Err)
			}
			fmt.Println()
		}
	}))
	if err != nil {
		return err
	}
	// The feed runs until run returns, and run waits for it to close its
	// connections. Run returns early, with an error, if the models topic
	// cannot be read at all.
	feedCtx, stopFeed := context.WithCancel(context.Background())
	feedDone := make(chan struct{})
	var feedErr error
	go func() { feedErr = feed.Run(feedCtx); close(feedDone) }()
	defer func() { stopFeed(); <-feedDone }()

	// The training side publishes v1 (a real cluster may hold newer
	// versions from earlier runs; the demo then continues from there).
	pub, err := kafka.NewPublisher(ctx, kcfg)
	if err != nil {
		return err
	}
	defer pub.Close()
	select {
	case <-feed.CaughtUp():
	case <-feedDone:
		return fmt.Errorf("model feed: %w", feedErr)
	case <-ctx.Done():
		return nil
	}
	base, _ := srv.Current("fraud")
	v1, v2 := base.Version+1, base.Version+2
	if err := publish(ctx, pub, srv, v1); err != nil {
		return err
	}
	fmt.Printf("%5.1fs  published fraud@v%d; the model feed activated it\n", since(start), v1)

	// The tail: reads scores and dead letters from their current ends.
	view := newView(run, v1, v2)
	stopTail, tailLost, err := tail(cl.Brokers, view)
	if err != nil {
		return err
	}
	defer stopTail()

	// The pipeline: consumer group -> JSON codec -> fraud model -> sink.
	// JSON objects become named records, bound by name to the inputs of
	// whichever model version is live: there is no schema to declare.
	sink, err := kafka.NewSink(ctx, kcfg, kafka.Topic(scoresTopic), kafka.DeadLetterTopic(dlqTopic))
	if err != nil {
		return err
	}
	// This run's consumer group starts at the end of the data topic.
	fromNewest, err := kafka.NewConfig(cl.Brokers, kafka.Logger(logger),
		kafka.Sarama(func(c *sarama.Config) { c.Consumer.Offsets.Initial = sarama.OffsetNewest }))
	if err != nil {
		return err
	}
	src, err := kafka.NewSource(fromNewest, "quickstart-"+run, srv.Model("fraud"), sink,
		kafka.Topics(dataTopic), kafka.RecordCodec(kafka.JSON{}))
	if err != nil {
		return err
	}
	srcCtx, stopSrc := context.WithCancel(context.Background())
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(srcCtx) }()
	for src.Stats().Claims < 4 {
		select {
		case <-ctx.Done():
			stopSrc()
			return errors.Join(<-srcDone, sink.Close())
		case err := <-srcDone:
			stopSrc()
			return errors.Join(err, sink.Close())
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Printf("%5.1fs  pipeline joined group quickstart-%s: %s -> fraud model -> %s\n", since(start), run, dataTopic, scoresTopic)

	// The stream: n transactions at rate/s, v2 published halfway.
	produced, err := stream(ctx, cl.Brokers, run, n, rate, func() {
		if err := publish(ctx, pub, srv, v2); err != nil {
			fmt.Println("publish v2:", err)
			return
		}
		view.swapped(since(start))
	}, func() { view.print(since(start), srv, src) })
	if err != nil {
		fmt.Println("producer:", err)
	}

	// Wait for every transaction to come out, for Ctrl-C, or for the
	// pipeline (a write that failed for good) or the tail to stop on its
	// own.
	produced, stopped, srcErr := await(ctx, view, produced, srcDone, tailLost, func() { view.print(since(start), srv, src) })
	stopSrc()
	if !stopped {
		srcErr = errors.Join(srcErr, <-srcDone)
	}
	sinkErr := sink.Close()
	view.print(since(start), srv, src)
	view.summary(since(start), produced, srv, src, feed)
	if err := errors.Join(srcErr, sinkErr); err != nil {
		return err
	}
	if cl.Embedded != nil && listen != "" && ctx.Err() == nil {
		fmt.Printf("\nThe embedded broker stays open at %s. Try:\n", strings.Join(cl.Brokers, ","))
		fmt.Printf("  kcat -C -b %s -t %s -e -J | tail -3\n", cl.Brokers[0], scoresTopic)
		fmt.Printf("  go run ./examples/tail -brokers %s -topic %s -n 5\n", cl.Brokers[0], scoresTopic)
		fmt.Printf("  kcat -P -b %s -t %s -k fraud -H %s=linear -H %s=%d model.json   # shows up below\n", cl.Brokers[0], modelsTopic, wire.HeaderFormat, wire.HeaderVersion, v2+1)
		fmt.Printf("  go run ./examples/publish -brokers %s -file model.txt -format lightgbm   # any format above; the next version\n", cl.Brokers[0])
		fmt.Printf("The records are JSON objects with %s, in that order. A model that names its inputs so\n", strings.Join(demo.FraudFeatures, ", "))
		fmt.Println("(LightGBM and XGBoost keep the training data's column names) reads them by name; one that names none")
		fmt.Printf("(an ONNX export, say) reads them in that order if it takes %d numbers; with any other each record is\n", len(demo.FraudFeatures))
		fmt.Println("dead-lettered with the reason (the field it lacks, or the count it expected).")
		fmt.Println("Ctrl-C to stop.")
		announce.Store(true)
		<-ctx.Done()
	}
	return nil
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// await waits until every one of the produced transactions has come out,
// calling tick every half second. It returns early on Ctrl-C, with
// produced -1 (the summary then leaves out the count sent); when the
// Source stops on its own: stopped is then true and err is what its Run
// returned, read from srcDone; and when a partition of the tail stops,
// read from lost, with that error: the outputs can no longer be counted.
func await(ctx context.Context, v *view, produced int, srcDone, lost <-chan error, tick func()) (_ int, stopped bool, err error) {
	for !v.complete(produced) {
		select {
		case <-ctx.Done():
			fmt.Println("interrupted: draining the pipeline")
			return -1, false, nil
		case err := <-srcDone:
			fmt.Println("the pipeline stopped:", err)
			return produced, true, err
		case err := <-lost:
			fmt.Println("the tail stopped:", err)
			return produced, false, err
		case <-time.After(500 * time.Millisecond):
			tick()
		}
	}
	return produced, false, nil
}

// publish writes version v and waits until the Server has it live.
func publish(ctx context.Context, pub *kafka.Publisher, srv *serving.Server, v uint64) error {
	if _, _, err := pub.Publish(ctx, demo.FraudModel(v)); err != nil {
		return err
	}
	for {
		if r, _ := srv.Current("fraud"); r.Version >= v {
			return nil
		}
		if n, last := srv.Rejections("fraud"); n > 0 && last != nil {
			return fmt.Errorf("fraud@v%d rejected: %w", v, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stream produces n transactions at rate per second, one in 5000 of them
// malformed to show the dead-letter topic. It calls half once halfway and
// tick every second, and returns how many the cluster acknowledged, also
// when it stops on an error.
func stream(ctx context.Context, brokers []string, run string, n, rate int, half, tick func()) (int, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	const batch = 100
	interval := time.Duration(float64(time.Second) * batch / float64(rate))
	next, lastTick := time.Now(), time.Now()
	for i := 0; i < n; {
		msgs := make([]*sarama.ProducerMessage, 0, batch)
		for ; len(msgs) < batch && i < n; i++ {
			var v string
			if i%5000 == 4999 {
				v = `{"amount": "lots", "hour": 3}`
			} else {
				v = fmt.Sprintf(`{"amount": %.2f, "hour": %d, "new_device": %d}`, 20+rng.ExpFloat64()*100, rng.IntN(24), b2i(rng.Float64() < 0.15))
			}
			key := fmt.Sprintf("%s-card%03d", run, rng.IntN(500))
			msgs = append(msgs, &sarama.ProducerMessage{Topic: dataTopic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(v)})
			if i == n/2 {
				i++
				break
			}
		}
		if err := p.SendMessages(msgs); err != nil {
			return i - len(msgs) + acked(len(msgs), err), err
		}
		if i == n/2+1 {
			half()
		}
		if time.Since(lastTick) >= time.Second {
			tick()
			lastTick = time.Now()
		}
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			return i, nil
		case <-time.After(time.Until(next)):
		}
	}
	return n, nil
}

// acked returns how many of the n messages of a failed SendMessages the
// cluster acknowledged: SendMessages writes what it can, and its
// ProducerErrors name the messages that failed. The others are on the
// topic, and will be scored.
func acked(n int, err error) int {
	var failed sarama.ProducerErrors
	if errors.As(err, &failed) {
		return n - len(failed)
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// view aggregates the scores of this run.
type view struct {
	mu        sync.Mutex
	run       string
	v1, v2    uint64
	seen      map[[2]int64]bool // input partition, offset
	byVersion map[uint64]int
	fraud     map[uint64]int
	dups      int
	dead      int
	swappedAt float64
	firstV2   float64
	lastLine  string
}

func newView(run string, v1, v2 uint64) *view {
	return &view{run: run, v1: v1, v2: v2, seen: map[[2]int64]bool{}, byVersion: map[uint64]int{}, fraud: map[uint64]int{}}
}

func (v *view) add(m *sarama.ConsumerMessage) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.Topic == dlqTopic {
		if strings.HasPrefix(string(m.Key), v.run) {
			v.dead++
		}
		return
	}
	s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
	if err != nil || !strings.HasPrefix(s.Key, v.run) {
		return
	}
	k := [2]int64{int64(s.Partition), s.Offset}
	if v.seen[k] {
		v.dups++
		return
	}
	v.seen[k] = true
	ver := s.Provenance.Model.Version
	v.byVersion[ver]++
	if s.Label == "fraud" {
		v.fraud[ver]++
	}
	if ver == v.v2 && v.firstV2 == 0 {
		v.firstV2 = -1 // printed by print
	}
}

func (v *view) complete(produced int) bool {
	if produced < 0 {
		return true
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.seen)+v.dead >= produced
}

func (v *view) swapped(t float64) {
	v.mu.Lock()
	v.swappedAt = t
	v.mu.Unlock()
	fmt.Printf("%5.1fs  >>> published fraud@v%d mid-stream; live now, no restart\n", t, v.v2)
}

func (v *view) print(t float64, srv *serving.Server, src *kafka.Source) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.firstV2 == -1 {
		v.firstV2 = t
		fmt.Printf("%5.1fs  >>> first score by fraud@v%d arrived\n", t, v.v2)
	}
	live, _ := srv.Current("fraud")
	st := src.Stats()
	line := fmt.Sprintf("live=%-9s read=%-6d scored: v%d=%-6d v%d=%-6d dead=%d lag=%d",
		live, st.Consumed, v.v1, v.byVersion[v.v1], v.v2, v.byVersion[v.v2], v.dead, int(st.Consumed)-len(v.seen)-v.dead)
	if line == v.lastLine {
		return
	}
	v.lastLine = line
	fmt.Printf("%5.1fs  %s\n", t, line)
}

func (v *view) summary(t float64, produced int, srv *serving.Server, src *kafka.Source, feed *kafka.ModelFeed) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := src.Stats()
	fmt.Println("\nsummary")
	if produced >= 0 {
		fmt.Printf("  transactions sent     %d\n", produced)
	}
	fmt.Printf("  scores received       %d (+%d duplicates)\n", len(v.seen), v.dups)
	for _, ver := range []uint64{v.v1, v.v2} {
		n := v.byVersion[ver]
		rate := 0.0
		if n > 0 {
			rate = 100 * float64(v.fraud[ver]) / float64(n)
		}
		fmt.Printf("    by fraud@v%-3d       %6d   flagged as fraud %5.1f%%\n", ver, n, rate)
	}
	fmt.Printf("  dead letters          %d (malformed on purpose)\n", v.dead)
	fmt.Printf("  offsets committed     %d times, only after Kafka acknowledged the scores\n", st.Commits)
	fs := feed.Stats()
	fmt.Printf("  model messages        %d read, %d activated, %d rejected\n", fs.Read, fs.Activated, fs.Rejected+fs.Malformed)
	for _, s := range srv.Models() {
		fmt.Printf("  live model            %s, %d calls, mean %v\n", s.Model, s.Invocations, s.Mean)
	}
	fmt.Printf("  elapsed               %.1fs\n", t)
}

// tail reads the scores and dead-letter topics from their current ends
// into v. A partition that sarama gives up before stop (its offset out
// of range, its retries exhausted) is reported on lost, with the last
// error sarama returned for it.
func tail(brokers []string, v *view) (stop func(), lost <-chan error, err error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	// Without Return.Errors, sarama only logs the consumer's errors (here
	// to nowhere), and a partition it gives up goes unnoticed: the wait
	// for every transaction's output would never end.
	cfg.Consumer.Return.Errors = true
	cons, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return nil, nil, err
	}
	type part struct {
		topic string
		p     int32
		pc    sarama.PartitionConsumer
	}
	var pcs []part
	for _, topic := range []string{scoresTopic, dlqTopic} {
		parts, err := cons.Partitions(topic)
		if err != nil {
			cons.Close()
			return nil, nil, err
		}
		for _, p := range parts {
			pc, err := cons.ConsumePartition(topic, p, sarama.OffsetNewest)
			if err != nil {
				cons.Close()
				return nil, nil, err
			}
			pcs = append(pcs, part{topic, p, pc})
		}
	}
	stopping := make(chan struct{})
	out := make(chan error, len(pcs)) // one report per partition at most: never blocks
	for _, x := range pcs {
		go func() {
			msgs, errs := x.pc.Messages(), x.pc.Errors()
			var last error
			for msgs != nil || errs != nil {
				select {
				case m, ok := <-msgs:
					if !ok {
						msgs = nil
						continue
					}
					v.add(m)
				case e, ok := <-errs:
					if !ok {
						errs = nil
						continue
					}
					last = e.Err
				}
			}
			select {
			case <-stopping:
			default:
				if last == nil {
					last = errors.New("closed")
				}
				out <- fmt.Errorf("partition %s/%d: %w", x.topic, x.p, last)
			}
		}()
	}
	return func() {
		close(stopping)
		for _, x := range pcs {
			x.pc.AsyncClose()
		}
		cons.Close()
	}, out, nil
}

type discard struct{}

func (discard) Print(...any)          {}
func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

// Command scaleout shows scale-out and failover the Kafka way: three
// scoring instances share one consumer group, one of them is killed
// mid-stream, Kafka moves its partitions to the survivors, a new model
// version is published, and every survivor switches to it.
//
//	go run ./examples/scaleout
//
// With no flags it starts an embedded three-broker cluster. With
// -brokers host:port it runs the same instances against a real cluster.
// Each instance is what a production process runs: a serving.Server fed
// by its own ModelFeed (every instance reads the whole models topic),
// and a Source in the shared group writing through its own Sink, with
// Prometheus metrics and the admin handler, whose /readyz waits for the
// model and for the group join.
//
// Two instances run in this process. The third, the victim, is a child
// process (this same program, re-executed) and is killed with SIGKILL,
// so it neither drains nor commits nor leaves the group: the broker
// notices only when its session times out (6s here), and the survivors
// then score again what it had scored since its last commit. Those are
// the duplicates the summary counts: delivery is at least once.
//
// SIGINT or SIGTERM stops the demo gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/wire"
)

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded 3-broker cluster")
	records := flag.Int("records", 30000, "records to stream")
	flag.Parse()
	// sarama.Logger is a package variable that sarama's goroutines read
	// while they shut down, so it is set once here, not in run.
	sarama.Logger = discard{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, config{brokers: *brokers, records: *records, out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
	if rep.Missing > 0 {
		os.Exit(1)
	}
}

const (
	dataTopic   = "scaleout.data"
	scoresTopic = "scaleout.scores"
	dlqTopic    = "scaleout.dlq"
	modelsTopic = "scaleout.models"
	partitions  = 6
	instances   = 3
	victim      = 2 // index of the instance that is killed

	// childEnv, when set, makes the program run one instance and print
	// its progress, for the parent to kill: see childMain.
	childEnv = "MODELSTREAM_SCALEOUT_CHILD"
	// sessionTimeout is how long the group waits for a silent member.
	sessionTimeout = 6 * time.Second
)

type config struct {
	brokers string
	records int
	out     io.Writer
	logger  *slog.Logger
}

// Report is what the demo found; the test asserts on it.
type Report struct {
	Produced   int
	Unique     int
	Missing    int
	Duplicates int
	NewVersion uint64
	Instances  []InstanceReport
}

// InstanceReport describes one instance at the end.
type InstanceReport struct {
	ID           int
	Killed       bool
	ClaimsBefore int
	ClaimsAfter  int
	Scored       uint64
	Live         serving.ModelRef
	Ready        int // HTTP status of its /readyz
}

type instance struct {
	id     int
	srv    *serving.Server
	feed   *kafka.ModelFeed
	sink   *kafka.Sink
	src    *kafka.Source
	http   *httptest.Server
	stop   context.CancelFunc
	done   chan error // the Source's error, then the Sink's Close's
	joined chan struct{}
	// feedDone is closed when feed.Run has returned, feedErr.
	feedDone chan struct{}
	feedErr  error
}

func startInstance(ctx context.Context, id int, brokers []string, group string, logger *slog.Logger) (_ *instance, err error) {
	m, err := metrics.New()
	if err != nil {
		return nil, err
	}
	srv, err := serving.NewServer(serving.WithLogger(logger.With("instance", id)), serving.WithHooks(m))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			srv.Close()
		}
	}()
	kcfg, err := kafka.NewConfig(brokers, kafka.Logger(logger), kafka.Sarama(tuneSession))
	if err != nil {
		return nil, err
	}
	feed, err := kafka.NewModelFeed(kcfg, srv, kafka.Topic(modelsTopic))
	if err != nil {
		return nil, err
	}
	sink, err := kafka.NewSink(ctx, kcfg, kafka.Topic(scoresTopic), kafka.DeadLetterTopic(dlqTopic))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			sink.Close()
		}
	}()
	src, err := kafka.NewSource(kcfg, group, srv.Model("fraud"), sink,
		kafka.Topics(dataTopic), kafka.RecordCodec(kafka.JSON{}), kafka.Hooks(m))
	if err != nil {
		return nil, err
	}
	h, err := admin.New(srv, admin.RequireModels("fraud"), admin.Ready("kafka", src.Ready))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{id: id, srv: srv, feed: feed, sink: sink, src: src, http: httptest.NewServer(h), stop: cancel,
		done: make(chan error, 1), feedDone: make(chan struct{})}
	go func() {
		in.feedErr = feed.Run(ctx)
		close(in.feedDone)
	}()
	go func() {
		err := src.Run(ctx)
		in.done <- errors.Join(err, sink.Close())
	}()
	return in, nil
}

// caughtUp waits until the instance's feed has read the models topic to
// its end. It returns the feed's error if the feed cannot read the topic
// at all, and ctx's if ctx ends first.
func (in *instance) caughtUp(ctx context.Context) error {
	select {
	case <-in.feed.CaughtUp():
		return nil
	case <-in.feedDone:
		return fmt.Errorf("instance %d: model feed: %w", in.id, in.feedErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tuneSession makes a silent member expire after sessionTimeout, the
// smallest session Kafka allows by default.
func tuneSession(c *sarama.Config) {
	c.Consumer.Group.Session.Timeout = sessionTimeout
	c.Consumer.Group.Heartbeat.Interval = sessionTimeout / 6
}

func (in *instance) close() error {
	in.stop()
	err := <-in.done
	<-in.feedDone
	in.http.Close()
	in.srv.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (in *instance) ready() int {
	resp, err := in.http.Client().Get(in.http.URL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func run(ctx context.Context, c config) (rep Report, err error) {
	out := c.out
	logger := c.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "%5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	cl, err := demo.ConnectN(c.brokers, "", 3,
		demo.Topic{Name: dataTopic, Partitions: partitions}, demo.Topic{Name: scoresTopic, Partitions: partitions},
		demo.Topic{Name: dlqTopic, Partitions: 1}, demo.Topic{Name: modelsTopic, Partitions: 1})
	if err != nil {
		return rep, err
	}
	defer cl.Close()
	say("cluster: %s, topic %s with %d partitions", cl.Where(), dataTopic, partitions)
	runID := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	group := "scaleout-" + runID

	kcfg, err := kafka.NewConfig(cl.Brokers)
	if err != nil {
		return rep, err
	}
	pub, err := kafka.NewPublisher(ctx, kcfg, kafka.Topic(modelsTopic))
	if err != nil {
		return rep, err
	}
	defer pub.Close()

	// Instances 0 and 1 run here; instance 2, the victim, in a child.
	ins := make([]*instance, 0, instances-1)
	for i := range instances - 1 {
		in, err := startInstance(ctx, i, cl.Brokers, group, logger)
		if err != nil {
			return rep, err
		}
		ins = append(ins, in)
	}
	defer func() {
		for _, in := range ins {
			err = errors.Join(err, in.close())
		}
	}()
	kid, err := startChild(cl.Brokers, group, victim)
	if err != nil {
		return rep, err
	}
	defer kid.kill()
	for _, in := range ins {
		if err := in.caughtUp(ctx); err != nil {
			return rep, err
		}
	}
	base, _ := ins[0].srv.Current("fraud")
	v1, v2 := base.Version+1, base.Version+2
	rep.NewVersion = v2
	if _, _, err := pub.Publish(ctx, demo.FraudModel(v1)); err != nil {
		return rep, err
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return allLive(ins, v1) && kid.state().live >= v1 }); err != nil {
		return rep, fmt.Errorf("waiting for every instance to load v%d: %w (child: %+v)", v1, err, kid.state())
	}
	spread := func() bool { return balanced(ins, partitions/instances) && kid.state().claims == partitions/instances }
	if err := waitFor(ctx, 60*time.Second, spread); err != nil {
		return rep, fmt.Errorf("waiting for the group to spread %d partitions over %d instances: %w", partitions, instances, err)
	}
	before := claims(ins)
	before[victim] = kid.state().claims
	say("3 instances in group %s (instance %d is process %d), fraud@v%d live on each; partitions held: %v",
		group, victim, kid.cmd.Process.Pid, v1, before)

	coll, err := collect(cl.Brokers, runID)
	if err != nil {
		return rep, err
	}
	defer coll.close()

	prod, err := newProducer(cl.Brokers)
	if err != nil {
		return rep, err
	}
	defer prod.Close()
	n := c.records
	third := n / 3
	if err := produce(prod, runID, 0, third); err != nil {
		return rep, err
	}
	say("streamed %d records", third)
	// Kill the victim mid-stream, once it has done some of the work.
	if err := waitFor(ctx, 30*time.Second, func() bool { return kid.state().scored > 0 }); err != nil {
		return rep, fmt.Errorf("waiting for instance %d to score: %w", victim, err)
	}
	kid.kill()
	victimScored := kid.state().scored
	say("instance %d killed with SIGKILL after reporting %d records scored: no drain, no commit, no goodbye", victim, victimScored)

	if err := produce(prod, runID, third, 2*third); err != nil {
		return rep, err
	}
	say("streamed %d records; the group waits up to %v for the dead member", 2*third, sessionTimeout)
	if err := waitFor(ctx, 60*time.Second, func() bool { return balanced(ins, partitions/len(ins)) }); err != nil {
		return rep, fmt.Errorf("waiting for the survivors to take over: %w", err)
	}
	say("Kafka rebalanced: survivors hold %v partitions", claims(ins))

	if _, _, err := pub.Publish(ctx, demo.FraudModel(v2)); err != nil {
		return rep, err
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return allLive(ins, v2) }); err != nil {
		return rep, fmt.Errorf("waiting for the survivors to switch to v%d: %w", v2, err)
	}
	say("published fraud@v%d mid-stream: both survivors switched, no restart", v2)
	if err := produce(prod, runID, 2*third, n); err != nil {
		return rep, err
	}
	say("streamed all %d records", n)

	waitErr := waitFor(ctx, 90*time.Second, func() bool { return coll.unique() >= n || coll.lost() != nil })
	if err := coll.lost(); err != nil {
		// The count is incomplete: what is missing may be the collector's,
		// not the pipeline's.
		waitErr = errors.Join(waitErr, err)
	}
	rep.Produced = n
	rep.Unique, rep.Duplicates = coll.counts()
	rep.Missing = n - rep.Unique
	for _, in := range ins {
		ir := InstanceReport{ID: in.id, ClaimsBefore: before[in.id], Scored: in.src.Stats().Scored, ClaimsAfter: in.src.Stats().Claims}
		ir.Live, _ = in.srv.Current("fraud")
		ir.Ready = in.ready()
		rep.Instances = append(rep.Instances, ir)
	}
	rep.Instances = append(rep.Instances, InstanceReport{ID: victim, Killed: true, ClaimsBefore: before[victim], Scored: victimScored})
	fmt.Fprintf(out, "\nsummary\n")
	fmt.Fprintf(out, "  records sent %d, scored %d distinct, missing %d, duplicates %d\n", rep.Produced, rep.Unique, rep.Missing, rep.Duplicates)
	for _, ir := range rep.Instances {
		state := fmt.Sprintf("live %s, /readyz %d", ir.Live, ir.Ready)
		if ir.Killed {
			// The count is its last report: it went on scoring until the
			// signal landed, so it may be below the duplicates.
			state = "killed mid-stream; scored at least that many (its last report before the SIGKILL)"
		}
		fmt.Fprintf(out, "  instance %d: partitions %d -> %d, scored %6d, %s\n", ir.ID, ir.ClaimsBefore, ir.ClaimsAfter, ir.Scored, state)
	}
	if rep.Duplicates > 0 {
		fmt.Fprintf(out, "  duplicates: records the killed instance scored after its last commit (all of them if it died before\n")
		fmt.Fprintf(out, "  its first), scored again by a survivor\n")
	}
	return rep, waitErr
}

func allLive(ins []*instance, v uint64) bool {
	for _, in := range ins {
		if r, ok := in.srv.Current("fraud"); !ok || r.Version < v {
			return false
		}
	}
	return true
}

func claims(ins []*instance) map[int]int {
	m := map[int]int{}
	for _, in := range ins {
		m[in.id] = in.src.Stats().Claims
	}
	return m
}

// balanced reports whether each instance holds exactly each partitions.
func balanced(ins []*instance, each int) bool {
	for _, in := range ins {
		if in.src.Stats().Claims != each {
			return false
		}
	}
	return true
}

func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func newProducer(brokers []string) (sarama.SyncProducer, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	return sarama.NewSyncProducer(brokers, cfg)
}

// produce sends records [from, to) with keys runID-NNNNNN.
func produce(p sarama.SyncProducer, runID string, from, to int) error {
	const batch = 500
	for i := from; i < to; {
		msgs := make([]*sarama.ProducerMessage, 0, batch)
		for ; i < to && len(msgs) < batch; i++ {
			v := fmt.Sprintf(`{"amount": %d, "hour": %d, "new_device": %d}`, 10+i%400, i%24, i%7/6)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: dataTopic, Key: sarama.StringEncoder(fmt.Sprintf("%s-%07d", runID, i)), Value: sarama.StringEncoder(v)})
		}
		if err := p.SendMessages(msgs); err != nil {
			return err
		}
	}
	return nil
}

// collector reads the scores topic and counts outputs per input key.
type collector struct {
	mu       sync.Mutex
	prefix   string
	seen     map[string]int
	lostErr  error // the first partition sarama gave up, guarded by mu
	stopping chan struct{}
	cons     sarama.Consumer
	pcs      []sarama.PartitionConsumer
	wg       sync.WaitGroup
}

func collect(brokers []string, runID string) (*collector, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	// Without Return.Errors, sarama only logs the consumer's errors (here
	// to nowhere), and a partition it gives up goes unnoticed: its scores
	// would be reported missing, as if the pipeline had lost them.
	cfg.Consumer.Return.Errors = true
	cons, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	c := &collector{prefix: runID + "-", seen: map[string]int{}, stopping: make(chan struct{}), cons: cons}
	parts, err := cons.Partitions(scoresTopic)
	if err != nil {
		cons.Close()
		return nil, err
	}
	for _, p := range parts {
		pc, err := cons.ConsumePartition(scoresTopic, p, sarama.OffsetNewest)
		if err != nil {
			c.close()
			return nil, err
		}
		c.pcs = append(c.pcs, pc)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.read(p, pc)
		}()
	}
	return c, nil
}

// read counts the scores of partition p until its consumer closes, and
// notes it as lost, with sarama's last error for it, when that happens
// before close.
func (c *collector) read(p int32, pc sarama.PartitionConsumer) {
	msgs, errs := pc.Messages(), pc.Errors()
	var last error
	for msgs != nil || errs != nil {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
			if err != nil || len(s.Key) <= len(c.prefix) || s.Key[:len(c.prefix)] != c.prefix {
				continue
			}
			c.mu.Lock()
			c.seen[s.Key]++
			c.mu.Unlock()
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			last = e.Err
		}
	}
	select {
	case <-c.stopping:
		return
	default:
	}
	if last == nil {
		last = errors.New("closed")
	}
	c.mu.Lock()
	if c.lostErr == nil {
		c.lostErr = fmt.Errorf("the score collector lost partition %s/%d, so the count is incomplete: %w", scoresTopic, p, last)
	}
	c.mu.Unlock()
}

// lost returns the error of the first partition the collector lost, or
// nil.
func (c *collector) lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lostErr
}

func (c *collector) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *collector) counts() (unique, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen {
		dups += n - 1
	}
	return len(c.seen), dups
}

func (c *collector) close() {
	close(c.stopping)
	for _, pc := range c.pcs {
		pc.AsyncClose()
	}
	c.wg.Wait()
	c.cons.Close()
}

type discard struct{}

func (discard) Print(...any)          {}
func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

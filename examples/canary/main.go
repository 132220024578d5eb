// Command canary shows an automated rollout decided by live outcomes,
// end to end on Kafka, with nothing installed:
//
//	go run ./examples/canary
//
// It starts an embedded Kafka broker and runs two rollouts of a new
// version of a fraud model against the live one, each on its own topics.
// Transactions stream into a data topic; a kafka.Source scores each with
// a canary.Controller, which routes it to the champion (v1) or the
// candidate (v2), both real logistic models in serving.Servers, and the
// Sink writes the scores to a scores topic. The truth about each
// transaction ("fraud" or "ok") arrives later on a feedback topic, for 80%
// of them, some time after the transaction. A feedbackkafka.Reader joins
// the truth to the scores; the joined outcomes measure live quality per
// version (package serving/quality) and feed the Controller's quality
// guardrail.
//
// The Controller ramps the candidate through 1%, 5%, 25% and 100% of the
// traffic while its error rate, latency and live error rate are shown no
// worse than the champion's, and rolls it back as soon as one is shown
// worse. A good candidate (wrong on about 7% of transactions, against the
// champion's 10%) is promoted; a bad one (wrong on about 30%) is rolled
// back before 5% of the traffic saw it. The program prints every decision
// with its evidence, and writes canary.png: the candidate's traffic share
// and both versions' live accuracy over time, with the decisions marked.
//
// Flags (all optional):
//
//	-brokers host:port[,...]  use a real Kafka cluster instead of the embedded one
//	-out canary.png           where to write the chart
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded broker")
	out := flag.String("out", "canary.png", "where to write the chart")
	flag.Parse()
	// sarama.Logger is a package variable that sarama's goroutines read
	// while they shut down, so it is set once here, not in runBoth.
	sarama.Logger = discard{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := defaultConfig()
	cfg.brokers = *brokers
	good, bad, err := runBoth(ctx, os.Stdout, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "canary:", err)
		os.Exit(1)
	}
	if err := chart(*out, good, bad); err != nil {
		fmt.Fprintln(os.Stderr, "canary:", err)
		os.Exit(1)
	}
	fmt.Printf("\nchart written to %s\n", *out)
	if good.final.Action != canary.Promote {
		fmt.Fprintf(os.Stderr, "canary: the good candidate was not promoted: %s\n", good.final.Reason)
		os.Exit(1)
	}
	if bad.final.Action != canary.Rollback || bad.final.Seen >= 0.05 {
		fmt.Fprintf(os.Stderr, "canary: the bad candidate was not rolled back before 5%% of the traffic saw it: %s (seen %.2f%%)\n", bad.final.Reason, 100*bad.final.Seen)
		os.Exit(1)
	}
}

// config is what a run needs.
type config struct {
	brokers     string        // empty starts an embedded broker
	maxRecords  int           // a rollout gives up (and holds) after this many transactions
	evalEvery   int           // scored transactions between evaluations
	labelDelay  int           // transactions between one and its truth
	labelled    float64       // share of transactions whose truth arrives
	ahead       int           // how far the producer may run ahead of the scoring, and of the join
	minCalls    uint64        // canary.MinCalls
	minOutcomes uint64        // canary.MinOutcomes
	stuck       time.Duration // how long the producer waits for a pipeline that does not move
}

func defaultConfig() config {
	return config{maxRecords: 400000, evalEvery: 1000, labelDelay: 2000, labelled: 0.8, ahead: 1500, minCalls: 400, minOutcomes: 200, stuck: 2 * time.Minute}
}

// scenario is one rollout: the candidate's error in the angle of its
// decision boundary, in degrees (the champion's is 22°).
type scenario struct {
	name  string
	slug  string // topic prefix
	angle float64
}

var scenarios = [2]scenario{
	{name: "good candidate", slug: "canary-good", angle: 12},
	{name: "bad candidate", slug: "canary-bad", angle: 100},
}

// The concept: a transaction is fraud when cos φ·amount + sin φ·velocity
// > 1 (about 18% are), where amount and velocity are standardised; 3% of
// the truth is noise. A model whose boundary is turned by d degrees from
// the truth's is wrong on about 3% + 0.35%·d of the transactions, up to
// d ≈ 90°: the champion, at 22°, on about 10%.
const (
	truthAngle    = 30.0
	championAngle = truthAngle + 22
	noise         = 0.03
)

// fraudModel is a logistic model whose boundary is at angle degrees.
func fraudModel(v uint64, angle float64) serving.Descriptor {
	a := angle * math.Pi / 180
	const sharp = 4 // the steepness of the probability across the boundary
	doc := linear.Document{
		Kind: linear.KindLogistic, Features: 3, FeatureNames: []string{"amount", "velocity", "distance"},
		Weights: [][]float64{{sharp * math.Cos(a), sharp * math.Sin(a), 0}}, Bias: []float64{-sharp},
		Classes: []string{"ok", "fraud"},
	}
	b, err := doc.Marshal()
	if err != nil {
		panic(err)
	}
	return serving.Descriptor{Name: "fraud", Format: linear.FormatName, Version: v, Bytes: b,
		Description: fmt.Sprintf("fraud model v%d, boundary at %g°", v, angle)}
}

// transaction draws a transaction's features and its truth from r.
func transaction(r *rand.Rand) (x [3]float64, fraud bool) {
	x = [3]float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
	a := truthAngle * math.Pi / 180
	fraud = math.Cos(a)*x[0]+math.Sin(a)*x[1] > 1
	if r.Float64() < noise {
		fraud = !fraud
	}
	return x, fraud
}

// point is the state after one evaluation.
type point struct {
	record           int
	share            float64
	accCand, accCham float64 // live accuracy so far, NaN before any outcome
}

// mark is a decision that changed the rollout, at the count of scored
// transactions when it was taken.
type mark struct {
	record int
	d      canary.Decision
}

// result is one rollout's story.
type result struct {
	scenario
	points   []point
	marks    []mark
	final    canary.Decision
	audited  int
	feedback feedback.ReaderStats
	quality  []quality.Series
}

// runBoth runs the two rollouts, one after the other, on one cluster.
func runBoth(ctx context.Context, w io.Writer, cfg config) (good, bad result, err error) {
	var topics []demo.Topic
	suffix := ""
	if cfg.brokers != "" {
		// A real cluster keeps earlier runs' records: each run has its
		// own topics.
		suffix = fmt.Sprintf("-%d", time.Now().Unix())
	}
	for _, sc := range scenarios {
		for _, t := range []demo.Topic{{Name: ".transactions", Partitions: 4}, {Name: ".scores", Partitions: 4}, {Name: ".feedback", Partitions: 2}} {
			topics = append(topics, demo.Topic{Name: sc.slug + suffix + t.Name, Partitions: t.Partitions})
		}
	}
	cl, err := demo.Connect(cfg.brokers, "", topics...)
	if err != nil {
		return good, bad, err
	}
	defer cl.Close()
	fmt.Fprintf(w, "canary rollouts on the %s\n", cl.Where())
	var res [2]result
	for i, sc := range scenarios {
		sc.slug += suffix
		if res[i], err = run(ctx, w, cl.Brokers, cfg, sc); err != nil {
			return good, bad, fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return res[0], res[1], nil
}

// run runs one rollout on the topics named after sc.slug.
func run(ctx context.Context, w io.Writer, brokers []string, cfg config, sc scenario) (result, error) {
	res := result{scenario: sc}
	quiet := slog.New(slog.DiscardHandler)
	dataTopic, scoresTopic, feedbackTopic := sc.slug+".transactions", sc.slug+".scores", sc.slug+".feedback"
	fmt.Fprintf(w, "\n%s: champion fraud@v1 (boundary off by 22°), candidate fraud@v2 (off by %g°)\n", sc.name, sc.angle)
	fmt.Fprintf(w, "  %s -> canary -> %s, truth on %s joined by feedbackkafka\n", dataTopic, scoresTopic, feedbackTopic)

	// The two versions, each live in a Server of its own.
	var sides [2]*serving.Server
	for i, d := range []serving.Descriptor{fraudModel(1, championAngle), fraudModel(2, truthAngle+sc.angle)} {
		srv, err := serving.NewServer(serving.WithLogger(quiet))
		if err != nil {
			return res, err
		}
		defer srv.Close()
		if _, err := srv.Activate(ctx, d); err != nil {
			return res, err
		}
		sides[i] = srv
	}
	var audited atomic.Int64
	audit, err := governance.NewAudit(governance.AuditLogger(quiet),
		governance.AuditTo(governance.AuditSinkFunc(func(context.Context, governance.Event) error { audited.Add(1); return nil })))
	if err != nil {
		return res, err
	}
	c, err := canary.New(sides[0].Model("fraud"), sides[1].Model("fraud"),
		canary.Name(sc.name), canary.Seed(1), canary.Audit(audit),
		canary.MinCalls(cfg.minCalls), canary.MinOutcomes(cfg.minOutcomes), canary.QualityMargin(0.01))
	if err != nil {
		return res, err
	}

	// Live quality, and the quality guardrail, from the joined truth.
	tr, err := quality.NewTracker(8)
	if err != nil {
		return res, err
	}
	observe, err := feedback.Observe(tr, feedback.Binary, "ok", "fraud")
	if err != nil {
		return res, err
	}
	onMatch := func(m feedback.Match) error {
		loss := 1.0 // the 0/1 loss: was the class named by the truth the one predicted?
		if m.Label.Class == m.Score.Prediction.Label {
			loss = 0
		}
		return errors.Join(observe(m), c.Outcome(m.Variant(), loss))
	}
	kcfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		return res, err
	}
	j, err := feedback.NewJoiner(time.Hour, 50000)
	if err != nil {
		return res, err
	}
	reader, err := feedbackkafka.NewReader(kcfg, scoresTopic, feedbackTopic, j, onMatch, feedbackkafka.Retry(200*time.Millisecond))
	if err != nil {
		return res, err
	}

	// The scoring pipeline, evaluating the rollout every evalEvery scores.
	var (
		mu      sync.Mutex // guards res.points, res.marks, res.final
		scored  atomic.Int64
		decided = make(chan struct{})
	)
	accuracy := func() (cand, champ float64) {
		cand, champ = math.NaN(), math.NaN()
		for _, s := range tr.Snapshot() {
			if s.Accuracy.N == 0 {
				continue
			}
			if s.Variant == canary.Candidate {
				cand = s.Accuracy.Value
			} else if s.Variant == canary.Champion {
				champ = s.Accuracy.Value
			}
		}
		return cand, champ
	}
	evaluate := func() {
		mu.Lock()
		defer mu.Unlock()
		if res.final.Action != "" {
			return
		}
		// The scorers run concurrently, so the calls that ask for an
		// evaluation may reach the lock out of order: each point is placed
		// at the count scored when it is taken, under the lock, so that
		// the points (and the chart's lines) run forward in records as in
		// time.
		n := int(scored.Load())
		d := c.Evaluate(ctx)
		cand, champ := accuracy()
		res.points = append(res.points, point{record: n, share: d.Share, accCand: cand, accCham: champ})
		if d.Action == canary.Hold {
			return
		}
		res.marks = append(res.marks, mark{record: n, d: d})
		fmt.Fprintf(w, "  %8d scored  %-8s  candidate share now %5.1f%%, has seen %5.2f%% of all traffic: %s\n", n, d.Action, 100*d.Share, 100*d.Seen, d.Reason)
		if d.Action == canary.Promote || d.Action == canary.Rollback {
			res.final = d
			close(decided)
		}
	}
	scorer := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		out, err := c.Score(ctx, r)
		if n := scored.Add(1); n%int64(cfg.evalEvery) == 0 {
			evaluate()
		}
		return out, err
	})
	sink, err := kafka.NewSink(ctx, kcfg, kafka.Topic(scoresTopic))
	if err != nil {
		return res, err
	}
	defer sink.Close()
	src, err := kafka.NewSource(kcfg, sc.slug+"-scoring", scorer, sink, kafka.Topics(dataTopic), kafka.RecordCodec(kafka.JSON{}))
	if err != nil {
		return res, err
	}

	// Start the reader and the pipeline, then stream transactions and,
	// labelDelay transactions later, their truth.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() { errs <- reader.Run(runCtx) })
	wg.Go(func() { errs <- src.Run(runCtx) })
	wg.Go(func() {
		errs <- produce(runCtx, brokers, cfg, dataTopic, feedbackTopic, progress{
			scored: func() int64 { return scored.Load() },
			joined: func() int64 { return int64(reader.Stats().Joined) },
		}, decided)
	})
	select {
	case <-decided:
	case err = <-errs: // the stream ended undecided, or something failed
	case <-ctx.Done():
	}
	stop()
	wg.Wait()
	close(errs)
	for e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			err = errors.Join(err, e)
		}
	}
	if err != nil {
		// Say where the rollout stands, so that a failure tells a
		// rollout short of evidence from a pipeline that stopped.
		d := c.Evaluate(context.Background())
		return res, fmt.Errorf("%w; evaluated now: %s at %g%%: %s", err, d.Action, 100*d.Share, d.Reason)
	}

	mu.Lock()
	defer mu.Unlock()
	if res.final.Action == "" {
		res.final = c.Evaluate(context.Background())
	}
	res.audited = int(audited.Load())
	res.feedback = reader.Stats()
	res.quality = tr.Snapshot()
	fs := res.feedback
	fmt.Fprintf(w, "  outcome: %s after %d scored; %d decisions in the audit trail\n", c.Status().Outcome, scored.Load(), res.audited)
	fmt.Fprintf(w, "  feedback: %d scores and %d labels read, %d joined (%d of them before their score), %d duplicate scores, %d bad labels\n",
		fs.Scores, fs.Labels, fs.Joined, fs.Early, fs.DuplicateScores, fs.BadLabels)
	for _, s := range res.quality {
		fmt.Fprintf(w, "  live quality %s@v%d (%s): accuracy %.4f [%.4f, %.4f] over %d, log-loss %.3f, AUC %.3f\n",
			s.Model, s.Version, s.Variant, s.Accuracy.Value, s.Accuracy.Low, s.Accuracy.High, s.Accuracy.N, s.LogLoss.Value, s.AUC.Value)
	}
	writeGuardrails(w, cfg, res.final.Guardrails)
	return res, nil
}

// writeGuardrails prints the evidence of the last evaluation, one line
// per guardrail, with the counts it rests on. A guardrail without
// enough data on a side says so, rather than showing the zeros of a
// measure that was not taken.
func writeGuardrails(w io.Writer, cfg config, gs []canary.Guardrail) {
	for _, g := range gs {
		unit, least := "calls", cfg.minCalls
		if g.Name == "quality" {
			unit, least = "outcomes", cfg.minOutcomes
		}
		if g.Verdict == "no data" {
			fmt.Fprintf(w, "    %-8s no data yet: %d candidate and %d champion %s, %d a side needed\n",
				g.Name, g.N[0], g.N[1], unit, least)
			continue
		}
		fmt.Fprintf(w, "    %-8s candidate %.4f  champion %.4f  difference in [%+.4f, %+.4f], margin %.3f: %s (%d and %d %s)\n",
			g.Name, g.Candidate, g.Champion, g.Low, g.High, g.Margin, g.Verdict, g.N[0], g.N[1], unit)
	}
}

// progress tells the producer how far the pipeline got: the
// transactions scored, and the truths joined to their scores.
type progress struct {
	scored, joined func() int64
}

// errStopped is produce's error when neither the scoring nor the join
// moved for cfg.stuck.
var errStopped = errors.New("the pipeline stopped")

// produce writes transactions to dataTopic, and the truth of each (for
// cfg.labelled of them) to feedbackTopic labelDelay transactions later,
// keyed alike. It stays at most cfg.ahead transactions ahead of the
// scoring, and at most cfg.ahead truths ahead of the join, so that a
// truth reaches the Controller about labelDelay transactions after its
// transaction however slowly the machine runs the feedback reader: the
// transactions a rollout takes then depend on the rollout, not on the
// machine's speed. It returns when done closes, when ctx is done, or
// with an error after cfg.maxRecords transactions, the rollout
// undecided, or with errStopped when neither the scoring nor the join
// moved for cfg.stuck while it waited.
func produce(ctx context.Context, brokers []string, cfg config, dataTopic, feedbackTopic string, at progress, done <-chan struct{}) error {
	sc := sarama.NewConfig()
	sc.Version = kafka.DefaultVersion
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		return err
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(3, 14))
	type truth struct {
		key   string
		fraud bool
		keep  bool
	}
	var pending []truth
	var truths int64 // truths written
	const batch = 500
	for i := 0; i < cfg.maxRecords; {
		last, moved := [2]int64{at.scored(), at.joined()}, time.Now()
		for {
			now := [2]int64{at.scored(), at.joined()}
			if int64(i)-now[0] <= int64(cfg.ahead) && truths-now[1] <= int64(cfg.ahead) {
				break
			}
			if now != last {
				last, moved = now, time.Now()
			} else if time.Since(moved) > cfg.stuck {
				return fmt.Errorf("%w: %d of %d transactions scored and %d of %d truths joined, none more in %v", errStopped, now[0], i, now[1], truths, cfg.stuck)
			}
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Millisecond):
			}
		}
		msgs := make([]*sarama.ProducerMessage, 0, 2*batch)
		for end := i + batch; i < end; i++ {
			x, fraud := transaction(rng)
			key := fmt.Sprintf("tx%07d", i)
			v := fmt.Sprintf(`{"amount": %.4f, "velocity": %.4f, "distance": %.4f}`, x[0], x[1], x[2])
			msgs = append(msgs, &sarama.ProducerMessage{Topic: dataTopic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(v)})
			pending = append(pending, truth{key, fraud, rng.Float64() < cfg.labelled})
			if len(pending) > cfg.labelDelay {
				t := pending[0]
				pending = pending[1:]
				if t.keep {
					truths++
					msgs = append(msgs, &sarama.ProducerMessage{Topic: feedbackTopic, Key: sarama.StringEncoder(t.key), Value: sarama.StringEncoder(label(t.fraud))})
				}
			}
		}
		if err := p.SendMessages(msgs); err != nil {
			return err
		}
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return nil
		default:
		}
	}
	return fmt.Errorf("no decision after %d transactions (%d scored, %d of %d truths joined)", cfg.maxRecords, at.scored(), at.joined(), truths)
}

// label is a feedback record's value: the true class, by name.
func label(fraud bool) string {
	if fraud {
		return `"fraud"`
	}
	return `"ok"`
}

type discard struct{}

func (discard) Print(...any)          {}
func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}

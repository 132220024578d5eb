// Command retrain closes the model-as-data loop on a stream whose
// concept shifts halfway, with nothing installed:
//
//	go run ./examples/retrain
//
// It starts an embedded Kafka broker and streams labelled events. The
// serving side (a serving.Server fed by a ModelFeed on the models topic)
// scores every event with whatever version is live, and we keep its
// rolling accuracy as the events' labels arrive. The same events go to a
// training topic, where a training.Trainer in a consumer group of its
// own learns them with a logistic regression, publishing a version every
// few thousand records.
//
// Halfway, the concept flips. The served model's accuracy collapses; the
// trainer's Page-Hinkley detector sees its progressive error rise, resets
// the learner, retrains it on the records after the change, and publishes
// a new version; the ModelFeed hot-swaps it in and the rolling accuracy
// recovers. The program prints the timeline and writes retrain.png, a
// plot of the rolling accuracy with the versions marked.
//
// Flags (all optional):
//
//	-brokers host:port[,...]  use a real Kafka cluster instead of the embedded one
//	-out retrain.png          where to write the plot
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
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded broker")
	out := flag.String("out", "retrain.png", "where to write the plot")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := defaultConfig()
	cfg.plot = *out
	if *brokers != "" {
		// A real cluster keeps earlier runs' data, models and offsets.
		// The trainer would number after an earlier run's versions (it
		// reads the models topic when it starts), but the feed would
		// start by serving the earlier run's last model, trained on the
		// shifted concept, and spoil the story: so each run uses its own
		// topics and consumer group.
		cfg.brokers = strings.Split(*brokers, ",")
		run := fmt.Sprintf("-%d", time.Now().Unix())
		cfg.training += run
		cfg.models += run
		cfg.group += run
	}
	if _, err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "retrain:", err)
		os.Exit(1)
	}
}

type config struct {
	brokers  []string // nil starts an embedded broker
	records  int      // events in the stream
	shift    int      // index of the first event of the new concept
	perSec   int      // events per second
	window   int      // rolling accuracy window
	every    int64    // publish every n records
	retrain  int64    // records to retrain on after drift
	plot     string   // PNG path; empty writes none
	model    string
	group    string // the trainer's consumer group
	training string // topic names
	models   string
	// wrap, when set, wraps the trainer's source: the test's fault
	// injection.
	wrap func(training.Source) training.Source
}

func defaultConfig() config {
	return config{records: 16000, shift: 8000, perSec: 4000, window: 500, every: 3000, retrain: 400,
		plot: "retrain.png", model: "churn", group: "retrain-trainer", training: "retrain.training", models: "retrain.models"}
}

// concept labels an event: before the shift, y = [2·x0 + x1 > 0.3];
// after it, the sign of x0's effect flips. 3% of labels are noise.
func concept(r *rand.Rand, shifted bool) ([]float64, float64) {
	x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
	z := 2*x[0] + x[1] - 0.3
	if shifted {
		z = -2*x[0] + x[1] - 0.3
	}
	y := 0.0
	if z > 0 {
		y = 1
	}
	if r.Float64() < 0.03 {
		y = 1 - y
	}
	return x, y
}

// event is one line of the timeline.
type event struct {
	at     time.Duration
	record int64
	who    string
	what   string
}

type timeline struct {
	mu     sync.Mutex
	start  time.Time
	events []event
}

func (t *timeline) add(record int64, who, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, event{time.Since(t.start), record, who, fmt.Sprintf(format, args...)})
}

// summary is what run measured, for the test.
type summary struct {
	driftAt    []int64   // records (trainer's count) at which drift fired
	activated  [][2]int  // (event index, version) when the server swapped
	accBefore  float64   // rolling accuracy just before the shift
	accLow     float64   // lowest rolling accuracy after the shift
	accEnd     float64   // rolling accuracy at the end
	versions   int       // versions published
	rolling    []float64 // rolling accuracy per event (NaN until a model is live)
	retrainVer uint64    // the version published for the drift
}

func run(ctx context.Context, w io.Writer, cfg config) (*summary, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	brokers := cfg.brokers
	if brokers == nil {
		cluster, err := kafkatest.Start(kafkatest.Topic(cfg.training, 1), kafkatest.Topic(cfg.models, 1))
		if err != nil {
			return nil, err
		}
		defer cluster.Close()
		brokers = cluster.Addrs()
		fmt.Fprintf(w, "embedded Kafka broker at %s\n", strings.Join(brokers, ","))
	}
	tl := &timeline{start: time.Now()}
	sum := &summary{}

	// Serving side: a Server fed by the models topic.
	srv, err := serving.NewServer(serving.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	kcfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		return nil, err
	}
	feed, err := kafka.NewModelFeed(kcfg, srv, kafka.Topic(cfg.models))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	bg.Go(func() { feed.Run(ctx) })

	// Training side: its own consumer group on the training topic, and
	// a publisher to the models topic, which also tells the trainer the
	// latest version already there so that its numbers follow on.
	src, err := trainkafka.NewSource(ctx, kcfg, cfg.group, trainkafka.Topics(cfg.training))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	pub, err := trainkafka.NewPublisher(ctx, kcfg, kafka.Topic(cfg.models))
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	learner, err := training.NewLearner(training.Logistic, 3, training.WithFeatureNames("tenure", "usage", "noise"))
	if err != nil {
		return nil, err
	}
	detector, err := training.NewPageHinkley(training.PHLambda(20))
	if err != nil {
		return nil, err
	}
	var published int
	var tsrc training.Source = src
	if cfg.wrap != nil {
		tsrc = cfg.wrap(src)
	}
	tr, err := training.NewTrainer(cfg.model, learner, tsrc, pub,
		training.EveryRecords(cfg.every), training.OnDrift(detector), training.RetrainOnDrift(cfg.retrain),
		training.WithLogger(quiet),
		training.WithObserver(func(e training.Event) {
			switch e.Kind {
			case training.EventDrift:
				sum.driftAt = append(sum.driftAt, e.Records)
				tl.add(e.Records, "trainer", "drift detected (Page-Hinkley on the progressive error); resetting and retraining on the next %d records", cfg.retrain)
			case training.EventPublished:
				published++
				d := e.Descriptor
				if d.Labels[training.LabelTrigger] == string(training.TriggerDrift) {
					sum.retrainVer = d.Version
				}
				tl.add(e.Records, "trainer", "published v%d (trigger %s; progressive accuracy %s over the %s records since %s; id %s)",
					d.Version, d.Labels[training.LabelTrigger], short(d.Labels[training.LabelWindowAccuracy]),
					d.Labels[training.LabelWindowRecords], since(d.Labels[training.LabelParentVersion]), d.SHA256[:8])
			case training.EventPublishFailed:
				tl.add(e.Records, "trainer", "publishing v%d failed: %v", e.Descriptor.Version, e.Err)
			}
		}))
	if err != nil {
		return nil, err
	}
	// The trainer stops, and commits, before its source and publisher
	// close: the deferred Wait runs before their deferred Close.
	trainErr := make(chan error, 1)
	trainCtx, stopTraining := context.WithCancel(ctx)
	var trainer sync.WaitGroup
	defer trainer.Wait()
	defer stopTraining()
	trainer.Go(func() { trainErr <- tr.Run(trainCtx) })

	// The stream: score each event with the live model, then send it,
	// labelled, to the training topic.
	pcfg := sarama.NewConfig()
	pcfg.Version = kafka.DefaultVersion
	pcfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(brokers, pcfg)
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	scorer := srv.Model(cfg.model)
	r := rand.New(rand.NewPCG(7, 11))
	hits := make([]bool, 0, cfg.records)
	var live uint64
	var batch []*sarama.ProducerMessage
	const chunk = 40
	tick := time.NewTicker(time.Duration(chunk) * time.Second / time.Duration(cfg.perSec))
	defer tick.Stop()
	tl.add(0, "stream", "starts: label = [2·tenure + usage > 0.3]")
	sum.rolling = make([]float64, cfg.records)
	for i := 0; i < cfg.records; i++ {
		if i == cfg.shift {
			tl.add(int64(i), "stream", "CONCEPT SHIFT: label = [-2·tenure + usage > 0.3]")
		}
		x, y := concept(r, i >= cfg.shift)
		res, err := scorer.Score(ctx, serving.Record{Features: x})
		switch {
		case err == nil:
			if v := res.Provenance.Model.Version; v != live {
				live = v
				sum.activated = append(sum.activated, [2]int{i, int(v)})
				tl.add(int64(i), "server", "now serving v%d", v)
			}
			hits = append(hits, (res.Value >= 0.5) == (y == 1))
		case errors.Is(err, serving.ErrNoModel):
			// Nothing is live yet; accuracy counts scored events only.
			if i == 0 {
				tl.add(0, "server", "no model live yet: events go unscored until v1 arrives")
			}
		default:
			return nil, err
		}
		sum.rolling[i] = rollingAcc(hits, cfg.window, live)
		batch = append(batch, &sarama.ProducerMessage{Topic: cfg.training, Value: sarama.StringEncoder(fmt.Sprintf("%g,%g,%g,%g", x[0], x[1], x[2], y))})
		if len(batch) == chunk || i == cfg.records-1 {
			if err := prod.SendMessages(batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if (i+1)%1000 == 0 {
			if live != 0 {
				tl.add(int64(i+1), "server", "rolling accuracy %.3f (serving v%d)", sum.rolling[i], live)
			}
		}
	}
	// Let the trainer finish the stream, then stop it; if it stops by
	// itself first, it failed.
	for tr.Stats().Records < int64(cfg.records) {
		select {
		case err := <-trainErr:
			if err == nil {
				err = errors.New("stopped before the end of the stream")
			}
			return nil, fmt.Errorf("trainer: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	stopTraining()
	if err := <-trainErr; err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	sum.versions = published

	sum.accBefore = sum.rolling[cfg.shift-1]
	sum.accLow = 1
	for _, a := range sum.rolling[cfg.shift:] {
		sum.accLow = min(sum.accLow, a)
	}
	sum.accEnd = sum.rolling[cfg.records-1]

	tl.mu.Lock()
	evs := slices.Clone(tl.events)
	tl.mu.Unlock()
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.at - b.at) })
	fmt.Fprintln(w, "\ntimeline (record = events produced so far, or learned so far for the trainer):")
	for _, e := range evs {
		fmt.Fprintf(w, "  %6.2fs  record %6d  %-7s  %s\n", e.at.Seconds(), e.record, e.who, e.what)
	}
	fmt.Fprintf(w, "\nrolling accuracy (last %d events): %.3f before the shift, %.3f at worst after it, %.3f at the end\n",
		cfg.window, sum.accBefore, sum.accLow, sum.accEnd)
	fmt.Fprintf(w, "%d versions published; trainer %+v\n", sum.versions, tr.Stats())
	if cfg.plot != "" {
		if err := drawPlot(cfg, sum); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "wrote %s\n", cfg.plot)
	}
	return sum, nil
}

// short trims a label's number to three decimals.
func short(s string) string {
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		return s
	}
	return fmt.Sprintf("%.3f", f)
}

func since(parent string) string {
	if parent == "" {
		return "the start"
	}
	return "v" + parent
}

// rollingAcc is the share of hits among the last n events, counted only
// once a model is live.
func rollingAcc(hits []bool, n int, live uint64) float64 {
	if live == 0 || len(hits) == 0 {
		return 0
	}
	lo := max(0, len(hits)-n)
	c := 0
	for _, h := range hits[lo:] {
		if h {
			c++
		}
	}
	return float64(c) / float64(len(hits)-lo)
}

func drawPlot(cfg config, sum *summary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Rolling accuracy of the served model (last %d events)", cfg.window)
	p.X.Label.Text = "event"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1.08
	p.X.Min, p.X.Max = 0, float64(cfg.records)
	pts := make(plotter.XYs, 0, len(sum.rolling))
	for i, a := range sum.rolling {
		if a > 0 {
			pts = append(pts, plotter.XY{X: float64(i), Y: a})
		}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Width = vg.Points(1.5)
	p.Add(line)
	vline := func(x float64, dashed bool, r, g, b uint8) error {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 1.02}})
		if err != nil {
			return err
		}
		l.Color = rgb(r, g, b)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		return nil
	}
	var labels plotter.XYLabels
	if err := vline(float64(cfg.shift), true, 200, 30, 30); err != nil {
		return err
	}
	labels.XYs = append(labels.XYs, plotter.XY{X: float64(cfg.shift), Y: 0.05})
	labels.Labels = append(labels.Labels, " concept shift")
	for _, d := range sum.driftAt {
		if err := vline(float64(d), true, 230, 140, 0); err != nil {
			return err
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(d), Y: 0.12})
		labels.Labels = append(labels.Labels, " drift detected")
	}
	for _, a := range sum.activated {
		if err := vline(float64(a[0]), false, 40, 140, 60); err != nil {
			return err
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(a[0]), Y: 1.03})
		labels.Labels = append(labels.Labels, fmt.Sprintf("v%d", a[1]))
	}
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	p.Add(lb)
	return p.Save(10*vg.Inch, 4.5*vg.Inch, cfg.plot)
}

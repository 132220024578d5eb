package kafka_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/kafka/confluent"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// benchRecords is how many records each benchmark iteration moves.
const benchRecords = 100_000

// BenchmarkPipeline measures records per second through the embedded
// broker (one broker, 4 partitions, a fresh cluster per run) for these
// variants:
//
//   - raw: a plain sarama consumer group that produces every record
//     unchanged, with the idempotent acks=all producer settings the Sink
//     uses but no compression, marking each record as soon as it is
//     handed to the producer and auto-committing: the baseline the issue
//     asks for;
//   - raw-lz4: the same with LZ4 compression, the Sink's default;
//   - raw-scores: raw-lz4 writing, in place of each record, a value of
//     the shape and length of a compact score with the provenance
//     headers the Sink writes: what the outputs alone cost, the floor
//     of the compact variants;
//   - json: Source -> JSON codec -> linear model (8 features) -> Sink ->
//     mark for commit after ack, output order kept per partition; scores
//     in the default encoding, wire.ScoreJSON, compressed with LZ4;
//   - raw-again: raw once more, an A/A control: its ratios to raw show
//     the noise of the run, to read the others against (it sits mid-list,
//     as far from raw in the order as the variants it is compared with);
//   - compact: the same as json with
//     kafka.ScoreEncoding(wire.ScoreCompact);
//   - compact-none: compact scores, not compressed;
//   - compact-batch64: compact scores with kafka.MaxBatch(64), ScoreBatch
//     over up to 64 waiting records instead of one Score call each;
//   - avro: scores as Avro with a registered schema
//     (confluent.AvroScores), compressed with LZ4;
//   - avro-compact: the same with confluent.CompactScores, no provenance
//     and no key in the value, which the headers and the key carry.
//
// Each run has two clocks, started and stopped by the same code for
// every variant (see measure), which polls every millisecond how many
// records are acknowledged: for raw, outputs acknowledged by the broker;
// for modelstream, outputs acknowledged and their offsets marked for the
// next commit (SourceStats.Scored). The full window runs from the first
// record consumed to the last output acknowledged, so joining and
// leaving the group, about half a second each with sarama whatever the
// load, are not counted. The steady window starts once steadyFrom (20%
// of benchRecords) or more records are acknowledged, at the same count
// for every variant, and stops at the same end: it leaves out what a run
// pays once near its start (the first records cost more CPU time per
// record than the later ones on every variant, raw included; see the
// -test.v log) and measures the throughput of a pipeline that is
// already running, which is what a long-lived deployment sees. The variants take turns within each
// iteration, in an order that rotates, so that the load of a shared
// machine falls on all alike. Before the first iteration raw runs once
// unmeasured (see warmUp), and before each variant the benchmark waits
// for the goroutines of the one before to end, collects the garbage and
// returns the free memory to the system (see prepare), so that no
// variant's clock counts another's leftovers; with -test.v it logs each
// variant's run: CPU time per record, records/s, garbage collections
// and page faults over the full window, over the first records (before
// the steady clock started) and over the steady window.
//
// Each variant reports its records/s over the full window (wall time)
// and its ratio to raw's, "<variant>-ratio". Since wall time on a loaded
// machine is mostly other programs' time, it also reports the ratio of
// raw's CPU time per record (the process's user + system time, broker
// included: kfake runs in the process) to the variant's, above 1 when
// the variant costs less:
//
//   - "<variant>-cpu-ratio": over the steady windows of all iterations;
//   - "<variant>-med-cpu-ratio": the median over iterations of that
//     ratio within each iteration (the mean of the two middle ones for an
//     even count): the run of a variant that a burst of other work lands
//     on moves the sums, not the median;
//   - "<variant>-full-cpu-ratio" and "<variant>-full-med-cpu-ratio": the
//     same over the full windows, start-up of each run included, so that
//     what the steady ratios leave out stays in sight.
//
// Run it with -benchtime 10x or more for the medians to mean something.
// On 2 shared cores at a load average of 12 to 24, one run of a variant
// varied by about 8% in CPU time per record (coefficient of variation
// over the runs of one benchmark), and with -benchtime 4x raw-again's
// full-window ratios to raw ranged over 0.94-1.07: a ratio of one run is
// worth what raw-again's beside it shows. At a load average of 0.4 to
// 2.7, in 4 runs with -benchtime 4x, raw-again's steady ratio read
// 0.885-1.083 (median 0.969) and its full one 0.846-1.071 (0.947); the
// steady ratios of the pipelines were the full ones or up to 0.045 above
// (medians: compact 0.794 against 0.782, json 0.815 against 0.770). The
// first 20,000 records of a run cost about 8-16 ms more CPU time than
// the steady rate would on every variant, raw included, with one
// garbage collection among them, and still 12-27 ms with GOGC=400 and no
// collection in the steady window: not a cost of modelstream's alone.
func BenchmarkPipeline(b *testing.B) {
	_, _, fill := pipelineInput()
	vs := pipelineVariants(b)
	base := warmUp(b, fill, vs[0])
	// full[j] and steady[j] sum variant j's windows over the iterations;
	// rounds[j] and fullRounds[j] hold its CPU ratios to raw in each.
	full := make([]window, len(vs))
	steady := make([]window, len(vs))
	rounds := make([][]float64, len(vs))
	fullRounds := make([][]float64, len(vs))
	for i := 0; b.Loop(); i++ {
		round := make([]measured, len(vs))
		for k := range vs {
			j := (i + k) % len(vs)
			b.StopTimer()
			c := prepare(b, fill, base)
			b.StartTimer()
			m := vs[j].run(b, c)
			b.StopTimer()
			c.Close()
			b.StartTimer()
			full[j] = full[j].add(m.window)
			steady[j] = steady[j].add(m.steady)
			round[j] = m
			if testing.Verbose() {
				h := m.head()
				b.Logf("iteration %d, turn %d: %-16s full %6.2f cpu-µs/rec %7.0f rec/s %3d GCs %6d faults; first %d recs %6.2f cpu-µs/rec %2d GCs %6d faults; steady %6.2f cpu-µs/rec %7.0f rec/s %3d GCs %6d faults",
					i, k, vs[j].name, m.perRecord()*1e6, benchRecords/m.wall.Seconds(), m.gcs, m.faults,
					h.records, h.perRecord()*1e6, h.gcs, h.faults,
					m.steady.perRecord()*1e6, float64(m.steady.records)/m.steady.wall.Seconds(), m.steady.gcs, m.steady.faults)
			}
		}
		for j := range vs {
			if r := cpuRatio(round[0].steady, round[j].steady); r > 0 {
				rounds[j] = append(rounds[j], r)
			}
			if r := cpuRatio(round[0].window, round[j].window); r > 0 {
				fullRounds[j] = append(fullRounds[j], r)
			}
		}
	}
	for j, v := range vs {
		b.ReportMetric(float64(full[j].records)/full[j].wall.Seconds(), v.name+"-rec/s")
		if j > 0 {
			b.ReportMetric(full[0].wall.Seconds()/full[j].wall.Seconds(), v.name+"-ratio")
			if r := cpuRatio(steady[0], steady[j]); r > 0 {
				b.ReportMetric(r, v.name+"-cpu-ratio")
			}
			if len(rounds[j]) > 0 {
				b.ReportMetric(medianOf(rounds[j]), v.name+"-med-cpu-ratio")
			}
			if r := cpuRatio(full[0], full[j]); r > 0 {
				b.ReportMetric(r, v.name+"-full-cpu-ratio")
			}
			if len(fullRounds[j]) > 0 {
				b.ReportMetric(medianOf(fullRounds[j]), v.name+"-full-med-cpu-ratio")
			}
		}
	}
}

// add returns the sum of w and o.
func (w window) add(o window) window {
	return window{w.wall + o.wall, w.cpu + o.cpu, w.gcs + o.gcs, w.faults + o.faults, w.records + o.records}
}

// perRecord returns the CPU seconds per record of w, or 0 when w holds
// no record or no CPU time was measured.
func (w window) perRecord() float64 {
	if w.records <= 0 {
		return 0
	}
	return w.cpu.Seconds() / float64(w.records)
}

// head returns the part of m's full window before its steady one: the
// first records of the run, up to about steadyFrom.
func (m measured) head() window {
	return window{m.wall - m.steady.wall, m.cpu - m.steady.cpu, m.gcs - m.steady.gcs, m.faults - m.steady.faults, m.records - m.steady.records}
}

// cpuRatio returns base's CPU time per record over w's: above 1, w
// costs less per record. It is 0 when either was not measured.
func cpuRatio(base, w window) float64 {
	b, o := base.perRecord(), w.perRecord()
	if b == 0 || o == 0 {
		return 0
	}
	return b / o
}

// warmUp runs v once, unmeasured, so that what only the first run of the
// process pays (growing the heap from nothing, first connections, lazy
// initialisation) lands on no variant, then returns how many goroutines
// are left running once the count stops falling: the benchmark's own,
// and those that outlive every client (such as the meter ticker of
// go-metrics, which sarama's clients start once).
func warmUp(b *testing.B, fill func(*testing.B) *kafkatest.Cluster, v pipelineVariant) int {
	b.StopTimer()
	defer b.StartTimer()
	c := fill(b)
	v.run(b, c)
	c.Close()
	n := runtime.NumGoroutine()
	for still := 0; still < 100; still++ { // 100 ms without change
		time.Sleep(time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, still = m, 0
		}
	}
	return n
}

// prepare waits until the goroutines of the previous variant's clients
// and cluster have ended (their number is back to base; those of kfake
// outlive Close), starts a fresh cluster holding the input, collects
// the garbage and returns the free memory to the system: so that no
// variant's clock counts what the one before it or the filling left
// behind, and each starts with the same heap. Collecting without
// returning would leave the runtime's background scavenger to return,
// during the next variant's clock, the memory the one before grew, and
// the next variant to fault it in again: a cost set by its predecessor.
func prepare(b *testing.B, fill func(*testing.B) *kafkatest.Cluster, base int) *kafkatest.Cluster {
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > base; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Logf("%d goroutines still running 10s after the previous variant, %d before it", runtime.NumGoroutine(), base)
			break
		}
	}
	c := fill(b)
	debug.FreeOSMemory()
	return c
}

// medianOf returns the median of xs, sorting xs: the middle value, or
// the mean of the two middle values when there are an even number.
func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

// TestMedianOf checks the statistic BenchmarkPipeline reports: with an
// even count, taking the upper of the two middle ratios would favour
// the variants (with 4 iterations, the second best of 4).
func TestMedianOf(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{0.9, 0.7, 0.8}, 0.8},
		{[]float64{0.9, 0.7, 0.8, 1.1}, 0.85},
		{[]float64{1, 0.5}, 0.75},
	} {
		if got := medianOf(slices.Clone(c.xs)); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("medianOf(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// TestMeasure checks the two clocks of BenchmarkPipeline on a counter
// that acknowledges 1000 records per poll: the full window holds every
// record, the steady one starts at the first poll at or past steadyFrom
// and ends at the same point, and a run whose count jumps past the end
// has no steady window, so it reports no steady ratio.
func TestMeasure(t *testing.T) {
	var n int64
	m := measure(func() bool { return true }, func() int64 { n += 1000; return n })
	if m.records != benchRecords {
		t.Errorf("full window holds %d records, want %d", m.records, benchRecords)
	}
	if want := int64(benchRecords - steadyFrom); m.steady.records != want {
		t.Errorf("steady window holds %d records, want %d", m.steady.records, want)
	}
	if m.steady.wall <= 0 || m.steady.wall >= m.wall {
		t.Errorf("steady window lasted %v, full %v: want within it", m.steady.wall, m.wall)
	}
	if h := m.head(); h.records != steadyFrom || h.wall <= 0 {
		t.Errorf("head %+v: want %d records", h, steadyFrom)
	}
	jump := measure(func() bool { return true }, func() int64 { return benchRecords })
	if jump.steady != (window{}) {
		t.Errorf("steady window %+v after a jump to the end, want none", jump.steady)
	}
	if r := cpuRatio(m.window, jump.steady); r != 0 {
		t.Errorf("cpuRatio against no window = %v, want 0", r)
	}
}

// BenchmarkPipelineEach runs each variant of BenchmarkPipeline on its
// own, to profile one (-cpuprofile); the time per op includes starting
// and filling the cluster.
func BenchmarkPipelineEach(b *testing.B) {
	_, _, fill := pipelineInput()
	for _, v := range pipelineVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			var wall, cpu time.Duration
			for b.Loop() {
				c := fill(b)
				m := v.run(b, c)
				c.Close()
				wall, cpu = wall+m.wall, cpu+m.cpu
			}
			n := float64(benchRecords * b.N)
			b.ReportMetric(n/wall.Seconds(), "rec/s")
			b.ReportMetric(cpu.Seconds()*1e6/n, "cpu-µs/rec")
		})
	}
}

// steadyFrom is how many records of a run must be acknowledged (for
// modelstream: acknowledged and marked) before the steady-state clock
// of BenchmarkPipeline starts: 20% of benchRecords.
const steadyFrom = benchRecords / 5

// window is what was measured over a stretch of a pipeline run: wall
// time and the process's CPU time, how many garbage collections ended
// and page faults the process took meanwhile, and how many records were
// acknowledged in it.
type window struct {
	wall, cpu time.Duration
	gcs       uint32
	faults    int64
	records   int64
}

// measured is what a pipeline run took: over the full window (the
// embedded window, from the first record consumed to the last output
// acknowledged) and over its steady part, from the moment steadyFrom
// or more records were acknowledged to the same end.
type measured struct {
	window
	steady window
}

// clock is a point in a run: when, and how much CPU time, garbage
// collections and page faults the process had used by then, with how
// many records had been acknowledged.
type clock struct {
	t       time.Time
	cpu     time.Duration
	gcs     uint32
	faults  int64
	records int64
}

// readClock reads the clock, with acked records acknowledged so far.
func readClock(acked int64) clock {
	return clock{time.Now(), cpuTime(), gcCount(), pageFaults(), acked}
}

// since returns what was measured from c to end.
func (c clock) since(end clock) window {
	return window{end.t.Sub(c.t), end.cpu - c.cpu, end.gcs - c.gcs, end.faults - c.faults, end.records - c.records}
}

// measure times a run, polling every millisecond: it waits until
// started reports true (the first record consumed), then until acked
// reports benchRecords, and returns the full window and the steady one,
// which starts at the first poll that finds steadyFrom or more records
// acknowledged. Both sides of BenchmarkPipeline (plain sarama and
// modelstream) are timed by this same code, so that the two clocks
// start and stop alike for each.
func measure(started func() bool, acked func() int64) measured {
	for !started() {
		time.Sleep(time.Millisecond)
	}
	full := readClock(0)
	var steady clock
	for steadyOn := false; ; time.Sleep(time.Millisecond) {
		n := acked()
		if n >= benchRecords {
			end := readClock(n)
			m := measured{window: full.since(end)}
			if steadyOn {
				m.steady = steady.since(end)
			}
			return m
		}
		if !steadyOn && n >= steadyFrom {
			steady, steadyOn = readClock(n), true
		}
	}
}

// gcCount returns how many garbage collections have ended, without
// stopping the world (runtime.ReadMemStats would).
func gcCount() uint32 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return uint32(s[0].Value.Uint64())
}

type pipelineVariant struct {
	name string
	run  func(*testing.B, *kafkatest.Cluster) measured
}

// pipelineVariants returns the variants of BenchmarkPipeline, raw first.
func pipelineVariants(b *testing.B) []pipelineVariant {
	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), linearModel(b, "m", 1, 8, 1)); err != nil {
		b.Fatal(err)
	}
	noCompression := kafka.Sarama(func(c *sarama.Config) { c.Producer.Compression = sarama.CompressionNone })
	ms := func(sink []kafka.SinkOption, cfg []kafka.Option, src ...kafka.SourceOption) func(*testing.B, *kafkatest.Cluster) measured {
		return func(b *testing.B, c *kafkatest.Cluster) measured {
			return runPipeline(b, c, srv.Model("m"), sink, cfg, src...)
		}
	}
	compact := []kafka.SinkOption{kafka.ScoreEncoding(wire.ScoreCompact)}
	reg := srfake.New()
	b.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		b.Fatal(err)
	}
	avroScores, err := confluent.NewAvroScores(context.Background(), cl, "out-value")
	if err != nil {
		b.Fatal(err)
	}
	avroCompact, err := confluent.NewAvroScores(context.Background(), cl, "out-value", confluent.CompactScores())
	if err != nil {
		b.Fatal(err)
	}
	res, err := srv.Model("m").Score(context.Background(), serving.Record{Features: make([]float64, 8)})
	if err != nil {
		b.Fatal(err)
	}
	var prov []sarama.RecordHeader
	for _, h := range wire.ProvenanceHeaders(res.Provenance) {
		prov = append(prov, sarama.RecordHeader(h))
	}
	raw := func(b *testing.B, c *kafkatest.Cluster) measured {
		return rawPassThrough(b, c, sarama.CompressionNone, nil)
	}
	return []pipelineVariant{
		{"raw", raw},
		{"raw-lz4", func(b *testing.B, c *kafkatest.Cluster) measured {
			return rawPassThrough(b, c, sarama.CompressionLZ4, nil)
		}},
		{"raw-scores", func(b *testing.B, c *kafkatest.Cluster) measured {
			return rawPassThrough(b, c, sarama.CompressionLZ4, prov)
		}},
		{"json", ms(nil, nil)},
		{"raw-again", raw},
		{"compact", ms(compact, nil)},
		{"compact-none", ms(compact, []kafka.Option{noCompression})},
		{"compact-batch64", ms(compact, nil, kafka.MaxBatch(64))},
		{"avro", ms([]kafka.SinkOption{kafka.ScoreEncoding(avroScores)}, nil)},
		{"avro-compact", ms([]kafka.SinkOption{kafka.ScoreEncoding(avroCompact)}, nil)},
	}
}

// BenchmarkProvenanceHeader measures what writing a score's model in
// one header (wire.HeaderProvenance) saves against the four headers
// written before it (modelstream.model, .version, .id and .format):
// BenchmarkPipeline's raw-scores variant with each, taking turns in every
// iteration, in an order that rotates. It reports the CPU time per record
// of each, their ratio over the whole run and the median of the
// iterations' ratios (above 1: the one header costs less), and the bytes
// each adds to a record before compression.
func BenchmarkProvenanceHeader(b *testing.B) {
	_, _, fill := pipelineInput()
	ref := serving.ModelRef{Name: "m", Version: 1, ID: serving.ContentID([]byte("m")), Format: "linear"}
	var legacy, one []sarama.RecordHeader
	for _, kv := range [][2]string{{wire.HeaderModel, ref.Name}, {wire.HeaderVersion, "1"}, {wire.HeaderID, ref.ID}, {wire.HeaderFormat, ref.Format}} {
		legacy = append(legacy, sarama.RecordHeader{Key: []byte(kv[0]), Value: []byte(kv[1])})
	}
	for _, h := range wire.ProvenanceHeaders(serving.Provenance{Model: ref}) {
		one = append(one, sarama.RecordHeader(h))
	}
	hs := [2][]sarama.RecordHeader{legacy, one}
	run := func(h []sarama.RecordHeader) func(*testing.B, *kafkatest.Cluster) measured {
		return func(b *testing.B, c *kafkatest.Cluster) measured {
			return rawPassThrough(b, c, sarama.CompressionLZ4, h)
		}
	}
	base := warmUp(b, fill, pipelineVariant{"legacy", run(legacy)})
	var cpu [2]time.Duration
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		var round [2]time.Duration
		for k := range hs {
			j := (i + k) % len(hs)
			b.StopTimer()
			c := prepare(b, fill, base)
			b.StartTimer()
			round[j] = run(hs[j])(b, c).cpu
			b.StopTimer()
			c.Close()
			b.StartTimer()
			cpu[j] += round[j]
		}
		ratios = append(ratios, round[0].Seconds()/round[1].Seconds())
	}
	n := float64(benchRecords * b.N)
	b.ReportMetric(cpu[0].Seconds()*1e6/n, "legacy-cpu-µs/rec")
	b.ReportMetric(cpu[1].Seconds()*1e6/n, "one-cpu-µs/rec")
	b.ReportMetric(cpu[0].Seconds()/cpu[1].Seconds(), "legacy/one-cpu")
	b.ReportMetric(medianOf(ratios), "median-legacy/one-cpu")
	for name, h := range map[string][]sarama.RecordHeader{"legacy": legacy, "one": one} {
		b.ReportMetric(float64(headerBytes(h)), name+"-header-B")
	}
}

// headerBytes is the size of hs in a Kafka record: each header's key and
// value, each after its length as a varint.
func headerBytes(hs []sarama.RecordHeader) int {
	var v [binary.MaxVarintLen64]byte
	n := 0
	for _, h := range hs {
		n += binary.PutVarint(v[:], int64(len(h.Key))) + len(h.Key) + binary.PutVarint(v[:], int64(len(h.Value))) + len(h.Value)
	}
	return n
}

// pipelineInput returns the benchmarks' input records (benchRecords JSON
// arrays of 8 features, keyed over 1000 keys) and a function that starts
// a fresh one-broker cluster holding them in topic "in".
func pipelineInput() (keys []string, vals [][]byte, fill func(*testing.B) *kafkatest.Cluster) {
	vals = make([][]byte, benchRecords)
	keys = make([]string, benchRecords)
	for i := range vals {
		keys[i] = "k" + strconv.Itoa(i%1000)
		vals[i] = fmt.Appendf(nil, "[%d, 0.5, 1.25, -3, 4e-2, 5, 6.5, 7]", i)
	}
	fill = func(b *testing.B) *kafkatest.Cluster {
		c, err := kafkatest.Start(kafkatest.AutoPartitions(4))
		if err != nil {
			b.Fatal(err)
		}
		produce(b, c, "in", keys, vals)
		return c
	}
	return keys, vals, fill
}

// modelstreamPipeline runs Source -> Sink from "in" to "out" and returns
// the time from the first record consumed to the last one acknowledged
// and marked.
func modelstreamPipeline(b *testing.B, c *kafkatest.Cluster, scorer serving.Scorer, opts ...kafka.SourceOption) time.Duration {
	return runPipeline(b, c, scorer, nil, nil, opts...).wall
}

// runPipeline runs Source -> Sink from "in" to "out", with the Sink's
// options and further Config options for the Sink, and measures the time
// from the first record consumed to the last one acknowledged and
// marked.
func runPipeline(b *testing.B, c *kafkatest.Cluster, scorer serving.Scorer, sinkOpts []kafka.SinkOption, cfgOpts []kafka.Option, opts ...kafka.SourceOption) measured {
	sink, err := kafka.NewSink(b.Context(), config(b, c.Addrs(), cfgOpts...), append([]kafka.SinkOption{kafka.Topic("out")}, sinkOpts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	opts = append([]kafka.SourceOption{kafka.Topics("in")}, opts...)
	src, err := kafka.NewSource(config(b, c.Addrs()), "bench", scorer, sink, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	took := measure(func() bool { return src.Stats().Consumed > 0 }, func() int64 { return int64(src.Stats().Scored) })
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if st := src.Stats(); st.DeadLettered != 0 || st.Scored != benchRecords {
		b.Fatalf("stats %+v", st)
	}
	return took
}

type passThrough struct {
	prod     sarama.AsyncProducer
	consumed *atomic.Int64
	scores   []sarama.RecordHeader // not nil: write score-like records with these headers
}

func (passThrough) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (passThrough) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (p passThrough) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		p.consumed.Add(1)
		out := &sarama.ProducerMessage{Topic: "out", Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}
		if p.scores != nil {
			out.Value, out.Headers = sarama.ByteEncoder(scoreLike(m)), p.scores
		}
		p.prod.Input() <- out
		sess.MarkMessage(m, "")
	}
	return nil
}

// scoreLike returns a value of the shape and length of m's compact score,
// without decoding or scoring m: {"prediction":{"value":<m's offset>},...}.
func scoreLike(m *sarama.ConsumerMessage) []byte {
	v := make([]byte, 0, 96)
	v = append(v, `{"prediction":{"value":`...)
	v = strconv.AppendInt(v, m.Offset, 10)
	v = append(v, `},"topic":"`...)
	v = append(v, m.Topic...)
	v = append(v, `","partition":`...)
	v = strconv.AppendInt(v, int64(m.Partition), 10)
	v = append(v, `,"offset":`...)
	v = strconv.AppendInt(v, m.Offset, 10)
	return append(v, '}')
}

// rawPassThrough copies "in" to "out" with plain sarama and measures the
// time from the first record consumed to the last one acknowledged. With
// scores, it writes score-like records (see scoreLike) with these headers
// instead of copies.
func rawPassThrough(b *testing.B, c *kafkatest.Cluster, codec sarama.CompressionCodec, scores []sarama.RecordHeader) measured {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = codec
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	prod, err := sarama.NewAsyncProducer(c.Addrs(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var acked, consumed atomic.Int64
	go func() {
		for range prod.Successes() {
			acked.Add(1)
		}
	}()
	go func() {
		for err := range prod.Errors() {
			b.Error(err)
		}
	}()
	group, err := sarama.NewConsumerGroup(c.Addrs(), "raw", cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			group.Consume(ctx, []string{"in"}, passThrough{prod: prod, consumed: &consumed, scores: scores})
		}
	}()
	took := measure(func() bool { return consumed.Load() > 0 }, acked.Load)
	cancel()
	<-done
	group.Close()
	prod.Close()
	return took
}

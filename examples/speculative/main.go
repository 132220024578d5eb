// Command speculative shows the combinators of package speculative on a
// stream of records scored in-process: a fast linear model guarantees a
// latency budget, a slow but better model wins when it answers in time,
// a flaky model joins a vote, and a 90/10 canary split routes users
// stickily between two compositions.
//
// It runs with no flags and no broker, and prints a table of latency
// percentiles and accuracy per composition, then the wins per model and
// the budget misses. The "stall" column is the longest the process went
// unscheduled during each run, as seen by a probe goroutine: on a busy
// machine it, not the combinators, sets the tail of the budgets. The
// "late" column counts the calls a Budget answered with ErrFallbackLate:
// its fallback, a linear model that takes microseconds, had not answered
// by the budget, which only a stall that long explains.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

const (
	records = 1500
	callers = 16
	budget  = 20 * time.Millisecond
)

// truth is the task: fraud when a linear score plus an interaction the
// linear model cannot see is positive.
func truth(x []float64) string {
	if 1.2*x[0]-0.8*x[1]+0.5*x[2]+1.5*x[0]*x[3] > 0.3 {
		return "fraud"
	}
	return "ok"
}

// noisy answers the truth, except for a deterministic fraction of inputs
// (by a hash of the features), like a model with that error rate.
func noisy(errRate, conf float64) func([]float64) serving.Prediction {
	return func(x []float64) serving.Prediction {
		label := truth(x)
		h := math.Abs(math.Sin(x[0]*12.9898+x[1]*78.233+x[2]*37.719) * 43758.5453)
		if h-math.Floor(h) < errRate {
			if label == "fraud" {
				label = "ok"
			} else {
				label = "fraud"
			}
		}
		return serving.Prediction{Label: label, Confidence: conf, Value: conf}
	}
}

func main() {
	if _, err := tour(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// outcome is what tour measured: the errors of each composition, by the
// name of its row, and the stats of each combinator.
type outcome struct {
	errors                    map[string]int // by row, other than late
	late                      map[string]int // by row, ErrFallbackLate
	budget, vote, voteBud, ab speculative.Stats
}

// tour scores the stream with each composition and writes the tables to w.
func tour(ctx context.Context, w io.Writer) (outcome, error) {
	// The fast fallback: a logistic model in the project's linear format,
	// loaded like any published model.
	doc := linear.Document{
		Kind: linear.KindLogistic, Features: 4,
		Weights: [][]float64{{2.4, -1.6, 1.0, 0}}, Bias: []float64{-0.6},
		Classes: []string{"ok", "fraud"},
	}
	b, err := doc.Marshal()
	if err != nil {
		return outcome{}, err
	}
	desc := serving.Descriptor{Name: "linear", Version: 3, Format: linear.FormatName, Bytes: b}
	m, err := serving.Load(ctx, desc)
	if err != nil {
		return outcome{}, err
	}
	fast := serving.Bind(desc.Ref(), m)

	// The slow, better model: heavy-tailed latency, median 8ms, p99 120ms.
	slow := (&servingtest.Fake{OutputFunc: noisy(0.03, 0.9), Latency: servingtest.LogNormal(8*time.Millisecond, 120*time.Millisecond), Seed: 1}).Scorer("deep", 12)
	// The flaky model: quick, fails one call in five.
	flaky := (&servingtest.Fake{OutputFunc: noisy(0.10, 0.7), Latency: servingtest.LogNormal(3*time.Millisecond, 20*time.Millisecond), FailRate: 0.2, Seed: 2}).Scorer("flaky", 5)

	// A budget: the deep model if it answers within 20ms, else the flaky
	// one, else the linear fallback.
	bud, err := speculative.NewBudget(budget, fast, []serving.Scorer{slow, flaky},
		speculative.WithDecider(speculative.Priority()), speculative.WithName("budget"))
	if err != nil {
		return outcome{}, err
	}
	// A vote of the three, inside a budget of its own.
	vote, err := speculative.NewEnsemble(speculative.Vote(speculative.Quorum(2)), []serving.Scorer{slow, flaky, fast}, speculative.WithName("vote"))
	if err != nil {
		return outcome{}, err
	}
	voteBud, err := speculative.NewBudget(budget, fast, []serving.Scorer{vote}, speculative.WithName("vote-in-budget"))
	if err != nil {
		return outcome{}, err
	}
	// A 90/10 canary: most users keep the budget, a tenth try the vote.
	canary, err := speculative.NewSplit([]speculative.Variant{
		{Name: "control", Scorer: bud, Weight: 90},
		{Name: "canary", Scorer: voteBud, Weight: 10},
	}, speculative.WithName("canary"))
	if err != nil {
		return outcome{}, err
	}

	// The record stream: fixed seed, keys for 300 users.
	rng := rand.New(rand.NewPCG(7, 7))
	stream := make([]serving.Record, records)
	for i := range stream {
		x := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		stream[i] = serving.Record{Key: []byte("user-" + strconv.Itoa(rng.IntN(300))), Features: x}
	}

	out := outcome{errors: map[string]int{}, late: map[string]int{}}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scorer\tp50\tp99\tp99.9\tmax\taccuracy\terrors\tlate\tstall\t")
	var over []string // budgeted runs whose slowest call exceeded the budget
	for _, c := range []struct {
		name string
		s    serving.Scorer
	}{
		{"linear alone", fast},
		{"deep alone", slow},
		{"budget 20ms", bud},
		{"vote in budget", voteBud},
		{"canary 90/10", canary},
	} {
		r := run(ctx, c.s, stream)
		out.errors[c.name], out.late[c.name] = r.errors, r.late
		if c.s == bud || c.s == voteBud {
			if worst := r.lat[len(r.lat)-1]; worst > budget {
				why := fmt.Sprintf("within the %s the process went unscheduled (stall) in that run", ms(r.stall))
				if worst-budget > r.stall {
					why = fmt.Sprintf("more than the %s stall of that run explains", ms(r.stall))
				}
				over = append(over, fmt.Sprintf("%s: slowest call %s, %s over the budget, %s", c.name, ms(worst), ms(worst-budget), why))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f%%\t%d\t%d\t%s\t\n", c.name, ms(r.q(0.5)), ms(r.q(0.99)), ms(r.q(0.999)), ms(r.lat[len(r.lat)-1]), 100*r.accuracy, r.errors, r.late, ms(r.stall))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "combinator\tmodel\trole\twins\tok\tlate\terrors\tcancelled\tskipped\t")
	for _, st := range []speculative.Stats{bud.Stats(), vote.Stats(), voteBud.Stats(), canary.Stats()} {
		for _, m := range st.Models {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", st.Name, m.Model, m.Role, m.Wins, m.OK, m.Late, m.Errors, m.Cancelled, m.Skipped)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, st := range []speculative.Stats{bud.Stats(), voteBud.Stats()} {
		fmt.Fprintf(w, "%s: %d calls, fallback answered %d (nothing better in time), fallback missed the budget %d times, errors %d\n",
			st.Name, st.Invocations, st.Models[0].Wins, st.FallbackMisses, st.Errors)
	}
	// Latencies are measured by the callers, which stall with the rest
	// of the process: time unscheduled is time no in-process deadline
	// can take back.
	for _, o := range over {
		fmt.Fprintln(w, o)
	}
	out.budget, out.vote, out.voteBud, out.ab = bud.Stats(), vote.Stats(), voteBud.Stats(), canary.Stats()
	return out, nil
}

type report struct {
	lat      []time.Duration
	accuracy float64
	errors   int           // calls that failed, other than late
	late     int           // calls that failed with ErrFallbackLate
	stall    time.Duration // the longest the process went unscheduled
}

func (r report) q(p float64) time.Duration {
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

// run scores the stream with s from several callers at once.
func run(ctx context.Context, s serving.Scorer, stream []serving.Record) report {
	lat := make([]time.Duration, len(stream))
	right := make([]bool, len(stream))
	failed := make([]bool, len(stream))
	late := make([]bool, len(stream))
	stop := make(chan struct{})
	stall := probe(stop)
	var wg sync.WaitGroup
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(stream); i += callers {
				t0 := time.Now()
				res, err := s.Score(ctx, stream[i])
				lat[i] = time.Since(t0)
				late[i] = errors.Is(err, speculative.ErrFallbackLate)
				failed[i] = err != nil && !late[i]
				right[i] = err == nil && res.Label == truth(stream[i].Features)
			}
		}()
	}
	wg.Wait()
	close(stop)
	r := report{lat: lat, stall: <-stall}
	for i := range stream {
		if right[i] {
			r.accuracy++
		}
		if failed[i] {
			r.errors++
		}
		if late[i] {
			r.late++
		}
	}
	r.accuracy /= float64(len(stream))
	slices.Sort(r.lat)
	return r
}

// probe measures, until stop is closed, how long the process goes
// unscheduled: the longest gap between two wake-ups of a goroutine that
// sleeps 1ms in a loop, less the 1ms. On a busy machine this stall, not
// the combinators, dominates the tail latencies.
func probe(stop <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		var worst time.Duration
		last := time.Now()
		for {
			select {
			case <-stop:
				out <- worst
				return
			default:
			}
			time.Sleep(time.Millisecond)
			now := time.Now()
			worst = max(worst, now.Sub(last)-time.Millisecond)
			last = now
		}
	}()
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

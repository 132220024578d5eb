// Command canary shows an automated rollout with package
// speculative/canary: a candidate version of a fraud model is ramped up
// against the champion in steps of 1%, 5%, 25% and 100% of the traffic
// while its error rate, latency and live accuracy hold, and rolled back
// as soon as one of them is shown worse.
//
// It runs two rollouts in-process, with no flags and no broker, on a
// simulated stream whose truth arrives 500 records after each score (as
// labels on a feedback topic would): a good candidate, slightly more
// accurate than the champion, which is promoted; and a bad one, much
// less accurate, which is rolled back before 5% of the traffic saw it.
// It prints every decision with its reason, the audit trail's size, and
// writes canary.png: the candidate's traffic share and the live
// accuracy of both versions over time, with the decisions marked.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative/canary"
)

func main() {
	out := flag.String("out", "canary.png", "where to write the chart")
	flag.Parse()
	good, err := run(os.Stdout, scenario{name: "good candidate", wrong: 0.07})
	if err != nil {
		log.Fatal(err)
	}
	bad, err := run(os.Stdout, scenario{name: "bad candidate", wrong: 0.30})
	if err != nil {
		log.Fatal(err)
	}
	if err := chart(*out, good, bad); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chart written to %s\n", *out)
	if good.final.Action != canary.Promote {
		log.Fatalf("the good candidate was not promoted: %s", good.final.Reason)
	}
	if bad.final.Action != canary.Rollback || bad.final.Seen >= 0.05 {
		log.Fatalf("the bad candidate was not rolled back before 5%% of the traffic saw it: %s (seen %.2f%%)", bad.final.Reason, 100*bad.final.Seen)
	}
}

// scenario is one rollout: the candidate's share of wrong answers (the
// champion's is 10%).
type scenario struct {
	name  string
	wrong float64
}

const (
	championWrong = 0.10
	failRate      = 0.002 // both versions fail this share of calls
	maxRecords    = 600000
	evalEvery     = 1000 // records between evaluations
	labelDelay    = 500  // records between a score and its truth
	labelled      = 0.8  // share of records whose truth arrives
)

// point is the state after one evaluation.
type point struct {
	record           int
	share            float64
	accCand, accCham float64 // live accuracy so far, NaN before any outcome
}

// result is one rollout's story.
type result struct {
	scenario
	points    []point
	decisions []canary.Decision
	final     canary.Decision
	audited   int
}

// model simulates a version: wrong answers and failures drawn from a
// hash of the record number, so runs are reproducible.
func model(version uint64, wrong float64) serving.Scorer {
	ref := serving.ModelRef{Name: "fraud", Version: version, Format: "simulated"}
	return serving.ScorerFunc(func(_ context.Context, r serving.Record) (serving.Result, error) {
		i, _ := strconv.Atoi(string(r.Key))
		if unit(uint64(i), version*7+1) < failRate {
			return serving.Result{Provenance: serving.Provenance{Model: ref}}, errors.New("model failed")
		}
		label := truth(i)
		if unit(uint64(i), version*7+2) < wrong {
			label = 1 - label
		}
		return serving.Result{Prediction: serving.Prediction{Value: float64(label)}, Provenance: serving.Provenance{Model: ref}}, nil
	})
}

// simStart is the simulated time of the first record; one record
// follows another every millisecond.
var simStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func truth(i int) int { return int(unit(uint64(i), 99) * 2) }

// unit hashes (i, salt) to [0, 1).
func unit(i, salt uint64) float64 {
	z := i*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func run(w io.Writer, sc scenario) (result, error) {
	res := result{scenario: sc}
	var audited int
	audit, err := governance.NewAudit(
		governance.AuditLogger(slog.New(slog.DiscardHandler)),
		governance.AuditTo(governance.AuditSinkFunc(func(context.Context, governance.Event) error { audited++; return nil })),
	)
	if err != nil {
		return res, err
	}
	var now time.Time
	c, err := canary.New(model(1, championWrong), model(2, sc.wrong),
		canary.Name(sc.name), canary.Seed(1), canary.Audit(audit),
		canary.Clock(func() time.Time { return now }),
		canary.MinCalls(400), canary.MinOutcomes(200), canary.QualityMargin(0.01))
	if err != nil {
		return res, err
	}
	type pending struct {
		variant string
		right   bool
	}
	queue := make([]pending, 0, labelDelay+1)
	var right, seen [2]float64 // candidate, champion
	ctx := context.Background()
	fmt.Fprintf(w, "\n%s (wrong answers: champion %.0f%%, candidate %.0f%%)\n", sc.name, 100*championWrong, 100*sc.wrong)
	for i := range maxRecords {
		now = simStart.Add(time.Duration(i) * time.Millisecond)
		r, err := c.Score(ctx, serving.Record{Key: []byte(strconv.Itoa(i))})
		p := pending{variant: r.Provenance.Decision.Variant}
		if err == nil && unit(uint64(i), 5) < labelled {
			p.right = int(r.Value) == truth(i)
		} else {
			p.variant = "" // no truth will come for this one
		}
		queue = append(queue, p)
		if len(queue) > labelDelay { // the truth of an older score arrives
			o := queue[0]
			queue = queue[1:]
			if o.variant != "" {
				loss, side := 1.0, 1
				if o.right {
					loss = 0
				}
				if o.variant == canary.Candidate {
					side = 0
				}
				seen[side]++
				right[side] += 1 - loss
				if err := c.Outcome(o.variant, loss); err != nil {
					return res, err
				}
			}
		}
		if (i+1)%evalEvery != 0 {
			continue
		}
		d := c.Evaluate(ctx)
		res.points = append(res.points, point{record: i + 1, share: d.Share, accCand: right[0] / seen[0], accCham: right[1] / seen[1]})
		if d.Action != canary.Hold {
			res.decisions = append(res.decisions, d)
			fmt.Fprintf(w, "  %8d records  %-8s  candidate share now %5.1f%%, has seen %5.2f%% of all traffic: %s\n", i+1, d.Action, 100*d.Share, 100*d.Seen, d.Reason)
		}
		if d.Action == canary.Promote || d.Action == canary.Rollback {
			res.final = d
			break
		}
	}
	if res.final.Action == "" {
		res.final = c.Evaluate(ctx)
	}
	res.audited = audited
	st := c.Status()
	fmt.Fprintf(w, "  outcome: %s; %d decisions recorded in the audit trail\n", st.Outcome, res.audited)
	for _, g := range res.final.Guardrails {
		fmt.Fprintf(w, "    %-8s candidate %.4f  champion %.4f  difference in [%+.4f, %+.4f], margin %.3f: %s\n",
			g.Name, g.Candidate, g.Champion, g.Low, g.High, g.Margin, g.Verdict)
	}
	if math.IsNaN(res.final.Seen) {
		return res, errors.New("no traffic")
	}
	return res, nil
}

package speculative

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// Round is what a [Decider] sees: the candidates of one call, in priority
// order (the order the combinator was given them), as they finish.
//
// A candidate i with Done[i] false is still running; its Status means
// nothing yet. A finished candidate has Status StatusOK with a
// Prediction, StatusError with an Error, or, once the round is final,
// StatusLate or StatusCancelled.
type Round struct {
	// Candidates are the candidates under decision.
	Candidates []serving.Candidate
	// Done reports, per candidate, whether it has finished.
	Done []bool
	// Pending counts the candidates still running. When it is zero the
	// round is final: nothing more will arrive, and a Decider that does
	// not choose now leaves the call without a winner.
	Pending int
}

// ok reports whether candidate i answered.
func (r *Round) ok(i int) bool { return r.Done[i] && r.Candidates[i].Status == serving.StatusOK }

// Decider chooses the winner among the candidates of a call.
//
// A combinator calls Decide after each candidate finishes, and once more
// with a final Round (Pending == 0) when all have finished or the budget
// has run out, unless an earlier call already chose. Decide returns:
//
//   - (i, nil) to choose candidate i, which must have answered (StatusOK).
//     The call ends at once and the candidates still running are
//     cancelled.
//   - (-1, nil) to wait for more candidates; in a final Round, to choose
//     none.
//   - (-1, err) to give up; err, such as ErrNoQuorum, is reported by the
//     combinator (a Budget then answers with its fallback).
//
// Decide runs in the caller's goroutine, and a Budget cannot interrupt
// it: a slow Decide delays the call past the budget, so it must be fast
// (the deciders here look at a handful of candidates and allocate
// nothing). It is called from one goroutine at a time per call, but
// concurrently for different calls, so it must not keep per-call state in
// the Decider. It must not modify the Round or retain it after returning:
// the combinator reuses it. A Decider that implements fmt.Stringer is recorded under
// that name in the Decision; otherwise as "custom".
type Decider interface {
	Decide(r *Round) (winner int, err error)
}

// DeciderFunc adapts a function to the Decider interface. It is recorded
// as "custom".
type DeciderFunc func(r *Round) (int, error)

// Decide calls f(r).
func (f DeciderFunc) Decide(r *Round) (int, error) { return f(r) }

// validator is implemented by deciders with options to check.
type validator interface{ validate() error }

func deciderName(d Decider) string {
	if s, ok := d.(fmt.Stringer); ok {
		return s.String()
	}
	return "custom"
}

// First returns the Decider that chooses the fastest answer: the first
// candidate to answer successfully wins at once. In a final Round it
// chooses the successful candidate with the lowest latency (the earliest
// in priority order on equal latency).
func First() Decider { return first{} }

type first struct{}

func (first) String() string { return "first" }

func (first) Decide(r *Round) (int, error) {
	w := -1
	for i := range r.Candidates {
		if r.ok(i) && (w < 0 || r.Candidates[i].Latency < r.Candidates[w].Latency) {
			w = i
		}
	}
	return w, nil
}

// Priority returns the Decider that prefers candidates in the order given:
// the first candidate that answers successfully wins, but only once every
// candidate before it has finished without answering. Use it when the
// models are ranked by quality: the best one wins if it answers in time.
func Priority() Decider { return priority{} }

type priority struct{}

func (priority) String() string { return "priority" }

func (priority) Decide(r *Round) (int, error) {
	for i := range r.Candidates {
		if !r.Done[i] {
			return -1, nil
		}
		if r.Candidates[i].Status == serving.StatusOK {
			return i, nil
		}
	}
	return -1, nil
}

// Best returns the Decider that chooses the answer with the highest
// Confidence. It waits for every candidate (or the budget), then breaks
// ties by priority order.
func Best() Decider {
	return best{name: "best", quality: func(p serving.Prediction) float64 { return p.Confidence }}
}

// BestBy returns the Decider that chooses the answer whose quality, as
// computed by the given function, is highest. It waits for every
// candidate (or the budget), then breaks ties by priority order. A NaN
// quality ranks below every number. The function must be safe for
// concurrent use.
func BestBy(quality func(serving.Prediction) float64) Decider {
	return best{name: "best-by", quality: quality}
}

type best struct {
	name    string
	quality func(serving.Prediction) float64
}

func (b best) String() string { return b.name }

func (b best) validate() error {
	if b.quality == nil {
		return configError("BestBy: nil quality function")
	}
	return nil
}

func (b best) Decide(r *Round) (int, error) {
	if r.Pending > 0 {
		return -1, nil
	}
	w, wq := -1, math.Inf(-1)
	for i := range r.Candidates {
		if !r.ok(i) {
			continue
		}
		q := b.quality(*r.Candidates[i].Prediction)
		if math.IsNaN(q) {
			q = math.Inf(-1)
		}
		if w < 0 || q > wq {
			w, wq = i, q
		}
	}
	return w, nil
}

// VoteOption configures [Vote].
type VoteOption func(*vote)

// Quorum requires the winning label to have at least k votes; otherwise
// the vote fails with ErrNoQuorum. k must be at least 1, the default.
func Quorum(k int) VoteOption { return func(v *vote) { v.quorum = k } }

// Majority requires the winning label to have the votes of more than half
// of the candidates asked, whether or not they answered.
func Majority() VoteOption { return func(v *vote) { v.majority = true } }

// LabelBy sets how a prediction is turned into a vote. The default uses
// Prediction.Label, and a candidate whose Label is empty abstains: it
// answered, but counts towards no label and towards no quorum. Use
// LabelBy to let such models vote, for example by thresholding Value. An
// empty string returned by fn is an abstention. fn must be safe for
// concurrent use.
//
// fn decides only the vote: the answer returned is the chosen voter's
// own Prediction, unchanged, so a classifier labelled "1" that wins a
// vote fn counted as "fraud" answers with Label "1".
func LabelBy(fn func(serving.Prediction) string) VoteOption {
	return func(v *vote) { v.label = fn }
}

// Vote returns the Decider that chooses by majority on the label.
//
// Each candidate that answered votes for its label (see [LabelBy] for
// candidates without one). The label with the most votes wins. Ties
// between labels are broken, in order, by:
//
//  1. the higher sum of the voters' Confidence;
//  2. model priority: the label whose earliest voter comes first in the
//     order the models were given.
//
// The answer returned is that of the winning label's voter with the
// highest Confidence, the earliest in priority order on equal
// Confidence. Without votes, or below the quorum ([Quorum], [Majority]),
// the vote fails with ErrNoQuorum.
//
// Vote decides early, cancelling the candidates still running, as soon as
// the leading label has its quorum and more votes than any other label
// could still reach; the answer is then chosen among the voters so far.
// It fails early once no label can reach the quorum any more.
//
// Vote counts without maps, in time quadratic in the number of
// candidates: it is meant for a handful of models, not for hundreds.
func Vote(opts ...VoteOption) Decider {
	v := &vote{quorum: 1, label: func(p serving.Prediction) string { return p.Label }}
	for _, o := range opts {
		if o != nil {
			o(v)
		}
	}
	return v
}

type vote struct {
	quorum   int
	majority bool
	label    func(serving.Prediction) string
}

func (v *vote) String() string { return "vote" }

func (v *vote) validate() error {
	if v.quorum < 1 {
		return configError("Vote: Quorum(%d): need at least 1", v.quorum)
	}
	if v.label == nil {
		return configError("Vote: LabelBy(nil)")
	}
	return nil
}

// tally describes one label's support. Labels are compared by their
// first voter's index, so no map and no allocation is needed: there are
// few candidates.
type tally struct {
	first int // index of the earliest voter
	votes int
	conf  float64
}

func (v *vote) Decide(r *Round) (int, error) {
	n := len(r.Candidates)
	quorum := v.quorum
	if v.majority && n/2+1 > quorum {
		quorum = n/2 + 1
	}
	// Find the leading label and the runner-up's vote count in O(n²),
	// which for a handful of candidates beats building a map.
	var lead tally
	lead.first = -1
	second := 0
	for i := 0; i < n; i++ {
		if !r.ok(i) {
			continue
		}
		li := v.label(*r.Candidates[i].Prediction)
		if li == "" {
			continue
		}
		// Skip labels already tallied from an earlier voter.
		seen := false
		for j := 0; j < i; j++ {
			if r.ok(j) && v.label(*r.Candidates[j].Prediction) == li {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		t := tally{first: i}
		for j := i; j < n; j++ {
			if r.ok(j) && v.label(*r.Candidates[j].Prediction) == li {
				t.votes++
				t.conf += r.Candidates[j].Prediction.Confidence
			}
		}
		switch {
		case lead.first < 0:
			lead = t
		case t.votes > lead.votes || (t.votes == lead.votes && t.conf > lead.conf):
			second = max(second, lead.votes)
			lead = t
		default:
			second = max(second, t.votes)
		}
	}
	if lead.votes+r.Pending < quorum {
		// No label can reach the quorum, not even with every pending vote.
		return -1, ErrNoQuorum
	}
	if lead.votes < quorum {
		return -1, nil // wait: the quorum is still reachable
	}
	if r.Pending > 0 && lead.votes <= second+r.Pending {
		return -1, nil // another label could still catch up
	}
	// The representative: the leading label's most confident voter.
	ll := v.label(*r.Candidates[lead.first].Prediction)
	w := lead.first
	for j := lead.first + 1; j < n; j++ {
		if r.ok(j) && r.Candidates[j].Prediction.Confidence > r.Candidates[w].Prediction.Confidence &&
			v.label(*r.Candidates[j].Prediction) == ll {
			w = j
		}
	}
	return w, nil
}

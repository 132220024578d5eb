package speculative

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// The variant names of a Switch.
const (
	Blue  = "blue"
	Green = "green"
)

// Switch is a Scorer for blue/green deployment: it holds two Scorers,
// blue and green, of which one is live and answers every call while the
// other stands by. [Switch.Promote] makes the standby live,
// [Switch.Rollback] undoes the last promotion, and [Switch.Stage]
// replaces the standby with a new Scorer to promote next. Each of these
// is atomic: a call runs entirely on the Scorer that was live when it
// started.
//
// The Decision has Combinator "switch", the live variant ("blue" or
// "green") in Variant, and two Candidates, blue then green; the standby
// has StatusSkipped. A Switch is safe for concurrent use.
type Switch struct {
	cfg      *config
	mu       sync.Mutex // serialises the writers; readers use state
	state    atomic.Pointer[switchState]
	counters *counters
}

// switchState is immutable.
type switchState struct {
	scorers  [2]serving.Scorer // blue, green
	live     int
	promoted bool // a Promote can be rolled back
}

var switchNames = [2]string{Blue, Green}

// NewSwitch returns a Switch with blue live and green standing by. Both
// must be non-nil. Options: [WithName], [WithHooks].
func NewSwitch(blue, green serving.Scorer, opts ...SwitchOption) (*Switch, error) {
	cfg, err := newConfig(kindSwitch, opts, SwitchOption.applySwitch)
	if err != nil {
		return nil, err
	}
	if isNil(blue) || isNil(green) {
		return nil, configError("switch: nil scorer")
	}
	s := &Switch{cfg: cfg, counters: newCounters(2)}
	s.state.Store(&switchState{scorers: [2]serving.Scorer{blue, green}})
	return s, nil
}

// Live returns the name of the live variant, "blue" or "green".
func (s *Switch) Live() string { return switchNames[s.state.Load().live] }

// Promote makes the standby live and returns its name. The previous live
// Scorer stands by, ready for [Switch.Rollback].
func (s *Switch) Promote() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	next := &switchState{scorers: old.scorers, live: 1 - old.live, promoted: true}
	s.state.Store(next)
	return switchNames[next.live]
}

// Rollback undoes the last [Switch.Promote], making the previous live
// Scorer live again, and returns its name. It returns an error wrapping
// ErrNothingToRollback if there was no promotion since the last
// rollback or [Switch.Stage].
func (s *Switch) Rollback() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	if !old.promoted {
		return switchNames[old.live], ErrNothingToRollback
	}
	next := &switchState{scorers: old.scorers, live: 1 - old.live}
	s.state.Store(next)
	return switchNames[next.live], nil
}

// Stage replaces the standby Scorer, for example with a new model
// version to promote next, and returns the standby's name. Since the
// previous standby is gone, the last promotion can no longer be rolled
// back. sc must not be nil.
func (s *Switch) Stage(sc serving.Scorer) (string, error) {
	if isNil(sc) {
		return "", configError("switch: Stage(nil)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	next := &switchState{scorers: old.scorers, live: old.live}
	next.scorers[1-old.live] = sc
	s.state.Store(next)
	return switchNames[1-next.live], nil
}

// Score implements serving.Scorer: the live Scorer answers. Its error, if
// any, is returned as is, along with a Result recording the Decision; a
// live Scorer that panics fails the call with an error saying so.
func (s *Switch) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	start := time.Now()
	st := s.state.Load()
	out, _, _, err := scoreOne(ctx, r, s.cfg, s.counters, st.scorers[:], st.live, "switch", "", switchNames[st.live], start)
	return out, err
}

// Ref implements serving.Referrer: the Switch's name (see [WithName]).
func (s *Switch) Ref() serving.ModelRef { return serving.ModelRef{Name: s.cfg.name} }

// Stats returns the Switch's counters: Models[0] is blue and Models[1]
// green, named as they are now.
func (s *Switch) Stats() Stats {
	st := s.state.Load()
	return s.counters.snapshot(s.cfg.name, "switch", st.scorers[:], func(i int) string { return switchNames[i] })
}

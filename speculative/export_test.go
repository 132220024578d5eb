package speculative

import (
	"time"

	"github.com/modelstream/modelstream/serving"
)

// LearnLateness turns the Budget's learned timer lead on or off, and
// forgets what was learned; for the straggler harness, which compares
// the two in one run.
func LearnLateness(on bool) {
	learnLateness.Store(on)
	timerLateness.q.Store(0)
}

// UseLead turns the learned lead on or off without forgetting it.
func UseLead(on bool) { learnLateness.Store(on) }

// SetLeadShare caps the lead at 1/share of a budget and returns the
// previous share.
func SetLeadShare(share int64) int64 { return leadShare.Swap(share) }

// LearnedLead is the lead a Budget of d would use now.
func LearnedLead(d time.Duration) time.Duration { return timerLateness.lead(d) }

// DefaultShareRefresh is the number of rewards between a sticky Bandit's
// share refreshes.
const DefaultShareRefresh = defaultShareRefresh

// Route is the variant a Split routes r to now.
func (s *Split) Route(r serving.Record) int { return s.route(r) }

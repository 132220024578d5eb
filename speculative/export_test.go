package speculative

import "time"

// LearnLateness turns the Budget's learned timer lead on or off, and
// forgets what was learned; for the straggler harness, which compares
// the two in one run.
func LearnLateness(on bool) {
	learnLateness.Store(on)
	timerLateness.q.Store(0)
}

// LearnedLead is the lead a Budget of d would use now.
func LearnedLead(d time.Duration) time.Duration { return timerLateness.lead(d) }

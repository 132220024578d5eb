package trainkafka

import "time"

// SetCommitTimeout sets how long Commit commits again what the group did
// not store, and returns a function that restores it.
func SetCommitTimeout(d time.Duration) (undo func()) {
	old := commitTimeout
	commitTimeout = d
	return func() { commitTimeout = old }
}

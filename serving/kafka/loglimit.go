package kafka

import (
	"sync"
	"time"
)

// deadLogEvery is the shortest interval between two dead-letter lines a
// Source logs. A flood of bad records would otherwise be a flood of log
// lines, each up to [maxReason] bytes; the dead letters themselves, the
// Stats and the HookDeadLetter hooks still see every one.
const deadLogEvery = time.Second

// logLimit lets one event through per interval and counts the others,
// so that the next line logged can say how many were not.
type logLimit struct {
	every time.Duration

	mu      sync.Mutex
	next    time.Time
	dropped uint64
}

// allow reports whether the event at now may be logged and, if so, how
// many events were not logged since the last one that was.
func (l *logLimit) allow(now time.Time) (ok bool, dropped uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.dropped++
		return false, 0
	}
	l.next = now.Add(l.every)
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// flush returns how many events were not logged since the last one that
// was, and forgets them.
func (l *logLimit) flush() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dropped
	l.dropped = 0
	return d
}

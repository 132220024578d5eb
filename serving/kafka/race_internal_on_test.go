//go:build race

package kafka

// raceEnabled is true when the race detector is on. Under it, sync.Pool
// drops some of the items put back on purpose, so the recycled score
// slabs allocate again now and then: allocation counts do not hold.
const raceEnabled = true

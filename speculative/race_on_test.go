//go:build race

package speculative_test

// raceEnabled is true when the race detector is on; it makes sync.Pool
// drop items on purpose, so allocation counts mean nothing.
const raceEnabled = true

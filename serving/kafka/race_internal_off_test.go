//go:build !race

package kafka

// raceEnabled is true when the race detector is on; see
// race_internal_on_test.go.
const raceEnabled = false

//go:build race

package tensorflow_test

// raceEnabled is set under the race detector, whose sync.Pool drops a
// share of what is put back.
const raceEnabled = true

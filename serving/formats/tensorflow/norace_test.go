//go:build !race

package tensorflow_test

const raceEnabled = false

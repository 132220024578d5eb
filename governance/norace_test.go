//go:build !race

package governance

const raceEnabled = false

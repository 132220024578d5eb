//go:build race

package governance

// raceEnabled shortens the flood tests under the race detector, which
// makes each verification ten times slower; the bound per name is the
// same.
const raceEnabled = true

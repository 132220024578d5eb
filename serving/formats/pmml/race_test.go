//go:build race

package pmml_test

// raceEnabled is set under the race detector, which slows the parser
// tenfold; the tests of load time on large documents skip under it.
const raceEnabled = true

//go:build !race

package pmml_test

const raceEnabled = false

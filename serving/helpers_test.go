package serving_test

import (
	"math"
	"os"
)

func nanValue() float64 { return math.NaN() }
func infValue() float64 { return math.Inf(1) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

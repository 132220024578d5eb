package serving_test

import (
	"math"
	"os"

	"github.com/modelstream/modelstream/serving"
)

func nanValue() float64 { return math.NaN() }
func infValue() float64 { return math.Inf(1) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// activate drops the ModelRef of an activation, for require.NoError.
func activate(_ serving.ModelRef, err error) error { return err }

// statsOf returns the statistics of the live version of name.
func statsOf(s *serving.Server, name string) (serving.Stats, bool) {
	for _, st := range s.Models() {
		if st.Model.Name == name {
			return st, true
		}
	}
	return serving.Stats{}, false
}

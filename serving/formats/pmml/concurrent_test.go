package pmml_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentPredict scores one model from many goroutines: the
// pooled scratch must never be shared between two evaluations.
func TestConcurrentPredict(t *testing.T) {
	m := loadFile(t, filepath.Join("sklearn", "forest-iris.pmml"))
	rows := readTruth(t, "forest-iris.csv")
	xs := make([][]float64, len(rows))
	for i, r := range rows {
		xs[i] = vec(t, m, r.rec)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				i := (g*31 + k) % len(xs)
				p, err := m.Predict(context.Background(), xs[i])
				if err != nil || p.Label != rows[i].label {
					errs <- rows[i].label + " vs " + p.Label
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

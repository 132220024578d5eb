package leaves_test

import (
	"context"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestConcurrentPredict scores one model from 8 goroutines at once and
// checks every answer against a sequential run. Run it with -race.
func TestConcurrentPredict(t *testing.T) {
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "m", Format: "lightgbm", Bytes: readFile(t, "lgmulticlass.model")})
	if err != nil {
		t.Fatal(err)
	}
	rows := readTable(t, "multiclass_test.tsv", true)[:100]
	want := make([]serving.Prediction, len(rows))
	for i, r := range rows {
		if want[i], err = m.Predict(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for rep := range 5 {
				for i := range rows {
					j := (i + g*13 + rep) % len(rows)
					p, err := m.Predict(ctx, rows[j])
					if err != nil || p.Label != want[j].Label || p.Values[4] != want[j].Values[4] {
						errs <- "mismatch"
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

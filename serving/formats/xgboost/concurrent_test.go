package xgboost_test

import (
	"context"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// TestConcurrentPredict scores from several goroutines at once (run it
// with -race): every answer equals the one-goroutine answer.
func TestConcurrentPredict(t *testing.T) {
	for _, name := range []string{"multi_softprob", "categorical", "dart"} {
		m := loadAs(t, xgboost.FormatUBJSON, readModel(t, name, "ubj"), nil)
		rows := readExpected(t, name).rows()
		want := make([]serving.Prediction, len(rows))
		for i, r := range rows {
			want[i], _ = m.Predict(context.Background(), r)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 50 {
					i := (g*7 + k) % len(rows)
					p, err := m.Predict(context.Background(), rows[i])
					if err != nil || p.Value != want[i].Value || p.Label != want[i].Label {
						errs <- name
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for n := range errs {
			t.Errorf("%s: a concurrent prediction differs", n)
		}
	}
}

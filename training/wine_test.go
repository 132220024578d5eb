package training

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// winePath is the red wine quality data set (Cortez et al., 2009): 1599
// rows, 11 physico-chemical features, and a quality grade. See
// testdata/README.md for its source and licence.
const winePath = "testdata/winequality-red.csv"

func loadWine(t *testing.T) []Sample {
	t.Helper()
	f, err := os.Open(winePath)
	if err != nil {
		t.Fatalf("the real-data check needs %s: %v", winePath, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var out []Sample
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ";")
		if len(fields) != 12 {
			continue
		}
		var s Sample
		for i, fs := range fields {
			v, err := strconv.ParseFloat(fs, 64)
			if err != nil {
				t.Fatalf("bad number %q: %v", fs, err)
			}
			if i == 11 {
				s.Target = v
			} else {
				s.Features = append(s.Features, v)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestWineQuality fits online linear regression to red wine quality
// with 5-fold cross-validation, and reports the mean absolute deviation
// and the accuracy of predictions rounded to the nearest grade, next to
// the exact least-squares fit on the same folds. Cortez et al. report
// MAD 0.50 and 59.1% accuracy (tolerance 0.5) for multiple regression.
func TestWineQuality(t *testing.T) {
	data := loadWine(t)
	if len(data) != 1599 {
		t.Fatalf("read %d rows, want 1599", len(data))
	}
	r := rand.New(rand.NewPCG(2009, 1))
	r.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	const folds = 5
	var mad, lsMad float64
	var hits, lsHits int
	var pv Metrics
	for k := 0; k < folds; k++ {
		var train, test []Sample
		for i, s := range data {
			if i%folds == k {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		l, err := NewLearner(Linear, 11, WithLearningRate(0.005), WithDecay(50))
		if err != nil {
			t.Fatal(err)
		}
		for epoch := 0; epoch < 10; epoch++ {
			for _, s := range train {
				if _, err := l.Learn(s); err != nil {
					t.Fatal(err)
				}
			}
			if epoch == 0 {
				pv.Merge(l.Metrics())
			}
		}
		coef, intercept, _ := leastSquares(t, train)
		for _, s := range test {
			p, _ := l.Predict(s.Features)
			mad += math.Abs(p.Value - s.Target)
			if math.Round(p.Value) == s.Target {
				hits++
			}
			q := intercept
			for j, x := range s.Features {
				q += coef[j] * x
			}
			lsMad += math.Abs(q - s.Target)
			if math.Round(q) == s.Target {
				lsHits++
			}
		}
	}
	n := float64(len(data))
	mad, lsMad = mad/n, lsMad/n
	acc, lsAcc := float64(hits)/n, float64(lsHits)/n
	t.Logf("red wine, 5-fold CV: learner MAD %.3f, rounded accuracy %.1f%%; exact least squares MAD %.3f, accuracy %.1f%%; first-epoch progressive MAD %.3f, accuracy %.1f%% (paper, multiple regression: MAD 0.50, 59.1%%)",
		mad, 100*acc, lsMad, 100*lsAcc, pv.MAE(), 100*pv.Accuracy())
	if mad > lsMad*1.02 || mad > 0.53 {
		t.Errorf("MAD %.3f, want within 2%% of least squares (%.3f) and at most 0.53", mad, lsMad)
	}
	if acc < 0.56 {
		t.Errorf("rounded accuracy %.3f, want at least 0.56", acc)
	}
}

package training

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/modelstream/modelstream/internal/linmodel"
)

// ekf, for BenchmarkLogisticOptimizers, is an online Newton (extended Kalman filter / IRLS-in-one-pass)
// logistic regression on standardised inputs with intercept.
type ekf struct {
	d     int
	theta []float64
	P     []float64
	z, pz []float64
}

func newEKF(d int, p0 float64) *ekf {
	n := d + 1
	e := &ekf{d: d, theta: make([]float64, n), P: make([]float64, n*n), z: make([]float64, n), pz: make([]float64, n)}
	for i := 0; i < n; i++ {
		e.P[i*n+i] = p0
	}
	return e
}

func (e *ekf) prob(u []float64) float64 {
	z := e.theta[e.d]
	for j, x := range u {
		z += e.theta[j] * x
	}
	return linmodel.Sigmoid(z)
}

func (e *ekf) learn(u []float64, y float64) {
	n := e.d + 1
	copy(e.z, u)
	e.z[e.d] = 1
	p := e.prob(u)
	w := math.Max(p*(1-p), 1e-4)
	var zpz float64
	for i := 0; i < n; i++ {
		var s float64
		for j := 0; j < n; j++ {
			s += e.P[i*n+j] * e.z[j]
		}
		e.pz[i] = s
		zpz += s * e.z[i]
	}
	c := w / (1 + w*zpz)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			e.P[i*n+j] -= c * e.pz[i] * e.pz[j]
		}
	}
	// theta += P_new z (y - p) = pz/(1+w zpz) (y-p)
	k := (y - p) / (1 + w*zpz)
	for i := 0; i < n; i++ {
		e.theta[i] += e.pz[i] * k
	}
}

// adagrad, for BenchmarkLogisticOptimizers, is AdaGrad for logistic
// regression with an intercept.
type adagrad struct {
	d        int
	theta, g []float64
	eta      float64
}

func (a *adagrad) prob(u []float64) float64 {
	z := a.theta[a.d]
	for j, x := range u {
		z += a.theta[j] * x
	}
	return linmodel.Sigmoid(z)
}

func (a *adagrad) learn(u []float64, y float64) {
	p := a.prob(u)
	r := p - y
	for j := 0; j <= a.d; j++ {
		x := 1.0
		if j < a.d {
			x = u[j]
		}
		gj := r * x
		a.g[j] += gj * gj
		a.theta[j] -= a.eta * gj / (math.Sqrt(a.g[j]) + 1e-8)
	}
}

// binModel is a binary probability model that learns one sample at a time.
type binModel interface {
	prob(u []float64) float64
	learn(u []float64, y float64)
}

// logisticSets are the binary problems BenchmarkLogisticOptimizers
// measures on: red wine with quality ≥ 6 as the positive class, and the
// synthetic data of TestLogisticRecoversCoefficients (5000 rows).
func logisticSets(b *testing.B) map[string][]Sample {
	f, err := os.Open(winePath)
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	wine := loadWine(&testing.T{})
	wb := make([]Sample, len(wine))
	for i, s := range wine {
		y := 0.0
		if s.Target >= 6 {
			y = 1
		}
		wb[i] = Sample{Features: s.Features, Target: y}
	}
	beta := []float64{1.2, -0.15, 0.002, -90, 0.3}
	r := rand.New(rand.NewPCG(3, 3))
	syn := make([]Sample, 5000)
	for i := range syn {
		x := genX(r)
		z := -0.5
		for j, b := range beta {
			z += b * (x[j] - genOffset[j])
		}
		y := 0.0
		if r.Float64() < linmodel.Sigmoid(z) {
			y = 1
		}
		syn[i] = Sample{Features: x, Target: y}
	}
	return map[string][]Sample{"wine": wb, "synthetic": syn}
}

// heldOut runs 5 shuffles of 5-fold cross-validation with one pass and
// returns the held-out log loss and accuracy of the models that learn
// and predict give.
func heldOut(data []Sample, newModel func() (learn func(Sample), predict func([]float64) float64)) (loss, acc float64) {
	var hits, n int
	for sh := uint64(1); sh <= 5; sh++ {
		rows := append([]Sample(nil), data...)
		rr := rand.New(rand.NewPCG(sh, 7))
		rr.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for k := 0; k < 5; k++ {
			learn, predict := newModel()
			for i, s := range rows {
				if i%5 != k {
					learn(s)
				}
			}
			for i := k; i < len(rows); i += 5 {
				p := math.Min(math.Max(predict(rows[i].Features), 1e-15), 1-1e-15)
				y := rows[i].Target
				loss -= y*math.Log(p) + (1-y)*math.Log(1-p)
				if (p >= 0.5) == (y == 1) {
					hits++
				}
				n++
			}
		}
	}
	return loss / float64(n), float64(hits) / float64(n)
}

// BenchmarkLogisticOptimizers measures whether a second-order or
// better-conditioned optimiser would help the Logistic learner, with one
// pass: the learner's Adam (default, and with decays), against AdaGrad
// and an online Newton step (the extended Kalman filter, IRLS in one
// pass: recursive least squares on the working response), both on inputs
// standardised by a running standardizer. It reports the held-out log
// loss and accuracy of 5 shuffles of 5-fold cross-validation.
func BenchmarkLogisticOptimizers(b *testing.B) {
	for name, data := range logisticSets(b) {
		d := len(data[0].Features)
		exp := func(m binModel) (func(Sample), func([]float64) float64) {
			std := newStandardizer(d)
			u := make([]float64, d)
			return func(s Sample) {
					std.add(s.Features)
					std.transform(u, s.Features)
					m.learn(u, s.Target)
				}, func(x []float64) float64 {
					std.transform(u, x)
					return m.prob(u)
				}
		}
		learner := func(opts ...Option) func() (func(Sample), func([]float64) float64) {
			return func() (func(Sample), func([]float64) float64) {
				l, _ := NewLearner(Logistic, d, opts...)
				return func(s Sample) { l.Learn(s) }, func(x []float64) float64 { p, _ := l.Predict(x); return p.Value }
			}
		}
		for _, c := range []struct {
			name string
			mk   func() (func(Sample), func([]float64) float64)
		}{
			{"newton", learner()},
			{"adam", learner(WithOptimizer(Adam))},
			{"adam-decay50", learner(WithOptimizer(Adam), WithDecay(50))},
			{"adam-0.05-decay50", learner(WithOptimizer(Adam), WithLearningRate(0.05), WithDecay(50))},
			{"adagrad-0.1", func() (func(Sample), func([]float64) float64) {
				return exp(&adagrad{d: d, theta: make([]float64, d+1), g: make([]float64, d+1), eta: 0.1})
			}},
			{"newton-P0=1", func() (func(Sample), func([]float64) float64) { return exp(newEKF(d, 1)) }},
			{"newton-P0=100", func() (func(Sample), func([]float64) float64) { return exp(newEKF(d, 100)) }},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				var loss, acc float64
				for b.Loop() {
					loss, acc = heldOut(data, c.mk)
				}
				b.ReportMetric(loss, "logloss")
				b.ReportMetric(100*acc, "acc%")
			})
		}
	}
}

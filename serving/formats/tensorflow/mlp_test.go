package tensorflow_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// mlp is a dense network's weights, row-major [in, out] per layer.
type mlp struct {
	sizes []int
	w, b  [][]float64
}

func newMLP(rng *rand.Rand, t tfpb.DataType, sizes ...int) *mlp {
	n := &mlp{sizes: sizes}
	for l := 0; l+1 < len(sizes); l++ {
		scale := 1 / math.Sqrt(float64(sizes[l]))
		w := randVals(rng, sizes[l]*sizes[l+1])
		for i := range w {
			w[i] *= scale
		}
		n.w = append(n.w, rounded(t, w))
		n.b = append(n.b, rounded(t, randVals(rng, sizes[l+1])))
	}
	return n
}

// graph writes the network as Keras' Dense layers freeze: MatMul,
// BiasAdd, then Relu on hidden layers and Sigmoid on the last, with the
// weights read through Identity nodes as tf.compat.v1 variables are.
func (n *mlp) graph(t tfpb.DataType) *gb {
	g := &gb{}
	x := g.placeholder("x", t, -1, int64(n.sizes[0]))
	for l := range n.w {
		in, out := int64(n.sizes[l]), int64(n.sizes[l+1])
		p := "dense_" + string(rune('0'+l))
		w := g.constFloat(p+"/kernel", t, n.w[l], in, out)
		w = g.op(p+"/kernel/read", "Identity", attrs{"T": aType(t)}, w)
		b := g.constFloat(p+"/bias", t, n.b[l], out)
		x = g.op(p+"/MatMul", "MatMul", attrs{"T": aType(t), "transpose_a": aBool(false), "transpose_b": aBool(false)}, x, w)
		x = g.op(p+"/BiasAdd", "BiasAdd", attrs{"T": aType(t), "data_format": aStr("NHWC")}, x, b)
		act := "Relu"
		if l == len(n.w)-1 {
			act = "Sigmoid"
		}
		x = g.op(p+"/"+act, act, attrs{"T": aType(t)}, x)
	}
	return g
}

// eval computes the network with plain loops in float64.
func (n *mlp) eval(x []float64) []float64 {
	a := x
	for l := range n.w {
		in, out := n.sizes[l], n.sizes[l+1]
		z := make([]float64, out)
		for j := range out {
			s := n.b[l][j]
			for i := range in {
				s += a[i] * n.w[l][i*out+j]
			}
			if l == len(n.w)-1 {
				s = 1 / (1 + math.Exp(-s))
			} else {
				s = math.Max(s, 0)
			}
			z[j] = s
		}
		a = z
	}
	return a
}

func TestMLP(t *testing.T) {
	for _, dt := range []tfpb.DataType{f32, f64} {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			net := newMLP(rng, dt, 30, 64, 64, 1)
			m := mustLoad(t, net.graph(dt), nil)
			info := m.Describe()
			if info.Features != 30 || len(info.Inputs) != 30 || info.Inputs[0].Name != "x:0" || info.Inputs[29].Name != "x:29" || info.Outputs != 1 {
				t.Fatalf("Describe = %+v", info)
			}
			for range 50 {
				x := rounded(dt, randVals(rng, 30))
				checkNear(t, "mlp", outputs(t, m, x), net.eval(x), tol(dt))
			}
		})
	}
}

// TestPredictBatch checks that PredictBatch, which runs 64 rows through
// the graph at once, gives exactly what Predict gives row by row, for a
// number of rows that leaves a remainder.
func TestPredictBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	net := newMLP(rng, f32, 30, 64, 64, 1)
	m := mustLoad(t, net.graph(f32), nil)
	rows := make([][]float64, 150)
	for i := range rows {
		rows[i] = randVals(rng, 30)
	}
	out := make([]serving.Prediction, len(rows))
	if err := m.PredictBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		want := outputs(t, m, r)
		if out[i].Value != want[0] {
			t.Fatalf("row %d: batch %v, single %v", i, out[i].Value, want[0])
		}
		if !near(out[i].Value, net.eval(rounded(f32, r))[0], tol(f32)) {
			t.Fatalf("row %d: %v, reference %v", i, out[i].Value, net.eval(rounded(f32, r))[0])
		}
	}
}

// TestConcurrentPredict scores from several goroutines at once (run
// with -race): each call must see only its own buffers.
func TestConcurrentPredict(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	net := newMLP(rng, f32, 30, 16, 3)
	m := mustLoad(t, net.graph(f32), nil)
	rows := make([][]float64, 64)
	want := make([][]float64, len(rows))
	for i := range rows {
		rows[i] = randVals(rng, 30)
		want[i] = outputs(t, m, rows[i])
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k := range 200 {
				i := (k*7 + w) % len(rows)
				p, err := m.Predict(context.Background(), rows[i])
				if err != nil {
					t.Error(err)
					return
				}
				for j, v := range p.Values {
					if v != want[i][j] {
						t.Errorf("row %d output %d: %v, want %v", i, j, v, want[i][j])
						return
					}
				}
			}
			out := make([]serving.Prediction, len(rows))
			if err := m.PredictBatch(context.Background(), rows, out); err != nil {
				t.Error(err)
				return
			}
			for i := range rows {
				if out[i].Values[0] != want[i][0] {
					t.Errorf("batch row %d: %v, want %v", i, out[i].Values, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

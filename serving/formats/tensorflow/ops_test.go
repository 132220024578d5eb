package tensorflow_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// Each test builds a small graph around one op and checks it, on random
// inputs, against the op computed here with plain loops in float64,
// for float32 and float64 graphs.

var floatTypes = []tfpb.DataType{f32, f64}

// checkGraph loads g and compares it with ref on n random records of k
// features.
func checkGraph(t *testing.T, dt tfpb.DataType, g *gb, labels map[string]string, k int, ref func(x []float64) []float64) {
	t.Helper()
	m := mustLoad(t, g, labels)
	if f := m.Describe().Features; f != k {
		t.Fatalf("model takes %d features, want %d", f, k)
	}
	rng := rand.New(rand.NewPCG(uint64(k), 9))
	for range 20 {
		x := rounded(dt, randVals(rng, k))
		checkNear(t, "graph", outputs(t, m, x), ref(x), tol(dt))
	}
}

func TestActivations(t *testing.T) {
	acts := map[string]func(float64) float64{
		"Relu":  func(v float64) float64 { return math.Max(v, 0) },
		"Relu6": func(v float64) float64 { return math.Min(math.Max(v, 0), 6) },
		"Elu": func(v float64) float64 {
			if v < 0 {
				return math.Exp(v) - 1
			}
			return v
		},
		"Selu": func(v float64) float64 {
			const scale, alpha = 1.0507009873554805, 1.6732632423543772
			if v < 0 {
				return scale * alpha * (math.Exp(v) - 1)
			}
			return scale * v
		},
		"Sigmoid": func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		"Tanh":    math.Tanh,
	}
	for name, f := range acts {
		for _, dt := range floatTypes {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				g := &gb{}
				x := g.placeholder("x", dt, -1, 7)
				// Scale by 4 so that Relu6 meets its upper bound.
				s := g.op("scaled", "Mul", attrs{"T": aType(dt)}, x, g.constFloat("four", dt, []float64{4}))
				g.op("act", name, attrs{"T": aType(dt)}, s)
				checkGraph(t, dt, g, nil, 7, func(x []float64) []float64 {
					out := make([]float64, len(x))
					for i, v := range x {
						out[i] = f(4 * v)
					}
					return out
				})
			})
		}
	}
}

// broadcastRef computes a binary op over a [2 3] input and a constant
// of shape cs, with NumPy broadcasting spelled out by hand.
func broadcastRef(op func(a, b float64) float64, x []float64, c []float64, cs []int64, swap bool) []float64 {
	out := make([]float64, 6)
	for i := range 2 {
		for j := range 3 {
			var cv float64
			switch len(cs) {
			case 0:
				cv = c[0]
			case 1: // [3] or [1]
				cv = c[j%len(c)]
			case 2: // [2 1], [1 3] or [2 3]
				ci, cj := i, j
				if cs[0] == 1 {
					ci = 0
				}
				if cs[1] == 1 {
					cj = 0
				}
				cv = c[ci*int(cs[1])+cj]
			}
			a, b := x[i*3+j], cv
			if swap {
				a, b = b, a
			}
			out[i*3+j] = op(a, b)
		}
	}
	return out
}

func TestBinaryBroadcast(t *testing.T) {
	ops := map[string]func(a, b float64) float64{
		"Add":     func(a, b float64) float64 { return a + b },
		"AddV2":   func(a, b float64) float64 { return a + b },
		"Sub":     func(a, b float64) float64 { return a - b },
		"Mul":     func(a, b float64) float64 { return a * b },
		"RealDiv": func(a, b float64) float64 { return a / b },
		"Maximum": math.Max,
		"Minimum": math.Min,
	}
	shapes := [][]int64{{}, {1}, {3}, {2, 1}, {1, 3}, {2, 3}}
	rng := rand.New(rand.NewPCG(11, 12))
	for name, f := range ops {
		for _, dt := range floatTypes {
			for _, cs := range shapes {
				for _, swap := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/%v/swap=%v", name, dt, cs, swap), func(t *testing.T) {
						n := 1
						for _, d := range cs {
							n *= int(d)
						}
						c := rounded(dt, randVals(rng, n))
						for i := range c {
							c[i] += 3 // keep divisors away from zero
						}
						g := &gb{}
						x := g.placeholder("x", dt, 2, 3)
						k := g.constFloat("c", dt, c, cs...)
						a, b := x, k
						if swap {
							a, b = k, x
						}
						g.op("op", name, attrs{"T": aType(dt)}, a, b)
						checkGraph(t, dt, g, nil, 6, func(x []float64) []float64 { return broadcastRef(f, x, c, cs, swap) })
					})
				}
			}
		}
	}
}

// TestBroadcastBothWays broadcasts a [-1 3 1] input against a [2 1 4]
// input into [2 3 4].
func TestBroadcastBothWays(t *testing.T) {
	g := &gb{}
	x := g.placeholder("x", f64, 3, 1)
	y := g.placeholder("y", f64, 2, 1, 4)
	g.op("sub", "Sub", attrs{"T": aType(f64)}, x, y)
	checkGraph(t, f64, g, nil, 11, func(v []float64) []float64 {
		x, y := v[:3], v[3:]
		out := make([]float64, 0, 24)
		for i := range 2 {
			for j := range 3 {
				for k := range 4 {
					out = append(out, x[j]-y[i*4+k])
				}
			}
		}
		return out
	})
}

func TestMatMulTranspose(t *testing.T) {
	const m, k, n = 3, 4, 5
	rng := rand.New(rand.NewPCG(13, 14))
	for _, dt := range floatTypes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/ta=%v/tb=%v", dt, ta, tb), func(t *testing.T) {
					w := rounded(dt, randVals(rng, k*n))
					g := &gb{}
					adims := []int64{m, k}
					if ta {
						adims = []int64{k, m}
					}
					bdims := []int64{k, n}
					if tb {
						bdims = []int64{n, k}
					}
					a := g.placeholder("a", dt, adims...)
					b := g.constFloat("b", dt, w, bdims...)
					g.op("mm", "MatMul", attrs{"T": aType(dt), "transpose_a": aBool(ta), "transpose_b": aBool(tb)}, a, b)
					checkGraph(t, dt, g, nil, m*k, func(x []float64) []float64 {
						out := make([]float64, m*n)
						for i := range m {
							for j := range n {
								var s float64
								for p := range k {
									av := x[i*k+p]
									if ta {
										av = x[p*m+i]
									}
									bv := w[p*n+j]
									if tb {
										bv = w[j*k+p]
									}
									s += av * bv
								}
								out[i*n+j] = s
							}
						}
						return out
					})
				})
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	for _, log := range []bool{false, true} {
		for _, dt := range floatTypes {
			op := "Softmax"
			if log {
				op = "LogSoftmax"
			}
			t.Run(op+"/"+dt.String(), func(t *testing.T) {
				g := &gb{}
				x := g.placeholder("x", dt, -1, 2, 5)
				g.op("sm", op, attrs{"T": aType(dt)}, x)
				checkGraph(t, dt, g, nil, 10, func(x []float64) []float64 {
					out := make([]float64, 10)
					for r := range 2 {
						var sum float64
						for _, v := range x[r*5 : r*5+5] {
							sum += math.Exp(v)
						}
						for j, v := range x[r*5 : r*5+5] {
							if log {
								out[r*5+j] = v - math.Log(sum)
							} else {
								out[r*5+j] = math.Exp(v) / sum
							}
						}
					}
					return out
				})
			})
		}
	}
}

// TestShapeOps runs a [-1 6] input through Reshape, ExpandDims, Squeeze
// and a second Reshape, then multiplies by a [2 3] constant: the
// element order must be row-major throughout.
func TestShapeOps(t *testing.T) {
	c := []float64{1, 2, 3, 4, 5, 6}
	g := &gb{}
	x := g.placeholder("x", f32, -1, 6)
	r := g.op("r1", "Reshape", attrs{"T": aType(f32)}, x, g.constI32("s1", false, -1, 2, 3))
	e := g.op("e", "ExpandDims", attrs{"T": aType(f32)}, r, g.constI32("d", true, -2))
	s := g.op("sq", "Squeeze", attrs{"T": aType(f32), "squeeze_dims": aInts(2)}, e)
	s = g.op("sq0", "Squeeze", attrs{"T": aType(f32)}, s) // drops the batch dimension of 1
	k := g.constF32("k", c, 2, 3)
	mul := g.op("mul", "Mul", attrs{"T": aType(f32)}, s, k)
	g.op("r2", "Reshape", attrs{"T": aType(f32)}, mul, g.constI32("s2", false, 3, 2))
	checkGraph(t, f32, g, nil, 6, func(x []float64) []float64 {
		out := make([]float64, 6)
		for i := range out {
			out[i] = x[i] * c[i]
		}
		return out
	})
}

// TestConcatAndNamedPlaceholders joins a [-1 3] and a [-1 1]
// placeholder and a constant on the last axis, and checks how the
// inputs are named.
func TestConcatAndNamedPlaceholders(t *testing.T) {
	for _, dt := range floatTypes {
		t.Run(dt.String(), func(t *testing.T) {
			g := &gb{}
			a := g.placeholder("a", dt, -1, 3)
			b := g.placeholder("b", dt, -1, 1)
			k := g.constFloat("k", dt, []float64{7, 8}, 1, 2)
			g.op("cat", "ConcatV2", attrs{"T": aType(dt), "N": aInt(3)}, a, k, b, g.constI32("axis", true, -1))
			m := mustLoad(t, g, map[string]string{"tensorflow.output": "cat"})
			var names []string
			for _, in := range m.Describe().Inputs {
				names = append(names, in.Name)
			}
			if fmt.Sprint(names) != "[a:0 a:1 a:2 b]" {
				t.Fatalf("inputs %v", names)
			}
			checkGraph(t, dt, g, nil, 4, func(x []float64) []float64 {
				return []float64{x[0], x[1], x[2], 7, 8, x[3]}
			})
		})
	}
}

// TestConcatAxis0 concatenates on the first axis of [2 3] tensors.
func TestConcatAxis0(t *testing.T) {
	g := &gb{}
	a := g.placeholder("a", f64, 2, 3)
	k := g.constF64("k", []float64{1, 2, 3}, 1, 3)
	g.op("cat", "ConcatV2", attrs{"T": aType(f64), "N": aInt(2)}, k, a, g.constI32("axis", true, 0))
	checkGraph(t, f64, g, nil, 6, func(x []float64) []float64 { return append([]float64{1, 2, 3}, x...) })
}

// convRef is a direct NHWC convolution with an HWIO filter.
func convRef(x []float64, h, w, c int, f []float64, kh, kw, oc, s, d int, same bool) []float64 {
	eff := func(k int) int { return (k-1)*d + 1 }
	var oh, ow, ph, pw int
	if same {
		oh, ow = (h+s-1)/s, (w+s-1)/s
		ph = max((oh-1)*s+eff(kh)-h, 0) / 2
		pw = max((ow-1)*s+eff(kw)-w, 0) / 2
	} else {
		oh, ow = (h-eff(kh))/s+1, (w-eff(kw))/s+1
	}
	out := make([]float64, oh*ow*oc)
	for y := range oh {
		for xx := range ow {
			for o := range oc {
				var sum float64
				for i := range kh {
					for j := range kw {
						iy, ix := y*s+i*d-ph, xx*s+j*d-pw
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						for ch := range c {
							sum += x[(iy*w+ix)*c+ch] * f[((i*kw+j)*c+ch)*oc+o]
						}
					}
				}
				out[(y*ow+xx)*oc+o] = sum
			}
		}
	}
	return out
}

func TestConv2D(t *testing.T) {
	const h, w, c, kh, kw, oc = 6, 5, 2, 3, 2, 4
	rng := rand.New(rand.NewPCG(15, 16))
	for _, dt := range floatTypes {
		for _, pad := range []string{"SAME", "VALID"} {
			for _, sd := range [][2]int{{1, 1}, {2, 1}, {1, 2}, {3, 1}} {
				s, d := sd[0], sd[1]
				t.Run(fmt.Sprintf("%s/%s/stride=%d/dilation=%d", dt, pad, s, d), func(t *testing.T) {
					f := rounded(dt, randVals(rng, kh*kw*c*oc))
					g := &gb{}
					x := g.placeholder("img", dt, -1, h, w, c)
					k := g.constFloat("filter", dt, f, kh, kw, c, oc)
					g.op("conv", "Conv2D", attrs{
						"T": aType(dt), "padding": aStr(pad), "data_format": aStr("NHWC"),
						"strides": aInts(1, int64(s), int64(s), 1), "dilations": aInts(1, int64(d), int64(d), 1),
					}, x, k)
					checkGraph(t, dt, g, nil, h*w*c, func(x []float64) []float64 {
						return convRef(x, h, w, c, f, kh, kw, oc, s, d, pad == "SAME")
					})
				})
			}
		}
	}
}

// poolRef is a direct NHWC max or average pooling; padding is skipped.
func poolRef(x []float64, h, w, c, k, s int, same, avg bool) []float64 {
	var oh, ow, ph, pw int
	if same {
		oh, ow = (h+s-1)/s, (w+s-1)/s
		ph, pw = max((oh-1)*s+k-h, 0)/2, max((ow-1)*s+k-w, 0)/2
	} else {
		oh, ow = (h-k)/s+1, (w-k)/s+1
	}
	out := make([]float64, oh*ow*c)
	for y := range oh {
		for xx := range ow {
			for ch := range c {
				best, sum, n := math.Inf(-1), 0.0, 0
				for i := range k {
					for j := range k {
						iy, ix := y*s+i-ph, xx*s+j-pw
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := x[(iy*w+ix)*c+ch]
						best, sum, n = math.Max(best, v), sum+v, n+1
					}
				}
				if avg {
					best = sum / float64(n)
				}
				out[(y*ow+xx)*c+ch] = best
			}
		}
	}
	return out
}

func TestPool(t *testing.T) {
	const h, w, c = 5, 7, 3
	for _, op := range []string{"MaxPool", "AvgPool"} {
		for _, dt := range floatTypes {
			for _, pad := range []string{"SAME", "VALID"} {
				for _, ks := range [][2]int{{2, 2}, {3, 2}, {3, 1}} {
					k, s := ks[0], ks[1]
					t.Run(fmt.Sprintf("%s/%s/%s/k=%d/s=%d", op, dt, pad, k, s), func(t *testing.T) {
						g := &gb{}
						x := g.placeholder("img", dt, -1, h, w, c)
						g.op("pool", op, attrs{
							"T": aType(dt), "padding": aStr(pad), "data_format": aStr("NHWC"),
							"ksize": aInts(1, int64(k), int64(k), 1), "strides": aInts(1, int64(s), int64(s), 1),
						}, x)
						checkGraph(t, dt, g, nil, h*w*c, func(x []float64) []float64 {
							return poolRef(x, h, w, c, k, s, pad == "SAME", op == "AvgPool")
						})
					})
				}
			}
		}
	}
}

func TestReduce(t *testing.T) {
	// The input is [2 3 4] (no batch dimension), reduced over axes.
	cases := []struct {
		axes []int32
		keep bool
	}{
		{[]int32{0}, false}, {[]int32{1}, true}, {[]int32{2}, false}, {[]int32{-1, 0}, true},
		{[]int32{0, 1, 2}, false}, {[]int32{}, false}, {[]int32{1, 2}, false},
	}
	for _, op := range []string{"Mean", "Sum"} {
		for _, dt := range floatTypes {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%v/keep=%v", op, dt, tc.axes, tc.keep), func(t *testing.T) {
					g := &gb{}
					x := g.placeholder("x", dt, 2, 3, 4)
					g.op("red", op, attrs{"T": aType(dt), "keep_dims": aBool(tc.keep)}, x, g.constI32("axes", false, tc.axes...))
					red := [3]bool{}
					for _, a := range tc.axes {
						red[(int(a)+3)%3] = true
					}
					checkGraph(t, dt, g, nil, 24, func(x []float64) []float64 {
						dims := [3]int{2, 3, 4}
						od := dims
						for i := range od {
							if red[i] {
								od[i] = 1
							}
						}
						out := make([]float64, od[0]*od[1]*od[2])
						count := make([]float64, len(out))
						for i := range 2 {
							for j := range 3 {
								for k := range 4 {
									oi, oj, ok := i, j, k
									if red[0] {
										oi = 0
									}
									if red[1] {
										oj = 0
									}
									if red[2] {
										ok = 0
									}
									o := (oi*od[1]+oj)*od[2] + ok
									out[o] += x[(i*3+j)*4+k]
									count[o]++
								}
							}
						}
						if op == "Mean" {
							for i := range out {
								out[i] /= count[i]
							}
						}
						return out
					})
				})
			}
		}
	}
}

// TestArgMaxCast takes the ArgMax of each row of a [-1 2 5] input, as
// int64 or int32, and casts it to float.
func TestArgMaxCast(t *testing.T) {
	for _, ot := range []tfpb.DataType{i64, i32} {
		for _, dim := range []int32{1, -1} {
			t.Run(fmt.Sprintf("%v/dim=%d", ot, dim), func(t *testing.T) {
				g := &gb{}
				x := g.placeholder("x", f32, -1, 2, 5)
				am := g.op("am", "ArgMax", attrs{"T": aType(f32), "output_type": aType(ot)}, x, g.constI32("dim", true, dim))
				g.op("cast", "Cast", attrs{"SrcT": aType(ot), "DstT": aType(f64)}, am)
				checkGraph(t, f32, g, nil, 10, func(x []float64) []float64 {
					out := make([]float64, 0, 2)
					if dim == 1 { // over the 2 rows, per column
						for j := range 5 {
							best := 0
							if x[5+j] > x[j] {
								best = 1
							}
							out = append(out, float64(best))
						}
						return out
					}
					for r := range 2 {
						best := 0
						for j := range 5 {
							if x[r*5+j] > x[r*5+best] {
								best = j
							}
						}
						out = append(out, float64(best))
					}
					return out
				})
			})
		}
	}
}

// TestCast rounds through int32 and float64: Cast truncates toward zero.
func TestCast(t *testing.T) {
	g := &gb{}
	x := g.placeholder("x", f32, -1, 4)
	s := g.op("scale", "Mul", attrs{"T": aType(f32)}, x, g.constF32("ten", []float64{10}))
	c := g.op("toint", "Cast", attrs{"SrcT": aType(f32), "DstT": aType(i32)}, s)
	c = g.op("to64", "Cast", attrs{"SrcT": aType(i32), "DstT": aType(i64)}, c)
	c = g.op("tod", "Cast", attrs{"SrcT": aType(i64), "DstT": aType(f64)}, c)
	g.op("tof", "Cast", attrs{"SrcT": aType(f64), "DstT": aType(f32)}, c)
	checkGraph(t, f32, g, nil, 4, func(x []float64) []float64 {
		out := make([]float64, 4)
		for i, v := range x {
			out[i] = math.Trunc(float64(float32(v) * 10))
		}
		return out
	})
}

// TestConstantFolding computes a Reshape's shape from constants (a
// ConcatV2 of a Cast and an Add of int32 constants) and a weight from a
// constant subgraph; all of it is computed at load.
func TestConstantFolding(t *testing.T) {
	g := &gb{}
	x := g.placeholder("x", f64, -1, 6)
	a := g.op("minus1", "Cast", attrs{"SrcT": aType(f64), "DstT": aType(i32)}, g.constF64("m1", []float64{-1.7}, 1))
	b := g.op("three", "AddV2", attrs{"T": aType(i32)}, g.constI32("one", false, 1), g.constI32("two", false, 2))
	shape := g.op("shape", "ConcatV2", attrs{"T": aType(i32), "N": aInt(3)}, a, g.constI32("d2", false, 2), b, g.constI32("ax", true, 0))
	r := g.op("r", "Reshape", attrs{"T": aType(f64), "Tshape": aType(i32)}, x, shape)
	w := g.op("w", "Mul", attrs{"T": aType(f64)}, g.constF64("w0", []float64{1, 2, 3}, 3), g.constF64("half", []float64{0.5}))
	g.op("y", "Mul", attrs{"T": aType(f64)}, r, w)
	checkGraph(t, f64, g, nil, 6, func(x []float64) []float64 {
		out := make([]float64, 6)
		for i, v := range x {
			out[i] = v * 0.5 * float64(i%3+1)
		}
		return out
	})
}

// TestNCHW runs Conv2D, BiasAdd, MaxPool and AvgPool in the NCHW data
// format: each must equal its NHWC computation on transposed data.
func TestNCHW(t *testing.T) {
	const h, w, c, oc = 5, 6, 2, 3
	rng := rand.New(rand.NewPCG(17, 18))
	f := rounded(f64, randVals(rng, 3*3*c*oc))
	bias := rounded(f64, randVals(rng, oc))
	g := &gb{}
	x := g.placeholder("img", f64, -1, c, h, w)
	k := g.constF64("filter", f, 3, 3, c, oc)
	conv := g.op("conv", "Conv2D", attrs{"T": aType(f64), "padding": aStr("SAME"), "data_format": aStr("NCHW"),
		"strides": aInts(1, 1, 2, 1), "dilations": aInts(1, 1, 1, 2)}, x, k)
	ba := g.op("bias", "BiasAdd", attrs{"T": aType(f64), "data_format": aStr("NCHW")}, conv, g.constF64("b", bias, oc))
	mp := g.op("max", "MaxPool", attrs{"T": aType(f64), "padding": aStr("VALID"), "data_format": aStr("NCHW"),
		"ksize": aInts(1, 1, 2, 2), "strides": aInts(1, 1, 1, 2)}, ba)
	ap := g.op("avg", "AvgPool", attrs{"T": aType(f64), "padding": aStr("SAME"), "data_format": aStr("NCHW"),
		"ksize": aInts(1, 1, 2, 2), "strides": aInts(1, 1, 1, 1)}, ba)
	g.op("out", "ConcatV2", attrs{"T": aType(f64), "N": aInt(2)}, g.op("mpf", "Reshape", attrs{"T": aType(f64)}, mp, g.constI32("s1", false, 1, -1)),
		g.op("apf", "Reshape", attrs{"T": aType(f64)}, ap, g.constI32("s2", false, 1, -1)), g.constI32("ax", true, 1))
	checkGraph(t, f64, g, nil, h*w*c, func(xs []float64) []float64 {
		// xs is NCHW; compute in NHWC with the references, then back.
		nhwc := make([]float64, len(xs))
		for ch := range c {
			for p := range h * w {
				nhwc[p*c+ch] = xs[ch*h*w+p]
			}
		}
		// Strides (2, 1) and dilations (1, 2) differ per axis: the
		// reference takes one of each, so compute it directly here.
		oh, ow := (h+1)/2, w
		ph := max((oh-1)*2+3-h, 0) / 2
		pw := max((ow-1)*1+5-w, 0) / 2
		y := make([]float64, oh*ow*oc)
		for oy := range oh {
			for ox := range ow {
				for o := range oc {
					s := bias[o]
					for ky := range 3 {
						for kx := range 3 {
							iy, ix := oy*2+ky-ph, ox+kx*2-pw
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							for ch := range c {
								s += nhwc[(iy*w+ix)*c+ch] * f[((ky*3+kx)*c+ch)*oc+o]
							}
						}
					}
					y[(oy*ow+ox)*oc+o] = s
				}
			}
		}
		// MaxPool 2x2 stride (1, 2) VALID, AvgPool 2x2 stride 1 SAME.
		mh, mw := oh-1, (ow-2)/2+1
		var maxOut, avgOut []float64
		for ch := range oc {
			for py := range mh {
				for px := range mw {
					m := math.Inf(-1)
					for ky := range 2 {
						for kx := range 2 {
							m = math.Max(m, y[((py+ky)*ow+px*2+kx)*oc+ch])
						}
					}
					maxOut = append(maxOut, m)
				}
			}
		}
		ah, aw := oh, ow
		for ch := range oc {
			for py := range ah {
				for px := range aw {
					s, n := 0.0, 0
					for ky := range 2 {
						for kx := range 2 {
							iy, ix := py+ky, px+kx // SAME with a 2x2 window pads after
							if iy < oh && ix < ow {
								s, n = s+y[(iy*ow+ix)*oc+ch], n+1
							}
						}
					}
					avgOut = append(avgOut, s/float64(n))
				}
			}
		}
		return append(maxOut, avgOut...)
	})
}

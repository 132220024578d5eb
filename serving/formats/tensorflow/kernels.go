package tensorflow

import "math"

// The compute loops of the ops. Each writes every element of its output;
// none allocates. Float32 graphs compute in float32, as TensorFlow does,
// except the transcendental functions, which go through float64.

type float interface{ ~float32 | ~float64 }

type number interface{ ~float32 | ~float64 | ~int64 }

type mmGeom struct {
	m, k, n int
	ta, tb  bool
}

// matmul computes dst[m,n] = op(a) op(b).
func matmul[T float](dst, a, b []T, g mmGeom) {
	m, k, n := g.m, g.k, g.n
	switch {
	case !g.ta && !g.tb:
		for i := range m {
			row := dst[i*n : (i+1)*n]
			clear(row)
			ar := a[i*k : (i+1)*k]
			for p, av := range ar {
				br := b[p*n : (p+1)*n]
				br = br[:len(row)] // one bounds check per row, not per element
				for j := range row {
					row[j] += av * br[j]
				}
			}
		}
	case !g.ta && g.tb:
		for i := range m {
			ar := a[i*k : (i+1)*k]
			for j := range n {
				br := b[j*k : (j+1)*k]
				var s T
				for p, av := range ar {
					s += av * br[p]
				}
				dst[i*n+j] = s
			}
		}
	default:
		// a is stored [k, m]; b is [k, n] or, transposed, [n, k].
		for i := range m {
			for j := range n {
				var s T
				for p := range k {
					bv := b[p*n+j]
					if g.tb {
						bv = b[j*k+p]
					}
					s += a[p*m+i] * bv
				}
				dst[i*n+j] = s
			}
		}
	}
}

// biasAdd adds b along the channel dimension, which inner elements
// follow (1 for NHWC, H*W for NCHW).
func biasAdd[T float](dst, x, b []T, inner int) {
	c := len(b)
	if inner == 1 {
		for i := 0; i < len(x); i += c {
			d, s := dst[i:i+c], x[i:i+c]
			for j, bv := range b {
				d[j] = s[j] + bv
			}
		}
		return
	}
	for i := 0; i < len(x); i += c * inner {
		for j, bv := range b {
			o := i + j*inner
			d, s := dst[o:o+inner], x[o:o+inner]
			for k, v := range s {
				d[k] = v + bv
			}
		}
	}
}

// transposeNCHW copies an NCHW tensor of n images, ch channels and hw
// pixels into NHWC order, or back when back is set.
func transposeNCHW[T float](dst, src []T, n, ch, hw int, back bool) {
	for b := range n {
		for c := range ch {
			for p := range hw {
				nchw, nhwc := (b*ch+c)*hw+p, (b*hw+p)*ch+c
				if back {
					dst[nchw] = src[nhwc]
				} else {
					dst[nhwc] = src[nchw]
				}
			}
		}
	}
}

type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
)

// bcast holds a binary op's index maps (see broadcast); a nil map reads
// the operand element for element.
type bcast struct{ ia, ib []int32 }

func binaryOp[T number](op binOp, dst, a, b []T, bc bcast) {
	if bc.ia == nil && bc.ib == nil {
		switch op {
		case opAdd:
			for i := range dst {
				dst[i] = a[i] + b[i]
			}
		case opSub:
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		case opMul:
			for i := range dst {
				dst[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		case opMax:
			for i := range dst {
				dst[i] = maxNaN(a[i], b[i])
			}
		case opMin:
			for i := range dst {
				dst[i] = minNaN(a[i], b[i])
			}
		}
		return
	}
	for i := range dst {
		ai, bi := i, i
		if bc.ia != nil {
			ai = int(bc.ia[i])
		}
		if bc.ib != nil {
			bi = int(bc.ib[i])
		}
		x, y := a[ai], b[bi]
		switch op {
		case opAdd:
			dst[i] = x + y
		case opSub:
			dst[i] = x - y
		case opMul:
			dst[i] = x * y
		case opDiv:
			dst[i] = x / y
		case opMax:
			dst[i] = maxNaN(x, y)
		case opMin:
			dst[i] = minNaN(x, y)
		}
	}
}

// maxNaN and minNaN propagate NaN, as TensorFlow's Maximum and Minimum
// do.
func maxNaN[T number](x, y T) T {
	if x != x || x > y {
		return x
	}
	return y
}

func minNaN[T number](x, y T) T {
	if x != x || x < y {
		return x
	}
	return y
}

type activation uint8

const (
	actRelu activation = iota
	actRelu6
	actElu
	actSelu
	actSigmoid
	actTanh
)

// The SELU constants, as in Klambauer et al. (2017) and TensorFlow.
const (
	seluScale = 1.0507009873554804934193349852946
	seluAlpha = 1.6732632423543772848170429916717
)

func activate[T float](act activation, dst, x []T) {
	switch act {
	case actRelu:
		for i, v := range x {
			dst[i] = max(v, 0) // max propagates NaN
		}
	case actRelu6:
		for i, v := range x {
			dst[i] = min(max(v, 0), 6)
		}
	case actElu:
		for i, v := range x {
			if v < 0 {
				v = T(math.Expm1(float64(v)))
			}
			dst[i] = v
		}
	case actSelu:
		for i, v := range x {
			if v < 0 {
				dst[i] = T(seluScale * seluAlpha * math.Expm1(float64(v)))
			} else {
				dst[i] = T(seluScale) * v
			}
		}
	case actSigmoid:
		for i, v := range x {
			dst[i] = T(1 / (1 + math.Exp(-float64(v))))
		}
	case actTanh:
		for i, v := range x {
			dst[i] = T(math.Tanh(float64(v)))
		}
	}
}

// softmax computes softmax (or its log) over each run of w elements.
func softmax[T float](dst, x []T, w int, log bool) {
	if w == 0 {
		return
	}
	for o := 0; o < len(x); o += w {
		in, out := x[o:o+w], dst[o:o+w]
		m := in[0]
		for _, v := range in[1:] {
			m = max(m, v)
		}
		var sum float64
		for j, v := range in {
			e := math.Exp(float64(v - m))
			sum += e
			if !log {
				out[j] = T(e)
			}
		}
		if log {
			ls := math.Log(sum)
			for j, v := range in {
				out[j] = T(float64(v-m) - ls)
			}
			continue
		}
		for j := range out {
			out[j] = T(float64(out[j]) / sum)
		}
	}
}

// concat copies each part's inner blocks side by side, outer times.
func concat[T number](v []tensor, out int, parts, inner []int, outer int, get func(*tensor) []T) {
	dst := get(&v[out])
	stride := 0
	for _, n := range inner {
		stride += n
	}
	off := 0
	for i, p := range parts {
		src := get(&v[p])
		n := inner[i]
		for o := range outer {
			copy(dst[o*stride+off:o*stride+off+n], src[o*n:(o+1)*n])
		}
		off += n
	}
}

// convGeom is the geometry of an NHWC convolution or pooling window.
type convGeom struct {
	n, h, w, c     int // input
	kh, kw, oc     int // filter (for pooling, oc == c)
	sh, sw, dh, dw int // strides and dilations
	oh, ow, ph, pw int // output size and padding before
}

// conv2d computes an NHWC convolution with an HWIO filter.
func conv2d[T float](dst, x, f []T, g convGeom) {
	clear(dst)
	for b := range g.n {
		for oy := range g.oh {
			for ox := range g.ow {
				o := dst[((b*g.oh+oy)*g.ow+ox)*g.oc:][:g.oc]
				for ky := range g.kh {
					iy := oy*g.sh + ky*g.dh - g.ph
					if iy < 0 || iy >= g.h {
						continue
					}
					for kx := range g.kw {
						ix := ox*g.sw + kx*g.dw - g.pw
						if ix < 0 || ix >= g.w {
							continue
						}
						in := x[((b*g.h+iy)*g.w+ix)*g.c:][:g.c]
						fk := f[(ky*g.kw+kx)*g.c*g.oc:]
						for ic, xv := range in {
							fr := fk[ic*g.oc:][:g.oc]
							for oc, fv := range fr {
								o[oc] += xv * fv
							}
						}
					}
				}
			}
		}
	}
}

// pool computes an NHWC max or average pooling. Padding is never read:
// an average divides by the number of input elements in the window.
func pool[T float](dst, x []T, g convGeom, avg bool) {
	for b := range g.n {
		for oy := range g.oh {
			for ox := range g.ow {
				o := dst[((b*g.oh+oy)*g.ow+ox)*g.c:][:g.c]
				if avg {
					clear(o)
				} else {
					for i := range o {
						o[i] = T(math.Inf(-1))
					}
				}
				count := 0
				for ky := range g.kh {
					iy := oy*g.sh + ky - g.ph
					if iy < 0 || iy >= g.h {
						continue
					}
					for kx := range g.kw {
						ix := ox*g.sw + kx - g.pw
						if ix < 0 || ix >= g.w {
							continue
						}
						count++
						in := x[((b*g.h+iy)*g.w+ix)*g.c:][:g.c]
						if avg {
							for i, v := range in {
								o[i] += v
							}
						} else {
							for i, v := range in {
								o[i] = maxNaN(v, o[i])
							}
						}
					}
				}
				if avg && count > 0 {
					for i := range o {
						o[i] /= T(count)
					}
				}
			}
		}
	}
}

// reduce sums (or averages) x into dst: element i adds into dst[m[i]]
// (or dst[i] when m is nil).
func reduce[T number](dst, x []T, m []int32, count int, mean bool) {
	clear(dst)
	if m == nil {
		copy(dst, x)
	} else {
		for i, v := range x {
			dst[m[i]] += v
		}
	}
	if mean {
		for i := range dst {
			dst[i] /= T(count)
		}
	}
}

// cast converts src into dst, whose dtypes differ.
func cast(dst, src *tensor) {
	n := len(src.f32) + len(src.f64) + len(src.i64)
	for i := range n {
		var x float64
		var xi int64
		isInt := false
		switch src.dt {
		case dtFloat32:
			x = float64(src.f32[i])
		case dtFloat64:
			x = src.f64[i]
		default:
			xi, isInt = src.i64[i], true
			x = float64(xi)
		}
		switch dst.dt {
		case dtFloat32:
			dst.f32[i] = float32(x)
		case dtFloat64:
			dst.f64[i] = x
		case dtInt32:
			if !isInt {
				xi = satInt(x)
			}
			dst.i64[i] = int64(int32(xi))
		case dtInt64:
			if !isInt {
				xi = satInt(x)
			}
			dst.i64[i] = xi
		}
	}
}

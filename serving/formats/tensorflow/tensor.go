package tensorflow

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// dtype is the element type of a tensor this package computes with.
// int32 values are held in int64 storage; the dtype keeps TensorFlow's
// distinction for attribute checks and for Cast.
type dtype uint8

const (
	dtFloat32 dtype = iota + 1
	dtFloat64
	dtInt32
	dtInt64
)

func (d dtype) String() string {
	switch d {
	case dtFloat32:
		return "float32"
	case dtFloat64:
		return "float64"
	case dtInt32:
		return "int32"
	case dtInt64:
		return "int64"
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

func (d dtype) isFloat() bool { return d == dtFloat32 || d == dtFloat64 }

// fromProto maps a TensorFlow DataType to a dtype; ok is false for the
// types this package does not compute with.
func fromProto(t tfpb.DataType) (dtype, bool) {
	switch t {
	case tfpb.DataType_DT_FLOAT:
		return dtFloat32, true
	case tfpb.DataType_DT_DOUBLE:
		return dtFloat64, true
	case tfpb.DataType_DT_INT32:
		return dtInt32, true
	case tfpb.DataType_DT_INT64:
		return dtInt64, true
	}
	return 0, false
}

// protoTypeName names a TensorFlow DataType for error messages.
func protoTypeName(t tfpb.DataType) string {
	if s, ok := tfpb.DataType_name[int32(t)]; ok {
		return s
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// tensor is a dense row-major tensor. Exactly one of f32, f64 and i64
// holds the data, according to dt.
type tensor struct {
	dt    dtype
	shape []int
	f32   []float32
	f64   []float64
	i64   []int64
}

// newTensor allocates a zero tensor of n elements.
func newTensor(dt dtype, shape []int, n int) tensor {
	t := tensor{dt: dt, shape: shape}
	switch dt {
	case dtFloat32:
		t.f32 = make([]float32, n)
	case dtFloat64:
		t.f64 = make([]float64, n)
	default:
		t.i64 = make([]int64, n)
	}
	return t
}

// withShape returns t viewed with another shape of the same size; the
// data is shared.
func (t tensor) withShape(shape []int) tensor {
	t.shape = shape
	return t
}

// at returns element i as a float64.
func (t *tensor) at(i int) float64 {
	switch t.dt {
	case dtFloat32:
		return float64(t.f32[i])
	case dtFloat64:
		return t.f64[i]
	default:
		return float64(t.i64[i])
	}
}

// ints returns the elements of an integer tensor.
func (t *tensor) ints() []int64 { return t.i64 }

func f32s(t *tensor) []float32 { return t.f32 }
func f64s(t *tensor) []float64 { return t.f64 }
func i64s(t *tensor) []int64   { return t.i64 }

// shapeString formats a shape as TensorFlow prints it, [2 3].
func shapeString(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// elements returns the number of elements of shape, or an error when a
// dimension is negative or the product exceeds limit.
func elements(shape []int, limit int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %s", shapeString(shape))
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > limit/int64(d) {
			return 0, &tooLargeError{what: "shape " + shapeString(shape), limit: limit}
		}
		n *= int64(d)
	}
	if n > limit {
		return 0, &tooLargeError{what: "shape " + shapeString(shape), limit: limit}
	}
	return int(n), nil
}

// decodeShape reads a fully known TensorShapeProto (a tensor's own shape,
// where every dimension is known) with at most maxRank dimensions.
func decodeShape(p *tfpb.TensorShapeProto) ([]int, error) {
	if p == nil {
		return []int{}, nil
	}
	if p.GetUnknownRank() {
		return nil, fmt.Errorf("tensor shape of unknown rank")
	}
	if len(p.GetDim()) > maxRank {
		return nil, fmt.Errorf("tensor shape of rank %d (at most %d)", len(p.GetDim()), maxRank)
	}
	s := make([]int, len(p.GetDim()))
	for i, d := range p.GetDim() {
		if d.GetSize() < 0 || d.GetSize() > math.MaxInt32 {
			return nil, fmt.Errorf("tensor dimension %d is %d", i, d.GetSize())
		}
		s[i] = int(d.GetSize())
	}
	return s, nil
}

// decodeTensor turns a TensorProto into a tensor, checking that its
// content fills its declared shape, with at most limit elements.
//
// As TensorFlow does, a tensor given by fewer typed values than its shape
// holds repeats the last value (a single value fills the tensor), and one
// given no values at all is zero.
func decodeTensor(p *tfpb.TensorProto, limit int64) (tensor, error) {
	dt, ok := fromProto(p.GetDtype())
	if !ok {
		return tensor{}, &unsupportedError{fmt.Sprintf("constant of type %s", protoTypeName(p.GetDtype()))}
	}
	shape, err := decodeShape(p.GetTensorShape())
	if err != nil {
		return tensor{}, err
	}
	n, err := elements(shape, limit)
	if err != nil {
		return tensor{}, err
	}
	t := newTensor(dt, shape, n)
	if c := p.GetTensorContent(); len(c) > 0 {
		size := 4
		if dt == dtFloat64 || dt == dtInt64 {
			size = 8
		}
		if len(c) != n*size {
			return tensor{}, fmt.Errorf("tensor_content has %d bytes, shape %s of %s needs %d", len(c), shapeString(shape), dt, n*size)
		}
		le := binary.LittleEndian
		for i := range n {
			switch dt {
			case dtFloat32:
				t.f32[i] = math.Float32frombits(le.Uint32(c[4*i:]))
			case dtFloat64:
				t.f64[i] = math.Float64frombits(le.Uint64(c[8*i:]))
			case dtInt32:
				t.i64[i] = int64(int32(le.Uint32(c[4*i:])))
			case dtInt64:
				t.i64[i] = int64(le.Uint64(c[8*i:]))
			}
		}
		return t, nil
	}
	switch dt {
	case dtFloat32:
		err = fill(t.f32, p.GetFloatVal(), func(v float32) float32 { return v })
	case dtFloat64:
		err = fill(t.f64, p.GetDoubleVal(), func(v float64) float64 { return v })
	case dtInt32:
		err = fill(t.i64, p.GetIntVal(), func(v int32) int64 { return int64(v) })
	case dtInt64:
		err = fill(t.i64, p.GetInt64Val(), func(v int64) int64 { return v })
	}
	if err != nil {
		return tensor{}, fmt.Errorf("shape %s: %w", shapeString(shape), err)
	}
	return t, nil
}

// fill copies vals into dst, repeating the last value; more values than
// dst holds is an error.
func fill[S, D any](dst []D, vals []S, conv func(S) D) error {
	if len(vals) > len(dst) {
		return fmt.Errorf("%d values for %d elements", len(vals), len(dst))
	}
	if len(vals) == 0 {
		return nil
	}
	for i, v := range vals {
		dst[i] = conv(v)
	}
	last := dst[len(vals)-1]
	for i := len(vals); i < len(dst); i++ {
		dst[i] = last
	}
	return nil
}

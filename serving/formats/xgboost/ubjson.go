package xgboost

// A decoder for the UBJSON documents XGBoost writes (Booster.save_model
// to a ".ubj" file). No Go UBJSON library is among the module's chosen
// dependencies, and the ones that exist decode through reflection into
// user types, trusting the counts in the input; this one is small and
// bounded instead:
//
//   - nesting is limited to maxDepth containers;
//   - every count and length is checked against the bytes that remain
//     before anything is allocated for it, so the values decoded never
//     take more than a small constant times the input size;
//   - numbers must be finite where XGBoost writes finite numbers is left
//     to the model checks; the decoder accepts any IEEE value.
//
// The result uses the same Go types as encoding/json decoding into an
// any (map[string]any, []any, float64, string, bool, nil), except that a
// strongly typed numeric array ("[$d#..." and the like, which XGBoost
// uses for every per-node array) decodes to a []float64 or []int64
// rather than a []any, which keeps large models compact.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// maxDepth bounds the nesting of JSON and UBJSON documents. An XGBoost
// model nests about six levels deep.
const maxDepth = 64

// errUBJ is wrapped by every UBJSON syntax error.
var errUBJ = errors.New("ubjson")

type ubjDecoder struct {
	b   []byte
	off int
}

// decodeUBJ decodes one UBJSON value that must fill all of b.
func decodeUBJ(b []byte) (any, error) {
	d := &ubjDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, d.errorf("%d bytes after the document", len(d.b)-d.off)
	}
	return v, nil
}

func (d *ubjDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", errUBJ, d.off, fmt.Sprintf(format, args...))
}

func (d *ubjDecoder) left() int { return len(d.b) - d.off }

// marker reads the next type marker, skipping no-ops.
func (d *ubjDecoder) marker() (byte, error) {
	for d.off < len(d.b) {
		m := d.b[d.off]
		d.off++
		if m != 'N' {
			return m, nil
		}
	}
	return 0, d.errorf("truncated")
}

func (d *ubjDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.left() {
		return nil, d.errorf("truncated: %d bytes needed, %d left", n, d.left())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

// size returns the byte size of a fixed-size scalar marker, or 0.
func size(m byte) int {
	switch m {
	case 'i', 'U', 'C':
		return 1
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	}
	return 0
}

// number reads the payload of a numeric marker m.
func (d *ubjDecoder) number(m byte) (float64, int64, bool, error) {
	p, err := d.take(size(m))
	if err != nil {
		return 0, 0, false, err
	}
	switch m {
	case 'i':
		v := int64(int8(p[0]))
		return float64(v), v, true, nil
	case 'U', 'C':
		v := int64(p[0])
		return float64(v), v, true, nil
	case 'I':
		v := int64(int16(binary.BigEndian.Uint16(p)))
		return float64(v), v, true, nil
	case 'l':
		v := int64(int32(binary.BigEndian.Uint32(p)))
		return float64(v), v, true, nil
	case 'L':
		v := int64(binary.BigEndian.Uint64(p))
		return float64(v), v, true, nil
	case 'd':
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), 0, false, nil
	case 'D':
		return math.Float64frombits(binary.BigEndian.Uint64(p)), 0, false, nil
	}
	return 0, 0, false, d.errorf("marker %q is not a number", m)
}

// length reads an integer (marker and payload) used as a length or
// count, and checks it against the bytes left at minimum minSize bytes
// per element.
func (d *ubjDecoder) length(minSize int) (int, error) {
	m, err := d.marker()
	if err != nil {
		return 0, err
	}
	if m != 'i' && m != 'U' && m != 'I' && m != 'l' && m != 'L' {
		return 0, d.errorf("marker %q where a length goes", m)
	}
	_, n, _, err := d.number(m)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, d.errorf("negative length %d", n)
	}
	if minSize > 0 && n > int64(d.left()/minSize) {
		return 0, d.errorf("length %d does not fit in the %d bytes left", n, d.left())
	}
	return int(n), nil
}

func (d *ubjDecoder) str() (string, error) {
	n, err := d.length(1)
	if err != nil {
		return "", err
	}
	p, err := d.take(n)
	return string(p), err
}

func (d *ubjDecoder) value(depth int) (any, error) {
	m, err := d.marker()
	if err != nil {
		return nil, err
	}
	return d.valueOf(m, depth)
}

func (d *ubjDecoder) valueOf(m byte, depth int) (any, error) {
	switch m {
	case 'Z':
		return nil, nil
	case 'T':
		return true, nil
	case 'F':
		return false, nil
	case 'i', 'U', 'I', 'l', 'L', 'd', 'D':
		f, _, _, err := d.number(m)
		return f, err
	case 'C':
		p, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return string(p), nil
	case 'S', 'H':
		return d.str()
	case '[', '{':
		if depth >= maxDepth {
			return nil, d.errorf("nested deeper than %d", maxDepth)
		}
		if m == '[' {
			return d.array(depth + 1)
		}
		return d.object(depth + 1)
	}
	return nil, d.errorf("unknown marker %q", m)
}

// header reads the optional "$type" and "#count" of a container. count
// is -1 when absent.
func (d *ubjDecoder) header() (typ byte, count int, err error) {
	count = -1
	if d.off < len(d.b) && d.b[d.off] == '$' {
		d.off++
		if typ, err = d.marker(); err != nil {
			return 0, 0, err
		}
		if d.off >= len(d.b) || d.b[d.off] != '#' {
			return 0, 0, d.errorf("typed container without a count")
		}
	}
	if d.off < len(d.b) && d.b[d.off] == '#' {
		d.off++
		// Every element takes at least one byte, except in a typed
		// container of null, true or false, which this decoder refuses.
		min := 1
		if typ != 0 {
			min = size(typ)
			if typ == 'S' || typ == 'H' || typ == '[' || typ == '{' {
				min = 1
			}
			if min == 0 {
				return 0, 0, d.errorf("typed container of %q", typ)
			}
		}
		if count, err = d.length(min); err != nil {
			return 0, 0, err
		}
	}
	return typ, count, nil
}

func (d *ubjDecoder) array(depth int) (any, error) {
	typ, count, err := d.header()
	if err != nil {
		return nil, err
	}
	switch typ {
	case 'd', 'D':
		out := make([]float64, count)
		for i := range out {
			if out[i], _, _, err = d.number(typ); err != nil {
				return nil, err
			}
		}
		return out, nil
	case 'i', 'U', 'I', 'l', 'L':
		out := make([]int64, count)
		for i := range out {
			if _, out[i], _, err = d.number(typ); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var out []any
	if count >= 0 {
		out = make([]any, 0, count)
	}
	for i := 0; count < 0 || i < count; i++ {
		m := typ
		if m == 0 {
			if m, err = d.marker(); err != nil {
				return nil, err
			}
			if count < 0 && m == ']' {
				break
			}
		}
		v, err := d.valueOf(m, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func (d *ubjDecoder) object(depth int) (any, error) {
	typ, count, err := d.header()
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for i := 0; count < 0 || i < count; i++ {
		if count < 0 {
			for d.off < len(d.b) && d.b[d.off] == 'N' {
				d.off++
			}
			if d.off >= len(d.b) {
				return nil, d.errorf("truncated object")
			}
			if d.b[d.off] == '}' {
				d.off++
				break
			}
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		m := typ
		if m == 0 {
			if m, err = d.marker(); err != nil {
				return nil, err
			}
		}
		v, err := d.valueOf(m, depth)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

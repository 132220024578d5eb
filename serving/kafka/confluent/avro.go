package confluent

import (
	"encoding/binary"
	"math"
	"math/big"

	"github.com/hamba/avro/v2"

	"github.com/modelstream/modelstream/serving"
)

// avroKind is the kind of an Avro schema node.
type avroKind uint8

const (
	avroNull avroKind = iota
	avroBoolean
	avroInt  // a zig-zag varint within 32 bits
	avroLong // a zig-zag varint of 64 bits
	avroFloat
	avroDouble
	avroString
	avroBytes
	avroEnum
	avroFixed
	avroRecord
	avroArray
	avroMap
	avroUnion
)

// avroNode is one node of a compiled Avro schema. leaf is the record
// position the value goes to, or -1 where the value is read and dropped
// (bytes and fixed other than decimals, arrays, maps and everything
// inside them).
type avroNode struct {
	kind     avroKind
	leaf     int
	path     string
	size     int         // fixed
	scale    int         // a decimal's (bytes or fixed with leaf >= 0)
	tens     *big.Int    // a decimal's 10^scale
	min      int         // the fewest bytes a value takes: 0 for null, an empty record
	symbols  []string    // enum
	children []*avroNode // record fields, union branches, or the items or values of an array or map
}

// avroPlan decodes Avro binary records of one writer schema.
type avroPlan struct {
	root   *avroNode
	layout *serving.Layout
}

// compileAvro parses an Avro schema with hamba/avro and compiles it into
// a plan whose fields are the schema's leaves by dotted path. Each schema
// is parsed with a cache of named types of its own: avro.Parse's
// process-wide cache would resolve a name the schema uses but does not
// define to another schema's type, and keep every name ever parsed.
func compileAvro(text string) (plan, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, unsupported("avro schema: %v", err)
	}
	var f fields
	root, err := avroCompile(s, "", true, 0, &f)
	if err != nil {
		return nil, err
	}
	l, err := f.layout()
	if err != nil {
		return nil, err
	}
	return &avroPlan{root: root, layout: l}, nil
}

func avroCompile(s avro.Schema, path string, keep bool, depth int, f *fields) (*avroNode, error) {
	if depth > maxDepth {
		return nil, unsupported("avro schema nests deeper than %d levels at %q", maxDepth, path)
	}
	if err := f.visit(); err != nil {
		return nil, err
	}
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	n := &avroNode{leaf: -1, path: path, min: 1}
	leaf := func() {
		if keep && path != "" {
			n.leaf = f.leaf(path)
		}
	}
	switch s.Type() {
	case avro.Null:
		n.kind = avroNull
		n.min = 0
	case avro.Boolean:
		n.kind = avroBoolean
		leaf()
	case avro.Int:
		n.kind = avroInt
		leaf()
	case avro.Long:
		n.kind = avroLong
		leaf()
	case avro.Float:
		n.kind = avroFloat
		n.min = 4
		leaf()
	case avro.Double:
		n.kind = avroDouble
		n.min = 8
		leaf()
	case avro.String:
		n.kind = avroString
		leaf()
	case avro.Bytes:
		n.kind = avroBytes
		avroDecimal(n, s, leaf)
	case avro.Fixed:
		n.kind = avroFixed
		n.size = s.(*avro.FixedSchema).Size()
		n.min = n.size
		avroDecimal(n, s, leaf)
	case avro.Enum:
		n.kind = avroEnum
		n.symbols = s.(*avro.EnumSchema).Symbols()
		leaf()
	case avro.Record:
		n.kind = avroRecord
		n.min = 0
		for _, fd := range s.(*avro.RecordSchema).Fields() {
			c, err := avroCompile(fd.Type(), join(path, fd.Name()), keep, depth+1, f)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
			n.min += c.min
		}
	case avro.Array:
		n.kind = avroArray
		c, err := avroCompile(s.(*avro.ArraySchema).Items(), path, false, depth+1, f)
		if err != nil {
			return nil, err
		}
		n.children = []*avroNode{c}
	case avro.Map:
		n.kind = avroMap
		c, err := avroCompile(s.(*avro.MapSchema).Values(), path, false, depth+1, f)
		if err != nil {
			return nil, err
		}
		n.children = []*avroNode{c}
	case avro.Union:
		n.kind = avroUnion
		// Every branch flattens at the union's own path, so the fields
		// of the branches share positions by name; a null branch, or a
		// branch that leaves a field out, leaves it missing.
		for _, b := range s.(*avro.UnionSchema).Types() {
			c, err := avroCompile(b, path, keep, depth, f)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
		}
	default:
		return nil, unsupported("avro type %q at %q", s.Type(), path)
	}
	return n, nil
}

// maxDecimalScale bounds the scale of the decimals that are features:
// 10^scale is computed when the schema compiles, and a decimal of a
// larger scale, whose every digit before the 400th place after the point
// would be zero, is read past like other bytes.
const maxDecimalScale = 400

// maxDecimalBytes bounds the unscaled value of a decimal read as a
// feature: one of more bytes (after any redundant sign bytes) is at least
// 2^2399, above 10^(309+maxDecimalScale), beyond float64's range at any
// scale, and is refused without the arithmetic.
const maxDecimalBytes = 300

// avroDecimal makes n, a bytes or fixed node, a feature when its schema
// is a decimal: the number it writes, unscaled * 10^-scale.
func avroDecimal(n *avroNode, s avro.Schema, leaf func()) {
	ls, ok := s.(avro.LogicalTypeSchema)
	if !ok {
		return
	}
	d, ok := ls.Logical().(*avro.DecimalLogicalSchema)
	if !ok || d.Scale() > maxDecimalScale {
		return
	}
	n.scale = d.Scale()
	n.tens = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.scale)), nil)
	leaf()
}

func (p *avroPlan) decode(b []byte) (serving.Record, error) {
	r := newRecord(p.layout)
	rest, err := avroRead(p.root, b, &r)
	if err != nil {
		return serving.Record{}, err
	}
	if len(rest) != 0 {
		return serving.Record{}, incompatible("%d bytes after the avro record", len(rest))
	}
	return r, nil
}

// avroRead decodes the value of n from b into r and returns what follows.
func avroRead(n *avroNode, b []byte, r *serving.Record) ([]byte, error) {
	switch n.kind {
	case avroNull:
		return b, nil
	case avroBoolean:
		if len(b) < 1 {
			return nil, truncated(n)
		}
		if b[0] > 1 {
			return nil, fieldIncompatible(n.path, serving.ErrFieldType, "boolean byte %d", b[0])
		}
		if n.leaf >= 0 {
			r.Features[n.leaf] = float64(b[0])
		}
		return b[1:], nil
	case avroInt, avroLong:
		v, rest, err := avroVarint(n, b)
		if err != nil {
			return nil, err
		}
		if n.kind == avroInt && v != int64(int32(v)) {
			return nil, fieldIncompatible(n.path, serving.ErrFieldType, "int %d beyond 32 bits", v)
		}
		if n.leaf >= 0 {
			r.Features[n.leaf] = float64(v)
		}
		return rest, nil
	case avroFloat:
		if len(b) < 4 {
			return nil, truncated(n)
		}
		if n.leaf >= 0 {
			r.Features[n.leaf] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return b[4:], nil
	case avroDouble:
		if len(b) < 8 {
			return nil, truncated(n)
		}
		if n.leaf >= 0 {
			r.Features[n.leaf] = math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
		return b[8:], nil
	case avroString, avroBytes:
		v, rest, err := avroBlob(n, b)
		if err != nil {
			return nil, err
		}
		if n.leaf >= 0 {
			if n.kind == avroBytes {
				return rest, setDecimal(n, v, r)
			}
			setText(r, n.leaf, string(v))
		}
		return rest, nil
	case avroFixed:
		if len(b) < n.size {
			return nil, truncated(n)
		}
		if n.leaf >= 0 {
			return b[n.size:], setDecimal(n, b[:n.size], r)
		}
		return b[n.size:], nil
	case avroEnum:
		v, rest, err := avroVarint(n, b)
		if err != nil {
			return nil, err
		}
		if v < 0 || v >= int64(len(n.symbols)) {
			return nil, fieldIncompatible(n.path, serving.ErrFieldType, "enum index %d of %d symbols", v, len(n.symbols))
		}
		if n.leaf >= 0 {
			setText(r, n.leaf, n.symbols[v])
		}
		return rest, nil
	case avroRecord:
		var err error
		for _, c := range n.children {
			if b, err = avroRead(c, b, r); err != nil {
				return nil, err
			}
		}
		return b, nil
	case avroUnion:
		v, rest, err := avroVarint(n, b)
		if err != nil {
			return nil, err
		}
		if v < 0 || v >= int64(len(n.children)) {
			return nil, fieldIncompatible(n.path, serving.ErrFieldType, "union branch %d of %d", v, len(n.children))
		}
		return avroRead(n.children[v], rest, r)
	case avroArray, avroMap:
		return avroSkipBlocks(n, b, r)
	}
	return nil, incompatible("unknown avro node at %q", n.path)
}

// avroSkipBlocks reads the blocks of an array or map, whose values are
// compiled with no leaves, so nothing is kept.
func avroSkipBlocks(n *avroNode, b []byte, r *serving.Record) ([]byte, error) {
	for {
		count, rest, err := avroVarint(n, b)
		if err != nil {
			return nil, err
		}
		b = rest
		if count == 0 {
			return b, nil
		}
		if count < 0 { // a block with its size in bytes
			if count == math.MinInt64 {
				return nil, fieldIncompatible(n.path, serving.ErrFieldType, "bad block count")
			}
			count = -count
			if _, b, err = avroVarint(n, b); err != nil {
				return nil, err
			}
		}
		item := n.children[0].min // the fewest bytes an item takes
		if n.kind == avroMap {
			item++ // and its key at least one more
		}
		if item == 0 {
			// Items of no bytes (nulls, empty records) hold nothing to
			// read or keep: a count of 2^62 must not cost 2^62 turns.
			continue
		}
		if count > int64(len(b)/item) {
			return nil, truncated(n)
		}
		for ; count > 0; count-- {
			if n.kind == avroMap {
				if _, b, err = avroBlob(n, b); err != nil {
					return nil, err
				}
			}
			if b, err = avroRead(n.children[0], b, r); err != nil {
				return nil, err
			}
		}
	}
}

// setDecimal sets the feature of decimal n from v, its unscaled value
// in big-endian two's complement, rounded to the nearest float64. A value
// beyond float64's range, too large or so small that it rounds to 0, is
// refused, as the JSON codecs refuse such numbers.
func setDecimal(n *avroNode, v []byte, r *serving.Record) error {
	// Redundant sign bytes, which some writers keep, say nothing.
	for len(v) > 1 && (v[0] == 0 && v[1] < 0x80 || v[0] == 0xff && v[1] >= 0x80) {
		v = v[1:]
	}
	switch {
	case len(v) == 0:
		return fieldIncompatible(n.path, serving.ErrFieldType, "a decimal of no bytes")
	case len(v) > maxDecimalBytes:
		return fieldIncompatible(n.path, serving.ErrFieldType, "a decimal of %d bytes, beyond float64's range", len(v))
	}
	var f float64
	if len(v) <= 8 {
		x := int64(int8(v[0])) // sign-extended
		for _, c := range v[1:] {
			x = x<<8 | int64(c)
		}
		// Below 2^53 and over 10^scale exact, one division rounds
		// correctly.
		if -1<<53 <= x && x <= 1<<53 && n.scale <= 22 {
			r.Features[n.leaf] = float64(x) / math.Pow10(n.scale)
			return nil
		}
	}
	x := new(big.Int).SetBytes(v)
	if v[0] >= 0x80 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(v))))
	}
	f, _ = new(big.Rat).SetFrac(x, n.tens).Float64()
	switch {
	case math.IsInf(f, 0):
		return fieldIncompatible(n.path, serving.ErrFieldType, "a decimal of %d bytes and scale %d, beyond float64's range", len(v), n.scale)
	case f == 0 && x.Sign() != 0:
		return fieldIncompatible(n.path, serving.ErrFieldType, "a decimal of %d bytes and scale %d underflows float64 to 0", len(v), n.scale)
	}
	r.Features[n.leaf] = f
	return nil
}

// avroVarint reads a zig-zag varint.
func avroVarint(n *avroNode, b []byte) (int64, []byte, error) {
	u, k := binary.Uvarint(b)
	if k <= 0 {
		if k == 0 {
			return 0, nil, truncated(n)
		}
		return 0, nil, fieldIncompatible(n.path, serving.ErrFieldType, "varint overflows 64 bits")
	}
	return int64(u>>1) ^ -int64(u&1), b[k:], nil
}

// avroBlob reads a length-prefixed string or bytes.
func avroBlob(n *avroNode, b []byte) ([]byte, []byte, error) {
	size, rest, err := avroVarint(n, b)
	if err != nil {
		return nil, nil, err
	}
	if size < 0 || size > int64(len(rest)) {
		if size < 0 {
			return nil, nil, fieldIncompatible(n.path, serving.ErrFieldType, "negative length %d", size)
		}
		return nil, nil, truncated(n)
	}
	return rest[:size], rest[size:], nil
}

func truncated(n *avroNode) error {
	if n.path == "" {
		return incompatible("avro record truncated")
	}
	return fieldIncompatible(n.path, serving.ErrMissingField, "avro record truncated")
}

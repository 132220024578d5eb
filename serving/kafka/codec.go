package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/modelstream/modelstream/serving"
)

// Codec decodes the value of a data record into the values of a
// serving.Record: Features, and for a named record Layout and Text. The
// Source fills in Key and Time. A Codec must be safe for concurrent use;
// the Source calls it from many goroutines.
type Codec interface {
	Decode(value []byte) (serving.Record, error)
}

// CodecFunc adapts a function to the Codec interface.
type CodecFunc func(value []byte) (serving.Record, error)

// Decode calls f(value).
func (f CodecFunc) Decode(value []byte) (serving.Record, error) { return f(value) }

// ErrDecode means a record's value could not be decoded. Every error of
// the codecs in this package wraps it; when one field is at fault, the
// error also wraps a *serving.FieldError naming it (its position, for a
// positional record), with serving.ErrFieldType for a bad value or
// serving.ErrMissingField for an absent one. Test with errors.Is and
// errors.As.
var ErrDecode = errors.New("kafka: cannot decode record")

func decodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDecode}, args...)...)
}

func fieldErr(field string, kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrDecode, &serving.FieldError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)})
}

// JSON decodes a JSON array of numbers, such as [1.5, 2, 0.3], into a
// positional record, and a flat JSON object, such as
// {"age": 41, "country": "FR", "income": 52000}, into a named record
// whose Layout lists the object's keys in document order. Records whose
// objects have the same keys in the same order share one *serving.Layout,
// so that a Server binds each model version to it once (see
// serving.Record). An object's values may be numbers; strings, which go
// to Record.Text (Features NaN there) for categorical inputs; true and
// false, read as 1 and 0; and null, read as NaN ("missing", see
// serving.NonFinitePolicy). A nested object or array is an error naming
// the field, as is a number beyond float64's range, too large (1e400) or
// too small (1e-400, which would otherwise round to 0).
//
// Layout, when set, pins the fields: an object's fields are placed in
// the Layout's order and the others ignored, and a field of the Layout
// absent from the object is an error unless Missing is set, in which case
// it is NaN; an array must then have Layout.Len() numbers, in the
// Layout's order. Either way the records carry Layout.
//
// The zero value decodes arrays of any length and objects of any keys. A
// JSON value is safe for concurrent use.
type JSON struct {
	Layout  *serving.Layout
	Missing bool
}

// Decode implements Codec.
func (c JSON) Decode(v []byte) (serving.Record, error) { return c.decode(v, nil) }

// decode is Decode with an array's features taken from fs.
func (c JSON) decode(v []byte, fs *floatSlab) (serving.Record, error) {
	v = trimSpace(v)
	if len(v) == 0 {
		return serving.Record{}, decodeErr("empty value")
	}
	switch v[0] {
	case '[':
		x, err := parseArray(v, fs)
		if err != nil {
			return serving.Record{}, err
		}
		if c.Layout != nil && len(x) != c.Layout.Len() {
			return serving.Record{}, decodeErr("%d values, the layout has %d fields", len(x), c.Layout.Len())
		}
		return serving.Record{Features: x, Layout: c.Layout}, nil
	case '{':
		return c.decodeObject(v)
	default:
		return serving.Record{}, decodeErr("want a JSON array or object, got %q", truncate(v))
	}
}

// parseArray parses a flat JSON array of numbers without reflection,
// into a slice from fs in the common case.
func parseArray(v []byte, fs *floatSlab) ([]float64, error) {
	if x, ok := parseArrayFast(v, fs); ok {
		return x, nil
	}
	return parseArraySlow(v)
}

// floatSlab hands out the feature slices of one batch's records from one
// allocation, sized on the first slice, instead of one allocation each.
// A nil *floatSlab allocates each on its own. The slices keep the slab
// alive while any of them is in use; a slab is not safe for concurrent
// use. A Source's scoring worker keeps one slab and resets it for each
// batch (see Source.process).
type floatSlab struct {
	buf  []float64
	left int // records still to come, to size the next allocation
	n    int // records in the batch, when reset for each batch
}

func newFloatSlab(n int) *floatSlab { return &floatSlab{left: n} }

// reset readies f for a batch of n records, to be taken from the start of
// its buffer: every slice f handed out before may be written over. The
// buffer it keeps is at most one allocation of take, 32 KiB.
func (f *floatSlab) reset(n int) {
	if f != nil {
		f.buf, f.left, f.n = f.buf[:0], n, n
	}
}

// take returns an empty slice with capacity n, which no other slice of
// the slab reaches.
func (f *floatSlab) take(n int) []float64 {
	if f == nil {
		return make([]float64, 0, n)
	}
	left := max(f.left, 1)
	f.left--
	if cap(f.buf)-len(f.buf) < n {
		// Room for the records still to come; and in a slab reset for
		// each batch, for all of the batch's, so that the next batch of
		// that size fits, rather than only its records past the end of
		// this one's room.
		k := min(max(left, f.n), 4096/max(n, 1)) // records per allocation, within 32 KiB
		if k < 2 {
			return make([]float64, 0, n)
		}
		f.buf = make([]float64, 0, n*k)
	}
	x := f.buf[len(f.buf) : len(f.buf) : len(f.buf)+n]
	f.buf = f.buf[:len(f.buf)+n]
	return x
}

// parseArrayFast parses, in one pass, an array that parseArraySlow would
// accept: numbers separated by commas and JSON's spaces. It gives up, for
// parseArraySlow to find the error, on anything else. A short array is
// parsed onto the stack and copied into fs once its length is known,
// rather than counting its commas first.
func parseArrayFast(v []byte, fs *floatSlab) ([]float64, bool) {
	if len(v) < 2 || v[len(v)-1] != ']' {
		return nil, false
	}
	body := v[1 : len(v)-1]
	var stack [64]float64
	if len(body) >= 2*len(stack) {
		return parseNumbers(body, fs.take(bytes.Count(body, []byte{','})+1))
	}
	// Each number but the last takes a comma and at least one digit:
	// the body holds at most len(stack) numbers.
	x, ok := parseNumbers(body, stack[:0])
	if !ok {
		return nil, false
	}
	return append(fs.take(len(x)), x...), true
}

// parseNumbers appends to x the numbers of body, the inside of a JSON
// array, and reports whether body is numbers separated by commas and
// JSON's spaces.
func parseNumbers(body []byte, x []float64) ([]float64, bool) {
	for i := 0; ; {
		for i < len(body) && isSpace(body[i]) {
			i++
		}
		if i == len(body) {
			return x, len(x) == 0 // "[ ]"; otherwise a trailing comma
		}
		f, j, ok := parseShortAt(body, i)
		if !ok {
			j = i
			for j < len(body) && body[j] != ',' && !isSpace(body[j]) {
				j++
			}
			var err error
			if f, err = parseNumber(body[i:j]); err != nil {
				return nil, false
			}
		}
		x = append(x, f)
		for j < len(body) && isSpace(body[j]) {
			j++
		}
		switch {
		case j == len(body):
			return x, true
		case body[j] != ',':
			return nil, false
		}
		i = j + 1
		if i == len(body) {
			return nil, false // a trailing comma
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimSpace returns b without JSON's spaces at either end: not
// bytes.TrimSpace, which takes \v, \f and Unicode's spaces too.
func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// parseArraySlow parses a flat JSON array of numbers, and names what is
// wrong with one that is not.
func parseArraySlow(v []byte) ([]float64, error) {
	if v[len(v)-1] != ']' {
		return nil, decodeErr("unterminated JSON array")
	}
	body := trimSpace(v[1 : len(v)-1])
	if len(body) == 0 {
		return []float64{}, nil
	}
	x := make([]float64, 0, bytes.Count(body, []byte{','})+1)
	for i := 0; len(body) > 0 || i == 0; i++ {
		tok := body
		if j := bytes.IndexByte(body, ','); j >= 0 {
			tok, body = body[:j], body[j+1:]
			if len(trimSpace(body)) == 0 {
				return nil, decodeErr("trailing comma")
			}
		} else {
			body = nil
		}
		f, err := parseNumber(trimSpace(tok))
		if err != nil {
			return nil, fieldErr(strconv.Itoa(i), serving.ErrFieldType, "%v", err)
		}
		x = append(x, f)
	}
	return x, nil
}

// errUnderflow is the reason for a number whose magnitude is below the
// smallest float64: strconv.ParseFloat rounds it to 0 without an error,
// which would hand the model a value its sender did not write.
var errUnderflow = errors.New("underflows float64 to 0")

// parseNumber parses a JSON number, as RFC 8259 writes it: an optional
// minus, then 0 or digits not starting with 0, then optionally a point
// and at least one digit, then optionally e or E, an optional sign and
// at least one digit. So no plus sign, no leading zero ("01"), no bare
// point (".5", "1."), no NaN, Inf, hex or underscores, all of which
// strconv.ParseFloat would take; and none that overflows or underflows
// a float64.
func parseNumber(b []byte) (float64, error) {
	if f, ok := parseShort(b); ok {
		return f, nil
	}
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	nonzero, ok := scanNumber(b)
	if !ok {
		return 0, fmt.Errorf("not a JSON number: %q", truncate(b))
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err == nil && f == 0 && nonzero {
		return 0, fmt.Errorf("%q %w", truncate(b), errUnderflow)
	}
	return f, err
}

// scanNumber reports whether b is all of one number of RFC 8259's
// grammar, and whether a digit 1-9 comes before its exponent.
func scanNumber(b []byte) (nonzero, ok bool) {
	i := 0
	if b[0] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nonzero = nonzero || b[i] != '0'
			i++
		}
		return i - j
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		z := nonzero
		if digits() == 0 {
			return false, false
		}
		nonzero = z
	}
	return nonzero, i == len(b)
}

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseShort parses the common numbers of records fast: an optional
// minus, digits (no leading zero, as in JSON), optionally a point and
// more digits, and optionally an exponent, with 15 digits at most
// before the exponent. Such a number
// is m * 10^k with m below 2^53; when |k| <= 22, 10^k is exact too, and
// one multiplication or division rounds correctly, to the float64 that
// strconv.ParseFloat returns (Clinger's fast path). Anything else is
// left to the caller.
func parseShort(b []byte) (float64, bool) {
	f, end, ok := parseShortAt(b, 0)
	return f, ok && end == len(b)
}

// parseShortAt is parseShort for the number that starts at b[i] and ends
// at the end of b or before a comma or a JSON space. It returns the
// index after the number.
func parseShortAt(b []byte, i int) (float64, int, bool) {
	neg := false
	if i < len(b) && b[i] == '-' {
		i, neg = i+1, true
	}
	// The integer part, then the fraction, each in a loop of its own.
	// m may wrap past 19 digits: the number is refused below anyway.
	start := i
	var m uint64
	for i < len(b) && b[i]-'0' <= 9 {
		m = m*10 + uint64(b[i]-'0')
		i++
	}
	digits := i - start
	switch {
	case digits == 0:
		return 0, 0, false
	case digits > 1 && b[start] == '0':
		return 0, 0, false // a leading zero, which JSON does not allow
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		f := i
		for i < len(b) && b[i]-'0' <= 9 {
			m = m*10 + uint64(b[i]-'0')
			i++
		}
		if frac = i - f; frac == 0 {
			return 0, 0, false
		}
		digits += frac
	}
	if digits > 15 {
		return 0, 0, false
	}
	k := -frac
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		e, edigits := 0, 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && edigits < 4; i++ {
			e = e*10 + int(b[i]-'0')
			edigits++
		}
		if edigits == 0 {
			return 0, 0, false
		}
		if eneg {
			e = -e
		}
		k += e
	}
	if i < len(b) && b[i] != ',' && !isSpace(b[i]) {
		return 0, 0, false
	}
	var f float64
	switch {
	case k >= 0 && k < len(pow10):
		f = float64(m) * pow10[k]
	case k < 0 && -k < len(pow10):
		f = float64(m) / pow10[-k]
	default:
		return 0, 0, false
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// A jsonValue is one scalar of a flat JSON object.
type jsonValue struct {
	num  float64
	text []byte // the raw string, quotes excluded, when isText
	esc  bool   // text holds escapes
	isTx bool
}

// decodeObject parses a flat JSON object without reflection.
func (c JSON) decodeObject(v []byte) (serving.Record, error) {
	var (
		buf    [512]byte
		key    = buf[:0] // the intern key: each name followed by a 0 byte
		x      []float64
		text   []string
		seen   []bool
		pinned = c.Layout
	)
	if pinned != nil {
		x = make([]float64, pinned.Len())
		seen = make([]bool, pinned.Len())
	} else {
		x = make([]float64, 0, bytes.Count(v, []byte{','})+1)
	}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == '}' {
		return serving.Record{}, decodeErr("empty JSON object")
	}
	for {
		if i >= len(v) || v[i] != '"' {
			return serving.Record{}, decodeErr("want a field name at byte %d", i)
		}
		k, kesc, next, err := scanString(v, i)
		if err != nil {
			return serving.Record{}, err
		}
		name := k
		if kesc {
			s, err := unescape(k)
			if err != nil {
				return serving.Record{}, decodeErr("field name at byte %d: %v", i, err)
			}
			name = []byte(s)
		}
		if bytes.IndexByte(name, 0) >= 0 {
			return serving.Record{}, decodeErr("a field name with a NUL character")
		}
		i = skipSpace(v, next)
		if i >= len(v) || v[i] != ':' {
			return serving.Record{}, decodeErr("want ':' after field %q", name)
		}
		i = skipSpace(v, i+1)
		var val jsonValue
		if i, err = scanValue(v, i, name, &val); err != nil {
			return serving.Record{}, err
		}
		pos := len(x)
		if pinned != nil {
			p, ok := pinned.Index(string(name))
			if !ok {
				pos = -1 // not a field of the pinned layout: ignored
			} else {
				pos = p
				seen[p] = true
			}
		} else {
			x = append(x, 0)
			key = append(append(key, name...), 0)
		}
		if pos >= 0 {
			if val.isTx {
				s := string(val.text)
				if val.esc {
					if s, err = unescape(val.text); err != nil {
						return serving.Record{}, fieldErr(string(name), serving.ErrFieldType, "%v", err)
					}
				}
				for len(text) < len(x) {
					text = append(text, "")
				}
				text[pos] = s
				x[pos] = math.NaN()
			} else {
				x[pos] = val.num
			}
		}
		i = skipSpace(v, i)
		if i >= len(v) {
			return serving.Record{}, decodeErr("unterminated JSON object")
		}
		if v[i] == ',' {
			i = skipSpace(v, i+1)
			continue
		}
		if v[i] != '}' {
			return serving.Record{}, decodeErr("want ',' or '}' at byte %d", i)
		}
		if skipSpace(v, i+1) != len(v) {
			return serving.Record{}, decodeErr("data after the JSON object")
		}
		break
	}
	if pinned != nil {
		for p, ok := range seen {
			if !ok {
				if !c.Missing {
					return serving.Record{}, fieldErr(pinned.Names()[p], serving.ErrMissingField, "not in the object")
				}
				x[p] = math.NaN()
			}
		}
		return serving.Record{Features: x, Layout: pinned, Text: text}, nil
	}
	for text != nil && len(text) < len(x) {
		text = append(text, "")
	}
	l, err := intern(key)
	if err != nil {
		return serving.Record{}, err
	}
	return serving.Record{Features: x, Layout: l, Text: text}, nil
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the contents of the JSON string starting at v[i]
// (a '"'), whether they hold escapes, and the index after the string.
func scanString(v []byte, i int) (s []byte, esc bool, next int, err error) {
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			return v[i+1 : j], esc, j + 1, nil
		case c < 0x20:
			return nil, false, 0, decodeErr("control character in a string at byte %d", j)
		}
	}
	return nil, false, 0, decodeErr("unterminated string at byte %d", i)
}

func unescape(s []byte) (string, error) {
	var out string
	q := make([]byte, 0, len(s)+2)
	q = append(append(append(q, '"'), s...), '"')
	err := json.Unmarshal(q, &out)
	return out, err
}

// scanValue reads the scalar at v[i] into val and returns the index
// after it.
func scanValue(v []byte, i int, field []byte, val *jsonValue) (int, error) {
	if i >= len(v) {
		return i, decodeErr("unterminated JSON object")
	}
	switch c := v[i]; c {
	case '"':
		s, esc, next, err := scanString(v, i)
		if err != nil {
			return i, err
		}
		*val = jsonValue{text: s, esc: esc, isTx: true}
		return next, nil
	case '{', '[':
		return i, fieldErr(string(field), serving.ErrFieldType, "a nested JSON value; want a number or a string")
	case 't', 'f', 'n':
		for _, lit := range [...]struct {
			s string
			f float64
		}{{"true", 1}, {"false", 0}, {"null", math.NaN()}} {
			if bytes.HasPrefix(v[i:], []byte(lit.s)) {
				val.num = lit.f
				return i + len(lit.s), nil
			}
		}
		return i, fieldErr(string(field), serving.ErrFieldType, "not a JSON value: %q", truncate(v[i:]))
	default:
		j := i
		for j < len(v) && v[j] != ',' && v[j] != '}' && v[j] != ' ' && v[j] != '\t' && v[j] != '\n' && v[j] != '\r' {
			j++
		}
		f, err := parseNumber(v[i:j])
		if err != nil {
			return i, fieldErr(string(field), serving.ErrFieldType, "%v", err)
		}
		val.num = f
		return j, nil
	}
}

// CSV decodes one line of delimited numbers, such as "1.5,2,0.3", into
// a positional record; and two lines, a header of field names and a line
// of values, such as "age,country,income\n41,FR,52000", into a named
// record whose Layout lists the header's names. Records with the same
// header share one *serving.Layout, as JSON objects do. The numbers are
// written as in JSON (RFC 8259), not as strconv.ParseFloat takes them:
// "+1", ".5", "1.", "01", "NaN", "Inf" and hex are not numbers, and
// numbers beyond float64's range (1e400, 1e-400) are refused, naming the
// field. In a named record a value that is not a number is text, for a
// categorical input: it goes to Record.Text (Features NaN there); in a
// positional record it is an error. Fields are not quoted and cannot hold the delimiter. Comma
// is the delimiter; zero means ','. An empty field is an error unless
// Missing is set, in which case it becomes NaN.
//
// Layout, when set, pins the fields: a line without header must then
// have Layout.Len() fields, in its order, and the records carry Layout.
//
// A CSV value is safe for concurrent use.
type CSV struct {
	Layout  *serving.Layout
	Comma   byte
	Missing bool
}

// Decode implements Codec.
func (c CSV) Decode(v []byte) (serving.Record, error) {
	v = bytes.TrimRight(v, "\r\n")
	if len(bytes.TrimSpace(v)) == 0 {
		return serving.Record{}, decodeErr("empty value")
	}
	comma := c.Comma
	if comma == 0 {
		comma = ','
	}
	var header []byte
	if j := bytes.IndexByte(v, '\n'); j >= 0 {
		header, v = bytes.TrimRight(v[:j], "\r"), v[j+1:]
		if bytes.IndexByte(v, '\n') >= 0 {
			return serving.Record{}, decodeErr("more than two lines: want values, or a header and values")
		}
		if c.Layout != nil {
			return serving.Record{}, decodeErr("a header line, but the codec's Layout is pinned")
		}
	}
	n := bytes.Count(v, []byte{comma}) + 1
	var layout *serving.Layout
	if header != nil {
		if h := bytes.Count(header, []byte{comma}) + 1; h != n {
			return serving.Record{}, decodeErr("%d names in the header, %d values", h, n)
		}
		var buf [512]byte
		key := buf[:0]
		for h := header; h != nil; {
			tok := h
			if j := bytes.IndexByte(h, comma); j >= 0 {
				tok, h = h[:j], h[j+1:]
			} else {
				h = nil
			}
			if bytes.IndexByte(tok, 0) >= 0 {
				return serving.Record{}, decodeErr("a field name with a NUL character")
			}
			key = append(append(key, bytes.TrimSpace(tok)...), 0)
		}
		var err error
		if layout, err = intern(key); err != nil {
			return serving.Record{}, err
		}
	} else if c.Layout != nil {
		if n != c.Layout.Len() {
			return serving.Record{}, decodeErr("%d fields, the layout has %d", n, c.Layout.Len())
		}
		layout = c.Layout
	}
	x := make([]float64, 0, n)
	var text []string
	for i := 0; i < n; i++ {
		tok := v
		if j := bytes.IndexByte(v, comma); j >= 0 {
			tok, v = v[:j], v[j+1:]
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 {
			if c.Missing {
				x = append(x, math.NaN())
				continue
			}
			return serving.Record{}, fieldErr(c.field(layout, i), serving.ErrMissingField, "empty")
		}
		f, err := parseNumber(tok)
		if err != nil {
			if layout == nil || errors.Is(err, errUnderflow) || errors.Is(err, strconv.ErrRange) {
				return serving.Record{}, fieldErr(c.field(layout, i), serving.ErrFieldType, "%v", err)
			}
			if text == nil {
				text = make([]string, n)
			}
			text[i], f = string(tok), math.NaN()
		}
		x = append(x, f)
	}
	return serving.Record{Features: x, Layout: layout, Text: text}, nil
}

func (c CSV) field(l *serving.Layout, i int) string {
	if l != nil {
		return l.Names()[i]
	}
	return strconv.Itoa(i)
}

func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

// maxLayouts bounds the layouts the codecs intern. A stream whose
// records carry ever new key sets (a bug, or an attack) cannot grow
// memory: when the table is full (or holds maxLayoutBytes) it is emptied, and layouts are interned
// afresh; records keep decoding, and a Server binds the new pointers
// again.
const maxLayouts = 4096

// maxLayoutBytes bounds the bytes of names the codecs intern, summed over
// the layouts: a record's names may take the whole record, up to the
// broker's limit (1 MiB by default), so a count alone would let the table
// hold gigabytes. When a layout would take the table past it, the table
// is emptied, as when it is full.
const maxLayoutBytes = 16 << 20

// layouts interns the layouts of named records, keyed by their names
// joined by 0 bytes, for all the codecs of the package: records with the
// same names in the same order share one *serving.Layout.
var layouts = struct {
	sync.RWMutex
	m     map[string]*serving.Layout
	bytes int // the keys' bytes, see maxLayoutBytes
}{m: map[string]*serving.Layout{}}

// intern returns the interned Layout of the names in key, each followed
// by a 0 byte.
func intern(key []byte) (*serving.Layout, error) {
	layouts.RLock()
	l := layouts.m[string(key)]
	layouts.RUnlock()
	if l != nil {
		return l, nil
	}
	names := strings.Split(string(key[:len(key)-1]), "\x00")
	l, err := serving.NewLayout(names...)
	if err != nil {
		// An empty, repeated or NUL-holding name: the record's fault,
		// not the configuration's.
		return nil, decodeErr("field names %q: an empty or repeated name", names)
	}
	layouts.Lock()
	defer layouts.Unlock()
	if old := layouts.m[string(key)]; old != nil {
		return old, nil
	}
	if len(layouts.m) >= maxLayouts || layouts.bytes+len(key) > maxLayoutBytes {
		clear(layouts.m)
		layouts.bytes = 0
	}
	layouts.m[string(key)] = l
	layouts.bytes += len(key)
	return l, nil
}

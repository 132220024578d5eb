package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Codec decodes the value of a data record into a feature vector. A
// Codec must be safe for concurrent use; the Source calls it from many
// goroutines.
type Codec interface {
	Decode(value []byte) ([]float64, error)
}

// CodecFunc adapts a function to the Codec interface.
type CodecFunc func(value []byte) ([]float64, error)

// Decode calls f(value).
func (f CodecFunc) Decode(value []byte) ([]float64, error) { return f(value) }

// ErrDecode means a record's value could not be decoded into features.
// Codecs in this package return a *DecodeError, which wraps it.
var ErrDecode = errors.New("kafka: cannot decode record")

// DecodeError details an ErrDecode. Field names the feature or position
// at fault, when there is one.
type DecodeError struct {
	Field string
	Err   error
}

// Error returns "kafka: cannot decode record", the field and the cause.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %v", ErrDecode, e.Err)
	}
	return fmt.Sprintf("%v: field %s: %v", ErrDecode, e.Field, e.Err)
}

// Unwrap returns ErrDecode and the cause.
func (e *DecodeError) Unwrap() []error { return []error{ErrDecode, e.Err} }

// Schema maps feature names to positions in the feature vector. A Schema
// is immutable and safe for concurrent use.
type Schema struct {
	names []string
	index map[string]int
}

// NewSchema returns a Schema whose i-th feature is names[i]. Names must
// be non-empty and distinct.
func NewSchema(names ...string) (*Schema, error) {
	if len(names) == 0 {
		return nil, configErr("NewSchema: no feature names")
	}
	s := &Schema{names: slices.Clone(names), index: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return nil, configErr("NewSchema: feature %d has an empty name", i)
		}
		if _, dup := s.index[n]; dup {
			return nil, configErr("NewSchema: feature %q appears twice", n)
		}
		s.index[n] = i
	}
	return s, nil
}

// Len returns the number of features.
func (s *Schema) Len() int { return len(s.names) }

// Names returns the feature names in position order.
func (s *Schema) Names() []string { return slices.Clone(s.names) }

// Index returns the position of the named feature.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// JSON decodes a JSON array of numbers, such as [1.5, 2, 0.3], or, when
// Schema is set, a JSON object of named numbers, such as
// {"age": 41, "income": 52000}. Object fields not in the schema are
// ignored; a schema feature absent from the object is an error, unless
// Missing is set, in which case it becomes NaN ("missing", see
// serving.NonFinitePolicy). With a Schema, an array must have exactly
// Schema.Len() elements.
//
// The zero value decodes arrays of any length. A JSON value is safe for
// concurrent use.
type JSON struct {
	Schema  *Schema
	Missing bool
}

// Decode implements Codec.
func (c JSON) Decode(v []byte) ([]float64, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, &DecodeError{Err: errors.New("empty value")}
	}
	switch v[0] {
	case '[':
		x, err := parseArray(v)
		if err != nil {
			return nil, err
		}
		if c.Schema != nil && len(x) != c.Schema.Len() {
			return nil, &DecodeError{Err: fmt.Errorf("%d values, schema has %d features", len(x), c.Schema.Len())}
		}
		return x, nil
	case '{':
		if c.Schema == nil {
			return nil, &DecodeError{Err: errors.New("JSON object but no schema to place its fields")}
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, &DecodeError{Err: err}
		}
		x := make([]float64, c.Schema.Len())
		for i, n := range c.Schema.names {
			num, ok := m[n]
			if !ok {
				if c.Missing {
					x[i] = math.NaN()
					continue
				}
				return nil, &DecodeError{Field: n, Err: errors.New("missing")}
			}
			f, err := parseNumber(bytes.TrimSpace(num))
			if err != nil {
				return nil, &DecodeError{Field: n, Err: err}
			}
			x[i] = f
		}
		return x, nil
	default:
		return nil, &DecodeError{Err: fmt.Errorf("want a JSON array or object, got %q", truncate(v))}
	}
}

// parseArray parses a flat JSON array of numbers without reflection.
func parseArray(v []byte) ([]float64, error) {
	if v[len(v)-1] != ']' {
		return nil, &DecodeError{Err: errors.New("unterminated JSON array")}
	}
	body := bytes.TrimSpace(v[1 : len(v)-1])
	if len(body) == 0 {
		return []float64{}, nil
	}
	x := make([]float64, 0, bytes.Count(body, []byte{','})+1)
	for i := 0; len(body) > 0 || i == 0; i++ {
		tok := body
		if j := bytes.IndexByte(body, ','); j >= 0 {
			tok, body = body[:j], body[j+1:]
			if len(bytes.TrimSpace(body)) == 0 {
				return nil, &DecodeError{Err: errors.New("trailing comma")}
			}
		} else {
			body = nil
		}
		f, err := parseNumber(bytes.TrimSpace(tok))
		if err != nil {
			return nil, &DecodeError{Field: strconv.Itoa(i), Err: err}
		}
		x = append(x, f)
	}
	return x, nil
}

// parseNumber parses a JSON number: no NaN, Inf, hex or underscores.
func parseNumber(b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, fmt.Errorf("not a number: %q", truncate(b))
		}
	}
	return strconv.ParseFloat(string(b), 64)
}

// CSV decodes one line of delimited numbers, such as "1.5,2,0.3". The
// numbers are written as in JSON: "NaN", "Inf" and hex are refused. Comma
// is the delimiter; zero means ','. An empty field is an error unless
// Missing is set, in which case it becomes NaN. With a Schema, the line
// must have exactly Schema.Len() fields and errors name the field.
//
// A CSV value is safe for concurrent use.
type CSV struct {
	Schema  *Schema
	Comma   byte
	Missing bool
}

// Decode implements Codec.
func (c CSV) Decode(v []byte) ([]float64, error) {
	v = bytes.TrimRight(v, "\r\n")
	if len(bytes.TrimSpace(v)) == 0 {
		return nil, &DecodeError{Err: errors.New("empty value")}
	}
	comma := c.Comma
	if comma == 0 {
		comma = ','
	}
	n := bytes.Count(v, []byte{comma}) + 1
	if c.Schema != nil && n != c.Schema.Len() {
		return nil, &DecodeError{Err: fmt.Errorf("%d fields, schema has %d features", n, c.Schema.Len())}
	}
	x := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		tok := v
		if j := bytes.IndexByte(v, comma); j >= 0 {
			tok, v = v[:j], v[j+1:]
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 && c.Missing {
			x = append(x, math.NaN())
			continue
		}
		f, err := parseNumber(tok)
		if err != nil {
			field := strconv.Itoa(i)
			if c.Schema != nil {
				field = c.Schema.names[i]
			}
			return nil, &DecodeError{Field: field, Err: err}
		}
		x = append(x, f)
	}
	return x, nil
}

func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

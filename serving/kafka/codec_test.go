package kafka_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

func TestJSONCodec(t *testing.T) {
	schema, err := kafka.NewSchema("age", "income", "score")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		codec kafka.JSON
		in    string
		want  []float64
		field string // for errors
	}{
		{kafka.JSON{}, "[1, 2.5, -3e2]", []float64{1, 2.5, -300}, ""},
		{kafka.JSON{}, " [ ] ", []float64{}, ""},
		{kafka.JSON{Schema: schema}, `{"income": 5, "age": 41, "score": 0.5, "extra": "x"}`, []float64{41, 5, 0.5}, ""},
		{kafka.JSON{Schema: schema, Missing: true}, `{"age": 41}`, []float64{41, math.NaN(), math.NaN()}, ""},
		{kafka.JSON{Schema: schema}, `[1,2,3]`, []float64{1, 2, 3}, ""},
		{kafka.JSON{Schema: schema}, `[1,2]`, nil, ""},
		{kafka.JSON{Schema: schema}, `{"age": 41}`, nil, "income"},
		{kafka.JSON{Schema: schema}, `{"age": "old", "income": 1, "score": 1}`, nil, ""},
		{kafka.JSON{}, `{"age": 41}`, nil, ""},
		{kafka.JSON{}, `[1, "2"]`, nil, "1"},
		{kafka.JSON{}, `[1, 2,]`, nil, ""},
		{kafka.JSON{}, `[1, NaN]`, nil, "1"},
		{kafka.JSON{}, `[1, 2`, nil, ""},
		{kafka.JSON{}, `42`, nil, ""},
		{kafka.JSON{}, ``, nil, ""},
	} {
		got, err := tc.codec.Decode([]byte(tc.in))
		if tc.want == nil {
			var de *kafka.DecodeError
			if !errors.Is(err, kafka.ErrDecode) || !errors.As(err, &de) {
				t.Errorf("%s: got %v, %v; want a decode error", tc.in, got, err)
			} else if tc.field != "" && de.Field != tc.field {
				t.Errorf("%s: error names field %q, want %q", tc.in, de.Field, tc.field)
			}
			continue
		}
		if err != nil || !slices.EqualFunc(got, tc.want, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
			t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestCSVCodec(t *testing.T) {
	schema, _ := kafka.NewSchema("a", "b")
	for _, tc := range []struct {
		codec kafka.CSV
		in    string
		want  []float64
		field string
	}{
		{kafka.CSV{}, "1,2.5,3\n", []float64{1, 2.5, 3}, ""},
		{kafka.CSV{Comma: ';'}, " 1 ; 2 ", []float64{1, 2}, ""},
		{kafka.CSV{Missing: true}, "1,,3", []float64{1, math.NaN(), 3}, ""},
		{kafka.CSV{Schema: schema}, "1,2", []float64{1, 2}, ""},
		{kafka.CSV{Schema: schema}, "1,2,3", nil, ""},
		{kafka.CSV{Schema: schema}, "1,x", nil, "b"},
		{kafka.CSV{}, "1,,3", nil, "1"},
		{kafka.CSV{}, "  ", nil, ""},
		// Numbers only, as in the JSON codec: NaN and infinities would
		// pass unnoticed into the model, and a NaN is not "missing".
		{kafka.CSV{}, "1,NaN", nil, "1"},
		{kafka.CSV{Missing: true}, "1,nan", nil, "1"},
		{kafka.CSV{}, "inf,1", nil, "0"},
		{kafka.CSV{}, "1,-Infinity", nil, "1"},
		{kafka.CSV{}, "0x10,1", nil, "0"},
		{kafka.CSV{}, "1,2\n3,4", nil, "1"},
	} {
		got, err := tc.codec.Decode([]byte(tc.in))
		if tc.want == nil {
			var de *kafka.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, kafka.ErrDecode) {
				t.Errorf("%q: got %v, %v; want a decode error", tc.in, got, err)
			} else if tc.field != "" && de.Field != tc.field {
				t.Errorf("%q: error names field %q, want %q", tc.in, de.Field, tc.field)
			}
			continue
		}
		if err != nil || !slices.EqualFunc(got, tc.want, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestSchema(t *testing.T) {
	s, err := kafka.NewSchema("x", "y")
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := s.Index("y"); !ok || i != 1 || s.Len() != 2 || !slices.Equal(s.Names(), []string{"x", "y"}) {
		t.Errorf("schema %v", s.Names())
	}
	for _, names := range [][]string{nil, {"a", "a"}, {"a", ""}} {
		if _, err := kafka.NewSchema(names...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("NewSchema(%q): %v", names, err)
		}
	}
}

func BenchmarkJSONArray(b *testing.B) {
	v := []byte("[0.5, 1.25, -3, 4e-2, 5, 6, 7, 8, 9, 10, 11]")
	for b.Loop() {
		if _, err := (kafka.JSON{}).Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

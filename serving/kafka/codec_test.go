package kafka_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

func names(l *serving.Layout) []string {
	if l == nil {
		return nil
	}
	return l.Names()
}

func mustLayout(t testing.TB, names ...string) *serving.Layout {
	t.Helper()
	l, err := serving.NewLayout(names...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// wantDecodeError checks that err is a decode error and, when field is
// not empty, that it names field with the given kind.
func wantDecodeError(t *testing.T, in string, err error, field string, kind error) {
	t.Helper()
	if !errors.Is(err, kafka.ErrDecode) {
		t.Errorf("%s: got %v; want an error wrapping kafka.ErrDecode", in, err)
		return
	}
	if field == "" {
		return
	}
	var fe *serving.FieldError
	if !errors.As(err, &fe) || fe.Field != field || !errors.Is(err, kind) {
		t.Errorf("%s: got %v; want a *serving.FieldError naming %q, wrapping %v", in, err, field, kind)
	}
}

func TestJSONCodec(t *testing.T) {
	pinned := mustLayout(t, "age", "income", "score")
	nan := math.NaN()
	for _, tc := range []struct {
		codec  kafka.JSON
		in     string
		want   []float64
		layout []string // nil: positional
		text   []string
	}{
		// Arrays stay positional.
		{kafka.JSON{}, "[1, 2.5, -3e2]", []float64{1, 2.5, -300}, nil, nil},
		// Zero written in any form is zero; the smallest subnormal is
		// not an underflow.
		{kafka.JSON{}, "[0, -0.0, 0e-400, 0.000e5, 5e-324]", []float64{0, 0, 0, 0, 5e-324}, nil, nil},
		{kafka.JSON{}, " [ ] ", []float64{}, nil, nil},
		// Objects are named by their keys, in document order, with no
		// schema declared; strings are text, null missing, booleans 1/0.
		{kafka.JSON{}, `{"income": 5, "age": 41}`, []float64{5, 41}, []string{"income", "age"}, nil},
		{kafka.JSON{}, `{"age":41,"country":"FR","vip":true,"debt":null}`, []float64{41, nan, 1, nan}, []string{"age", "country", "vip", "debt"}, []string{"", "FR", "", ""}},
		{kafka.JSON{}, ` { "k\u00e9y" : "a\"b" , "n" : -0.5e1 } `, []float64{nan, -5}, []string{"kéy", "n"}, []string{`a"b`, ""}},
		// A pinned layout places fields by name and ignores the others.
		{kafka.JSON{Layout: pinned}, `{"income": 5, "age": 41, "score": 0.5, "extra": "x"}`, []float64{41, 5, 0.5}, []string{"age", "income", "score"}, nil},
		{kafka.JSON{Layout: pinned}, `{"income": 5, "age": "old", "score": 0.5}`, []float64{nan, 5, 0.5}, []string{"age", "income", "score"}, []string{"old", "", ""}},
		{kafka.JSON{Layout: pinned, Missing: true}, `{"age": 41}`, []float64{41, nan, nan}, []string{"age", "income", "score"}, nil},
		{kafka.JSON{Layout: pinned}, `[1,2,3]`, []float64{1, 2, 3}, []string{"age", "income", "score"}, nil},
	} {
		r, err := tc.codec.Decode([]byte(tc.in))
		if err != nil || !sameFloats(r.Features, tc.want) || !slices.Equal(names(r.Layout), tc.layout) || !slices.Equal(r.Text, tc.text) {
			t.Errorf("%s: got %v %v %q, %v; want %v %v %q", tc.in, r.Features, names(r.Layout), r.Text, err, tc.want, tc.layout, tc.text)
		}
	}
	for _, tc := range []struct {
		codec kafka.JSON
		in    string
		field string
		kind  error
	}{
		{kafka.JSON{Layout: pinned}, `[1,2]`, "", nil},
		{kafka.JSON{Layout: pinned}, `{"age": 41, "score": 1}`, "income", serving.ErrMissingField},
		{kafka.JSON{}, `{"age": 41, "income": {"net": 1}}`, "income", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": [41]}`, "age", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": 4x1}`, "age", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": NaN}`, "age", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": tru}`, "age", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": 1, "age": 2}`, "", nil},
		{kafka.JSON{}, `{"": 1}`, "", nil},
		{kafka.JSON{}, `{"a\u0000b": 1}`, "", nil},
		{kafka.JSON{}, `{}`, "", nil},
		{kafka.JSON{}, `{"age": 1,}`, "", nil},
		{kafka.JSON{}, `{"age": 1`, "", nil},
		{kafka.JSON{}, `{"age" 1}`, "", nil},
		{kafka.JSON{}, `{"age": 1} x`, "", nil},
		{kafka.JSON{}, `{"age": "unterminated}`, "", nil},
		{kafka.JSON{}, "{\"age\": \"a\nb\"}", "", nil},
		{kafka.JSON{}, `[1, "2"]`, "1", serving.ErrFieldType},
		{kafka.JSON{}, `[1, 2,]`, "", nil},
		{kafka.JSON{}, `[1, NaN]`, "1", serving.ErrFieldType},
		// A number too small for a float64 is refused, not read as 0;
		// one too large was already (ErrRange).
		{kafka.JSON{}, `[1, 1e-400]`, "1", serving.ErrFieldType},
		{kafka.JSON{}, `{"age": -2.5e-999}`, "age", serving.ErrFieldType},
		{kafka.JSON{Layout: pinned}, `{"age": 1, "income": 1e-400, "score": 1}`, "income", serving.ErrFieldType},
		{kafka.JSON{}, `[1e400]`, "0", serving.ErrFieldType},
		{kafka.JSON{}, `[1, 2`, "", nil},
		{kafka.JSON{}, `42`, "", nil},
		{kafka.JSON{}, ``, "", nil},
	} {
		r, err := tc.codec.Decode([]byte(tc.in))
		if err == nil {
			t.Errorf("%s: decoded %v %v; want an error", tc.in, r.Features, names(r.Layout))
			continue
		}
		wantDecodeError(t, tc.in, err, tc.field, tc.kind)
	}
}

func TestCSVCodec(t *testing.T) {
	pinned := mustLayout(t, "a", "b")
	nan := math.NaN()
	for _, tc := range []struct {
		codec  kafka.CSV
		in     string
		want   []float64
		layout []string
		text   []string
	}{
		{kafka.CSV{}, "1,2.5,3\n", []float64{1, 2.5, 3}, nil, nil},
		{kafka.CSV{Comma: ';'}, " 1 ; 2 ", []float64{1, 2}, nil, nil},
		{kafka.CSV{Missing: true}, "1,,3", []float64{1, nan, 3}, nil, nil},
		{kafka.CSV{Layout: pinned}, "1,2", []float64{1, 2}, []string{"a", "b"}, nil},
		// A header line names the fields; text goes to Record.Text.
		{kafka.CSV{}, "age, country ,income\n41,FR,52000\n", []float64{41, nan, 52000}, []string{"age", "country", "income"}, []string{"", "FR", ""}},
		{kafka.CSV{Comma: ';'}, "x;y\r\n1;2", []float64{1, 2}, []string{"x", "y"}, nil},
		{kafka.CSV{Missing: true}, "x,y\n,2", []float64{nan, 2}, []string{"x", "y"}, nil},
	} {
		r, err := tc.codec.Decode([]byte(tc.in))
		if err != nil || !sameFloats(r.Features, tc.want) || !slices.Equal(names(r.Layout), tc.layout) || !slices.Equal(r.Text, tc.text) {
			t.Errorf("%q: got %v %v %q, %v; want %v %v %q", tc.in, r.Features, names(r.Layout), r.Text, err, tc.want, tc.layout, tc.text)
		}
	}
	for _, tc := range []struct {
		codec kafka.CSV
		in    string
		field string
		kind  error
	}{
		{kafka.CSV{Layout: pinned}, "1,2,3", "", nil},
		{kafka.CSV{Layout: pinned}, "a,b\n1,2", "", nil},
		{kafka.CSV{}, "1,x", "1", serving.ErrFieldType},
		{kafka.CSV{}, "1,,3", "1", serving.ErrMissingField},
		{kafka.CSV{}, "a,b,c\n1,,3", "b", serving.ErrMissingField},
		{kafka.CSV{}, "  ", "", nil},
		// Numbers only, as in the JSON codec: NaN and infinities would
		// pass unnoticed into the model, and a NaN is not "missing".
		{kafka.CSV{}, "1,NaN", "1", serving.ErrFieldType},
		{kafka.CSV{Missing: true}, "1,nan", "1", serving.ErrFieldType},
		{kafka.CSV{}, "inf,1", "0", serving.ErrFieldType},
		{kafka.CSV{}, "1,-Infinity", "1", serving.ErrFieldType},
		{kafka.CSV{}, "0x10,1", "0", serving.ErrFieldType},
		// A number too small for a float64 is refused, not read as 0,
		// nor taken for text under a header.
		{kafka.CSV{}, "1,1e-400", "1", serving.ErrFieldType},
		{kafka.CSV{}, "a,b\n1,1e-400", "b", serving.ErrFieldType},
		{kafka.CSV{Layout: pinned}, "1e-400,1", "a", serving.ErrFieldType},
		// So is one too large, which was taken for text under a header,
		// handing the model a missing value or an unknown category.
		{kafka.CSV{}, "1e400,1", "0", serving.ErrFieldType},
		{kafka.CSV{}, "a,b\n1,-1e400", "b", serving.ErrFieldType},
		{kafka.CSV{}, "a,b\n1,2\n3,4", "", nil},
		{kafka.CSV{}, "a,b\n1,2,3", "", nil},
		{kafka.CSV{}, "a,a\n1,2", "", nil},
		{kafka.CSV{}, "a,\n1,2", "", nil},
	} {
		r, err := tc.codec.Decode([]byte(tc.in))
		if err == nil {
			t.Errorf("%q: decoded %v %v; want an error", tc.in, r.Features, names(r.Layout))
			continue
		}
		wantDecodeError(t, tc.in, err, tc.field, tc.kind)
	}
}

// TestCodecsInternLayouts: records with the same fields in the same
// order share one *serving.Layout, whichever codec decoded them, so that
// a Server binds a model version to it once; another order is another
// layout.
func TestCodecsInternLayouts(t *testing.T) {
	a, _ := kafka.JSON{}.Decode([]byte(`{"amount": 1, "hour": 2}`))
	b, _ := kafka.JSON{}.Decode([]byte(`{ "amount" : 7 , "hour" : "late" }`))
	c, _ := kafka.CSV{}.Decode([]byte("amount,hour\n3,4"))
	d, _ := kafka.JSON{}.Decode([]byte(`{"hour": 2, "amount": 1}`))
	if a.Layout == nil || a.Layout != b.Layout || a.Layout != c.Layout {
		t.Errorf("same fields, different layouts: %p %p %p", a.Layout, b.Layout, c.Layout)
	}
	if d.Layout == a.Layout {
		t.Error("another order shares the layout")
	}
	// Long key sets intern too.
	var long []string
	for i := range 100 {
		long = append(long, fmt.Sprintf(`"a_rather_long_field_name_%03d": %d`, i, i))
	}
	obj := []byte("{" + strings.Join(long, ",") + "}")
	e, err := kafka.JSON{}.Decode(obj)
	f, _ := kafka.JSON{}.Decode(obj)
	if err != nil || e.Layout.Len() != 100 || e.Layout != f.Layout {
		t.Errorf("long layouts: %v, %d fields, shared %v", err, e.Layout.Len(), e.Layout == f.Layout)
	}
}

// TestNamedRecordsScore: named JSON records reach a model that names its
// inputs, whatever the order of their fields, with no schema declared;
// a record lacking a field the model reads gets a typed error naming it.
func TestNamedRecordsScore(t *testing.T) {
	srv := newServer(t)
	d := linearModel(t, "m", 1, 2, 3) // value 3*x0
	d.Bytes = []byte(strings.Replace(string(d.Bytes), `"features":2`, `"features":2,"feature_names":["amount","hour"]`, 1))
	if _, err := srv.Activate(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`{"amount": 2, "hour": 9}`, `{"hour": 9, "extra": "x", "amount": 2}`, "hour,amount\n9,2"} {
		var r serving.Record
		var err error
		if in[0] == '{' {
			r, err = kafka.JSON{}.Decode([]byte(in))
		} else {
			r, err = kafka.CSV{}.Decode([]byte(in))
		}
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Model("m").Score(t.Context(), r)
		if err != nil || res.Value != 6 {
			t.Errorf("%s: scored %v, %v; want 6", in, res.Value, err)
		}
	}
	r, _ := kafka.JSON{}.Decode([]byte(`{"hour": 9}`))
	_, err := srv.Model("m").Score(t.Context(), r)
	var fe *serving.FieldError
	if !errors.As(err, &fe) || fe.Field != "amount" || !errors.Is(err, serving.ErrMissingField) {
		t.Errorf("missing field: %v", err)
	}
}

// FuzzJSONCodec: any value decodes or fails with ErrDecode, never
// panics, and a decoded record is consistent. What the JSON codec takes
// is JSON to encoding/json too, and an array's numbers are the ones
// encoding/json reads (this found "[\v]" taken, see TestJSONSpaces).
func FuzzJSONCodec(f *testing.F) {
	for _, s := range []string{`[1,2]`, `{"a": 1, "b": "x", "c": null}`, `{"a\u00e9": true}`, `{"a": {"b": 1}}`, `{`, `{"a":"\"}`, `[1e22, -0.5e-3, 123456789012345678]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, c := range []kafka.Codec{kafka.JSON{}, kafka.CSV{}} {
			r, err := c.Decode(v)
			if err != nil {
				if !errors.Is(err, kafka.ErrDecode) {
					t.Fatalf("%q: %v does not wrap ErrDecode", v, err)
				}
				continue
			}
			if r.Layout != nil && r.Layout.Len() != len(r.Features) || r.Text != nil && len(r.Text) != len(r.Features) {
				t.Fatalf("%q: %d features, layout %v, text %q", v, len(r.Features), names(r.Layout), r.Text)
			}
			if _, ok := c.(kafka.JSON); !ok {
				continue
			}
			if !json.Valid(v) {
				t.Fatalf("%q: decoded %v, but it is not JSON", v, r.Features)
			}
			var x []float64
			if r.Layout == nil && json.Unmarshal(v, &x) == nil && !slices.Equal(x, r.Features) {
				t.Fatalf("%q: decoded %v, encoding/json reads %v", v, r.Features, x)
			}
		}
	})
}

func codecInputs() (arr, obj, csv, csvHeader []byte, fields []string) {
	var a, o, c []string
	for i := range 30 {
		v := fmt.Sprintf("%g", float64(i)*1.25-3)
		fields = append(fields, fmt.Sprintf("f%02d", i))
		a = append(a, v)
		o = append(o, fmt.Sprintf("%q: %s", fields[i], v))
		c = append(c, v)
	}
	return []byte("[" + strings.Join(a, ", ") + "]"), []byte("{" + strings.Join(o, ", ") + "}"),
		[]byte(strings.Join(c, ",")), []byte(strings.Join(fields, ",") + "\n" + strings.Join(c, ",")), fields
}

// BenchmarkCodec decodes 30-field records: positional JSON arrays and
// CSV lines, and named JSON objects and CSV with a header, with their
// layout found by the codec or pinned.
func BenchmarkCodec(b *testing.B) {
	arr, obj, csv, csvHeader, fields := codecInputs()
	pinned := mustLayout(b, fields...)
	for _, bc := range []struct {
		name  string
		codec kafka.Codec
		in    []byte
	}{
		{"json-array-30", kafka.JSON{}, arr},
		{"json-object-30", kafka.JSON{}, obj},
		{"json-object-30-pinned", kafka.JSON{Layout: pinned}, obj},
		{"csv-30", kafka.CSV{}, csv},
		{"csv-header-30", kafka.CSV{}, csvHeader},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := bc.codec.Decode(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
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

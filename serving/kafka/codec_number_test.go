package kafka_test

import (
	"encoding/json"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// TestJSONNumberGrammar: the JSON codec takes exactly RFC 8259's numbers.
// Each of the refused ones below was decoded before (strconv.ParseFloat
// takes them), although encoding/json, and so another consumer of the
// same topic, refuses the record: it must be dead-lettered like other
// malformed JSON. Every number is tried in an array (the one-pass parse
// and the careful one that names the field) and as an object's value.
func TestJSONNumberGrammar(t *testing.T) {
	for _, n := range []string{
		"+1", ".5", "-.5", "1.", "-1.", "1.e5", "01", "-01", "00", "00.5", "0123e1",
		"0x10", "0X1p-2", "Inf", "-Inf", "+Inf", "Infinity", "NaN", "1_000",
		"-", "--1", "+-1", "1e", "1e+", "1E-", "1e1.5", "1.5.5", "0.5e", "- 1",
	} {
		if json.Valid([]byte("[" + n + "]")) {
			t.Fatalf("%s: encoding/json takes it; the test is wrong", n)
		}
		for _, tc := range []struct{ in, field string }{
			{"[" + n + "]", "0"},
			{"[1, " + n + "]", "1"},
			{"[1,2,3," + n + ",5]", "3"},
			{`{"a": ` + n + `}`, "a"},
			{`{"a": 1, "b": ` + n + `, "c": 2}`, "b"},
		} {
			r, err := kafka.JSON{}.Decode([]byte(tc.in))
			if err == nil {
				t.Errorf("%s: decoded %v; want an error", tc.in, r.Features)
				continue
			}
			wantDecodeError(t, tc.in, err, tc.field, serving.ErrFieldType)
		}
	}
	// What the grammar allows still decodes, to what encoding/json reads.
	for _, n := range []string{
		"0", "-0", "0.5", "-0.5", "0e5", "0E-5", "0.0e+0", "10", "1.25", "-3", "4e-2", "1E+22",
		"123456789012345", "1234567890123456789", "0.000000000000000000000000001", "1.7976931348623157e308",
		"5e-324", "1e0001", "100e-2",
	} {
		var want []float64
		if err := json.Unmarshal([]byte("["+n+"]"), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", n, err)
		}
		for _, in := range []string{"[" + n + "]", "[1, " + n + "]", `{"a": ` + n + `}`} {
			r, err := kafka.JSON{}.Decode([]byte(in))
			if err != nil || r.Features[len(r.Features)-1] != want[0] {
				t.Errorf("%s: got %v, %v; want last %v", in, r.Features, err, want[0])
			}
		}
	}
}

// TestJSONSpaces: between tokens the JSON codec takes JSON's four spaces
// (space, tab, CR, LF) and nothing else, as encoding/json does. The
// array's careful parse trimmed with bytes.TrimSpace, which also takes
// \v, \f and Unicode's spaces (U+0085, U+00A0, U+3000...), so "[\v]"
// decoded into a record of no features and "[1\u00a0, 2]" into [1 2]:
// values another consumer of the topic refuses.
func TestJSONSpaces(t *testing.T) {
	for _, sp := range []string{"\v", "\f", "\u0085", "\u00a0", "\u2003", "\u3000", "\x00"} {
		for _, in := range []string{"[" + sp + "]", "[1" + sp + ", 2]", "[1, " + sp + "2]", sp + "[1, 2]", "[1, 2]" + sp, sp + `{"a": 1}`, `{"a": 1}` + sp, `{"a":` + sp + `1}`} {
			if json.Valid([]byte(in)) {
				t.Fatalf("%q: encoding/json takes it; the test is wrong", in)
			}
			r, err := kafka.JSON{}.Decode([]byte(in))
			if err == nil {
				t.Errorf("%q: decoded %v; want an error", in, r.Features)
			}
		}
	}
	for _, in := range []string{" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n", "\n{\t\"a\"\r:\n1\t,\r\"b\" : 2 }\n"} {
		r, err := kafka.JSON{}.Decode([]byte(in))
		if err != nil || len(r.Features) != 2 || r.Features[0] != 1 || r.Features[1] != 2 {
			t.Errorf("%q: decoded %v, %v; want [1 2]", in, r.Features, err)
		}
	}
}

// TestCSVNumberGrammar: the CSV codec's numbers are JSON's, as its
// documentation says; "+1", ".5", "1." and "01" were taken before. In a
// positional record they are an error; under a header, text.
func TestCSVNumberGrammar(t *testing.T) {
	for _, n := range []string{"+1", ".5", "1.", "01", "-.5"} {
		r, err := kafka.CSV{}.Decode([]byte("1," + n))
		if err == nil {
			t.Errorf("%q: decoded %v; want an error", "1,"+n, r.Features)
			continue
		}
		wantDecodeError(t, "1,"+n, err, "1", serving.ErrFieldType)
		r, err = kafka.CSV{}.Decode([]byte("a,b\n1," + n))
		if err != nil || len(r.Text) != 2 || r.Text[1] != n {
			t.Errorf("%q under a header: got %v %q, %v; want text %q", n, r.Features, r.Text, err, n)
		}
	}
}

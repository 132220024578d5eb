package wire_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

func TestModelRoundTrip(t *testing.T) {
	d := serving.Descriptor{
		Name: "fraud", Format: "linear", Version: 7, Description: "weekly retrain",
		Bytes: []byte(`{"kind":"linear"}`), Created: time.Date(2026, 11, 25, 16, 53, 44, 123456789, time.UTC),
		Parent: "abc", Labels: map[string]string{"auc": "0.91", "features": "a,b"}, Signature: []byte{1, 2, 3, 250},
	}
	m, err := wire.EncodeModel(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "fraud" {
		t.Errorf("key %q", m.Key)
	}
	got, err := wire.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.SHA256 = serving.ContentID(d.Bytes) // filled in by EncodeModel
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// TestWireKcat decodes what `kcat -P -k fraud -H modelstream.format=linear
// -H modelstream.version=3 -T file` writes, plus headers from other tools.
func TestModelKcat(t *testing.T) {
	m := wire.Message{Key: []byte("fraud"), Value: []byte("{}"), Headers: []wire.Header{
		{Key: []byte("modelstream.format"), Value: []byte("linear")},
		{Key: []byte("modelstream.version"), Value: []byte("3")},
		{Key: []byte("traceparent"), Value: []byte("00-xyz")},
		{Key: []byte("modelstream.future-field"), Value: []byte("ignored")},
	}}
	d, err := wire.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "fraud" || d.Format != "linear" || d.Version != 3 || string(d.Bytes) != "{}" {
		t.Errorf("decoded %+v", d)
	}
	m.Headers = m.Headers[:1] // no version: unassigned
	if d, err := wire.DecodeModel(m, 0); err != nil || d.Version != 0 {
		t.Errorf("without version: %+v, %v", d, err)
	}
}

func TestModelErrors(t *testing.T) {
	h := func(kv ...string) []wire.Header {
		var out []wire.Header
		for i := 0; i < len(kv); i += 2 {
			out = append(out, wire.Header{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		m      wire.Message
		want   error  // wire.ErrMalformed or serving.ErrTooLarge
		header string // named by the *wire.Error
	}{
		{"no key", wire.Message{Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear")}, wire.ErrMalformed, "key"},
		{"no format", wire.Message{Key: []byte("m"), Value: []byte("x")}, wire.ErrMalformed, wire.HeaderFormat},
		// A name is kept per name by readers (rejections, metrics
		// labels, version numbering): a 1 MiB key or one that is not
		// UTF-8 (which a Prometheus label refuses) is malformed.
		{"long key", wire.Message{Key: []byte(strings.Repeat("m", wire.MaxNameBytes+1)), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear")}, wire.ErrMalformed, "key"},
		{"key not UTF-8", wire.Message{Key: []byte("m\xff"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear")}, wire.ErrMalformed, "key"},
		{"version text", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderVersion, "three")}, wire.ErrMalformed, wire.HeaderVersion},
		{"version zero", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderVersion, "0")}, wire.ErrMalformed, wire.HeaderVersion},
		{"version negative", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderVersion, "-1")}, wire.ErrMalformed, wire.HeaderVersion},
		{"created", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderCreated, "yesterday")}, wire.ErrMalformed, wire.HeaderCreated},
		{"signature", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderSignature, "!!")}, wire.ErrMalformed, wire.HeaderSignature},
		{"empty", wire.Message{Key: []byte("m"), Headers: h(wire.HeaderFormat, "linear")}, wire.ErrMalformed, "value"},
		// A label header with no name was dropped, so a Descriptor with
		// such a label did not survive the round trip (nor its signature).
		{"nameless label", wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear", wire.HeaderLabelPrefix, "v")}, wire.ErrMalformed, wire.HeaderLabelPrefix},
		{"oversized", wire.Message{Key: []byte("m"), Value: make([]byte, 11), Headers: h(wire.HeaderFormat, "linear")}, serving.ErrTooLarge, "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.DecodeModel(tc.m, 10)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Header != tc.header || !strings.HasPrefix(err.Error(), "wire: ") {
				t.Errorf("error %v is not a *wire.Error naming %q with the package prefix", err, tc.header)
			}
			if tc.want == serving.ErrTooLarge && errors.Is(err, wire.ErrMalformed) {
				t.Errorf("an oversized model is not malformed: %v", err)
			}
		})
	}
	if _, err := wire.EncodeModel(serving.Descriptor{Name: "m", Format: "f", Bytes: make([]byte, 11)}, 10); !errors.Is(err, serving.ErrTooLarge) {
		t.Errorf("encode oversized: %v", err)
	}
	if _, err := wire.DecodeModel(wire.Message{Key: []byte(strings.Repeat("é", wire.MaxNameBytes/2)), Value: []byte("x"), Headers: h(wire.HeaderFormat, "linear")}, 10); err != nil {
		t.Errorf("a name of %d bytes: %v", wire.MaxNameBytes/2*2, err)
	}
	for _, d := range []serving.Descriptor{{Name: "m", Bytes: []byte("x")}, {Name: "m", Format: "f"}, {Format: "f", Bytes: []byte("x")}, {Name: "m\xfe", Format: "f", Bytes: []byte("x")}, {Name: strings.Repeat("m", 256), Format: "f", Bytes: []byte("x")},
		{Name: "m", Format: "f", Bytes: []byte("x"), Labels: map[string]string{"": "v"}}} {
		if _, err := wire.EncodeModel(d, 0); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("encode %+v: %v", d, err)
		}
	}
}

// TestModelCreatedOutsideRFC3339: a creation time RFC 3339 cannot write
// (a year before 0 or after 9999) is refused by EncodeModel, naming the
// header. time.Format wrote it anyway ("10000-01-01T00:00:00Z"), and
// every reader refused the message DecodeModel could not parse: a
// publisher's model that no instance would load.
func TestModelCreatedOutsideRFC3339(t *testing.T) {
	for _, created := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC).Add(2 * time.Hour),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -2*3600)), // 10000 in UTC
	} {
		_, err := wire.EncodeModel(serving.Descriptor{Name: "m", Format: "f", Bytes: []byte("x"), Created: created}, 0)
		var we *wire.Error
		if !errors.Is(err, wire.ErrMalformed) || !errors.As(err, &we) || we.Header != wire.HeaderCreated {
			t.Errorf("encode created %v: %v, want a *wire.Error naming %s", created, err, wire.HeaderCreated)
		}
	}
	for _, created := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 1, 0, 0, 0, time.FixedZone("", 2*3600)), // 9999 in UTC
	} {
		m, err := wire.EncodeModel(serving.Descriptor{Name: "m", Format: "f", Bytes: []byte("x"), Created: created}, 0)
		if err != nil {
			t.Errorf("encode created %v: %v", created, err)
			continue
		}
		d, err := wire.DecodeModel(m, 0)
		if err != nil || !d.Created.Equal(created) {
			t.Errorf("created %v decodes to %v, %v", created, d.Created, err)
		}
	}
}

// TestWireRepeatedHeaders: a repeated header keeps its last value, as
// documented (and as Java's Headers.lastHeader reads it), but every
// occurrence must parse.
func TestModelRepeatedHeaders(t *testing.T) {
	h := func(kv ...string) []wire.Header {
		var out []wire.Header
		for i := 0; i < len(kv); i += 2 {
			out = append(out, wire.Header{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		return out
	}
	m := wire.Message{Key: []byte("m"), Value: []byte("x"), Headers: h(
		wire.HeaderFormat, "onnx", wire.HeaderFormat, "linear",
		wire.HeaderVersion, "2", wire.HeaderVersion, "3",
		wire.HeaderLabelPrefix+"team", "a", wire.HeaderLabelPrefix+"team", "b",
	)}
	d, err := wire.DecodeModel(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != "linear" || d.Version != 3 || len(d.Labels) != 1 || d.Labels["team"] != "b" {
		t.Errorf("decoded %+v", d)
	}
	m.Headers = h(wire.HeaderFormat, "linear", wire.HeaderVersion, "zero", wire.HeaderVersion, "3")
	var we *wire.Error
	if _, err := wire.DecodeModel(m, 0); !errors.As(err, &we) || we.Header != wire.HeaderVersion {
		t.Errorf("a bad version followed by a good one: %v, want a *wire.Error naming the version header", err)
	}
}

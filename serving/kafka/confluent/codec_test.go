package confluent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

var _ kafka.Codec = (*Codec)(nil)

// registry is srfake's Schema Registry REST API served over HTTP on
// loopback, with a switch that makes it answer 503, a count of
// schema-by-ID requests to answer with a status of their own (429, 408),
// and a count of the schema-by-ID requests it served.
type registry struct {
	*srfake.Registry
	url     string
	down    atomic.Bool
	refuse  atomic.Int64 // schema-by-ID requests still to answer with refusal
	refusal atomic.Int64 // the status they get
	byID    atomic.Int64
	client  *sr.Client
}

func newRegistry(t testing.TB) *registry {
	t.Helper()
	r := &registry{Registry: srfake.New()}
	t.Cleanup(r.Registry.Close)
	h := r.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/schemas/ids/") {
			r.byID.Add(1)
			if r.refuse.Add(-1) >= 0 {
				code := int(r.refusal.Load())
				http.Error(w, fmt.Sprintf(`{"error_code":%d01,"message":"%s"}`, code, http.StatusText(code)), code)
				return
			}
		}
		if r.down.Load() {
			http.Error(w, `{"error_code":50301,"message":"down"}`, http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	require.NoError(t, err)
	r.client = cl
	return r
}

// register registers a schema through the REST API (POST
// /subjects/{s}/versions) and returns its ID.
func (r *registry) register(t testing.TB, subject string, s sr.Schema) int {
	t.Helper()
	ss, err := r.client.CreateSchema(context.Background(), subject, s)
	require.NoError(t, err)
	r.byID.Store(0) // count only the codec's fetches
	return ss.ID
}

func frame(id int, index []int, payload []byte) []byte {
	var h sr.ConfluentHeader
	b, _ := h.AppendEncode(nil, id, index)
	return append(b, payload...)
}

const avroV1 = `{"type":"record","name":"Txn","namespace":"test","fields":[
 {"name":"amount","type":"double"},
 {"name":"count","type":"long"},
 {"name":"ratio","type":"float"},
 {"name":"flagged","type":"boolean"},
 {"name":"country","type":"string"},
 {"name":"channel","type":{"type":"enum","name":"Channel","symbols":["WEB","POS","ATM"]}},
 {"name":"merchant","type":{"type":"record","name":"Merchant","fields":[
   {"name":"risk","type":["null","double"],"default":null},
   {"name":"geo","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"}]}}]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"raw","type":"bytes"},
 {"name":"age","type":["null","int"],"default":null}]}`

func avroValue(amount float64, risk any, age any) map[string]any {
	return map[string]any{
		"amount": amount, "count": int64(7), "ratio": float32(0.5), "flagged": true,
		"country": "FR", "channel": "POS",
		"merchant": map[string]any{"risk": risk, "geo": map[string]any{"lat": 48.85}},
		"tags":     []string{"a", "b", "c"}, "attrs": map[string]any{"x": int64(1), "y": int64(2)},
		"raw": []byte{1, 2, 3}, "age": age,
	}
}

func newCodec(t *testing.T, r *registry, opts ...Option) *Codec {
	t.Helper()
	c, err := New(r.client, opts...)
	require.NoError(t, err)
	return c
}

func TestAvroNamedNestedAndMissing(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: avroV1, Type: sr.TypeAvro})
	schema := avro.MustParse(avroV1)
	c := newCodec(t, r)

	b, err := avro.Marshal(schema, avroValue(12.5, 0.25, 41))
	require.NoError(t, err)
	rec, err := c.Decode(frame(id, nil, b))
	require.NoError(t, err)
	require.NotNil(t, rec.Layout)
	assert.Equal(t, []string{"amount", "count", "ratio", "flagged", "country", "channel", "merchant.risk", "merchant.geo.lat", "age"}, rec.Layout.Names())
	get := func(rec serving.Record, name string) float64 {
		i, ok := rec.Layout.Index(name)
		require.True(t, ok, name)
		return rec.Features[i]
	}
	text := func(rec serving.Record, name string) string {
		i, _ := rec.Layout.Index(name)
		require.NotNil(t, rec.Text)
		return rec.Text[i]
	}
	assert.Equal(t, 12.5, get(rec, "amount"))
	assert.Equal(t, 7.0, get(rec, "count"))
	assert.Equal(t, 0.5, get(rec, "ratio"))
	assert.Equal(t, 1.0, get(rec, "flagged"))
	assert.Equal(t, 0.25, get(rec, "merchant.risk"))
	assert.Equal(t, 48.85, get(rec, "merchant.geo.lat"))
	assert.Equal(t, 41.0, get(rec, "age"))
	assert.Equal(t, "FR", text(rec, "country"))
	assert.Equal(t, "POS", text(rec, "channel"))
	assert.True(t, math.IsNaN(get(rec, "country")))

	// Null union branches are missing; the Layout is the same pointer.
	b, err = avro.Marshal(schema, avroValue(3, nil, nil))
	require.NoError(t, err)
	rec2, err := c.Decode(frame(id, nil, b))
	require.NoError(t, err)
	assert.Same(t, rec.Layout, rec2.Layout)
	assert.True(t, math.IsNaN(get(rec2, "merchant.risk")))
	assert.True(t, math.IsNaN(get(rec2, "age")))
	assert.Equal(t, int64(1), r.byID.Load(), "one fetch per schema ID")
}

func TestSchemaEvolutionMidStreamFetchedOnce(t *testing.T) {
	r := newRegistry(t)
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"},{"name":"b","type":["null","double"],"default":null}]}`
	id1 := r.register(t, "r-value", sr.Schema{Schema: v1, Type: sr.TypeAvro})
	c := newCodec(t, r)
	b1, _ := avro.Marshal(avro.MustParse(v1), map[string]any{"a": 1.0})
	for range 10 {
		_, err := c.Decode(frame(id1, nil, b1))
		require.NoError(t, err)
	}
	id2 := r.register(t, "r-value", sr.Schema{Schema: v2, Type: sr.TypeAvro})
	require.NotEqual(t, id1, id2)
	b2, _ := avro.Marshal(avro.MustParse(v2), map[string]any{"a": 2.0, "b": 3.0})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := c.Decode(frame(id2, nil, b2))
			if assert.NoError(t, err) {
				assert.Equal(t, []float64{2, 3}, rec.Features)
				assert.Equal(t, []string{"a", "b"}, rec.Layout.Names())
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), r.byID.Load(), "each new ID fetched once, however many decoders meet it")
}

func TestMalformedFrames(t *testing.T) {
	r := newRegistry(t)
	c := newCodec(t, r)
	for name, v := range map[string][]byte{
		"empty":   nil,
		"short":   {0, 0, 0, 1},
		"magic":   {1, 0, 0, 0, 1, 2},
		"json":    []byte(`{"a":1}`),
		"textual": []byte("hello"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Decode(v)
			assert.ErrorIs(t, err, errFrame)
			assert.ErrorIs(t, err, kafka.ErrDecode)
		})
	}
	assert.Zero(t, r.byID.Load(), "a malformed frame never reaches the registry")
}

func TestUnknownSchemaID(t *testing.T) {
	r := newRegistry(t)
	c := newCodec(t, r)
	_, err := c.Decode(frame(4242, nil, []byte{2}))
	require.ErrorIs(t, err, ErrUnknownSchema)
	assert.ErrorIs(t, err, kafka.ErrDecode)
	var se *SchemaError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 4242, se.ID)
	assert.Equal(t, int64(1), r.byID.Load(), "a 404 is not retried")
}

func TestUnreachableRegistryRetriesThenFailsFastThenRecovers(t *testing.T) {
	r := newRegistry(t)
	s := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
	id := r.register(t, "r-value", sr.Schema{Schema: s, Type: sr.TypeAvro})
	b, _ := avro.Marshal(avro.MustParse(s), map[string]any{"a": 1.5})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := newCodec(t, r, Retry(3, time.Millisecond, time.Second))
	c.o.now = func() time.Time { return time.Unix(0, now.Load()) }

	r.down.Store(true)
	_, err := c.Decode(frame(id, nil, b))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, kafka.ErrDecode)
	assert.Contains(t, err.Error(), "down", "the reason names the registry's answer")
	assert.Equal(t, int64(3), r.byID.Load(), "three attempts")

	// Within the retry window the next record fails at once, without
	// asking the registry again: a partition is not held per record.
	_, err = c.Decode(frame(id, nil, b))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, int64(3), r.byID.Load())

	// Once the window has passed and the registry is back, it works.
	r.down.Store(false)
	now.Add(int64(time.Hour))
	rec, err := c.Decode(frame(id, nil, b))
	require.NoError(t, err)
	assert.Equal(t, []float64{1.5}, rec.Features)
}

func TestAvroIncompatibleRecords(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: avroV1, Type: sr.TypeAvro})
	c := newCodec(t, r)
	good, err := avro.Marshal(avro.MustParse(avroV1), avroValue(1, 2.0, 3))
	require.NoError(t, err)

	// Every strict prefix of a good record is incompatible, never a panic.
	for n := range len(good) {
		_, err := c.Decode(frame(id, nil, good[:n]))
		require.ErrorIs(t, err, ErrIncompatible, "prefix %d", n)
		require.ErrorIs(t, err, kafka.ErrDecode)
	}
	_, err = c.Decode(frame(id, nil, append(good[:len(good):len(good)], 0)))
	assert.ErrorIs(t, err, ErrIncompatible, "trailing byte")

	// A record written with another schema: a bad enum index names the field.
	other := avro.MustParse(`{"type":"record","name":"X","fields":[{"name":"a","type":"double"},{"name":"b","type":"long"},{"name":"c","type":"float"},{"name":"d","type":"boolean"},{"name":"e","type":"string"},{"name":"f","type":"int"}]}`)
	bad, err := avro.Marshal(other, map[string]any{"a": 1.0, "b": int64(1), "c": float32(1), "d": true, "e": "x", "f": 9})
	require.NoError(t, err)
	_, err = c.Decode(frame(id, nil, bad))
	require.ErrorIs(t, err, ErrIncompatible)
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "channel", fe.Field)
}

// TestAvroIntIs32Bits: an Avro int is a 32-bit integer, so a varint
// beyond int32's range in an int field (or an int-based logical type,
// such as date) is a record that does not match its schema, as Avro's
// own readers refuse it. It was read as a long and handed to the model.
func TestAvroIntIs32Bits(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "ints-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Ints","fields":[
		{"name":"i","type":"int"},
		{"name":"d","type":{"type":"int","logicalType":"date"}},
		{"name":"l","type":"long"}]}`})
	c := newCodec(t, r)
	value := func(i, d, l int64) []byte {
		b := binary.AppendVarint(nil, i)
		b = binary.AppendVarint(b, d)
		return binary.AppendVarint(b, l)
	}
	for _, v := range [][3]int64{{math.MaxInt32, math.MinInt32, math.MaxInt64}, {math.MinInt32, math.MaxInt32, math.MinInt64}} {
		rec, err := c.Decode(frame(id, nil, value(v[0], v[1], v[2])))
		require.NoError(t, err)
		assert.Equal(t, []float64{float64(v[0]), float64(v[1]), float64(v[2])}, rec.Features)
	}
	for _, tc := range []struct {
		v     [3]int64
		field string
	}{
		{[3]int64{math.MaxInt32 + 1, 0, 0}, "i"},
		{[3]int64{math.MinInt32 - 1, 0, 0}, "i"},
		{[3]int64{0, 1 << 40, 0}, "d"},
	} {
		_, err := c.Decode(frame(id, nil, value(tc.v[0], tc.v[1], tc.v[2])))
		require.ErrorIs(t, err, ErrIncompatible, "%v", tc.v)
		var fe *serving.FieldError
		require.ErrorAs(t, err, &fe, "%v", tc.v)
		assert.Equal(t, tc.field, fe.Field)
		assert.ErrorIs(t, err, serving.ErrFieldType)
	}
}

// TestAvroDecimalIsANumber: an Avro decimal (bytes or fixed with the
// decimal logical type, how Avro writes money and SQL NUMERIC columns)
// is a feature, its unscaled value times 10^-scale rounded to the
// nearest float64, as strconv.ParseFloat rounds the same digits. It was
// read past as bytes, so the field was not in the record's layout and a
// model with that input could not bind to it.
func TestAvroDecimalIsANumber(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "dec-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Dec","fields":[
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
		{"name":"rate","type":{"type":"fixed","name":"Rate","size":8,"logicalType":"decimal","precision":18,"scale":6}},
		{"name":"wide","type":{"type":"bytes","logicalType":"decimal","precision":800,"scale":40}},
		{"name":"raw","type":"bytes"}]}`})
	c := newCodec(t, r)
	// twos returns x in big-endian two's complement in at least n bytes.
	twos := func(x *big.Int, n int) []byte {
		size := max(n, (x.BitLen()+8)/8)
		u := new(big.Int).Set(x)
		if x.Sign() < 0 {
			u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
		}
		return u.FillBytes(make([]byte, size))
	}
	value := func(amount []byte, rate, wide *big.Int) []byte {
		b := binary.AppendVarint(nil, int64(len(amount)))
		b = append(b, amount...)
		b = append(b, twos(rate, 8)...)
		w := twos(wide, 0)
		b = binary.AppendVarint(b, int64(len(w)))
		b = append(b, w...)
		return append(binary.AppendVarint(b, 2), 0xca, 0xfe)
	}
	want := func(x *big.Int, scale int) float64 {
		f, err := strconv.ParseFloat(x.String()+"e-"+strconv.Itoa(scale), 64)
		require.NoError(t, err)
		return f
	}

	rec, err := c.Decode(frame(id, nil, value([]byte{0x30, 0x39}, big.NewInt(-1234567), big.NewInt(1))))
	require.NoError(t, err)
	assert.Equal(t, []string{"amount", "rate", "wide"}, rec.Layout.Names())
	assert.Equal(t, []float64{123.45, -1.234567, 1e-40}, rec.Features)
	rec, err = c.Decode(frame(id, nil, value([]byte{0xff, 0xff, 0xff}, big.NewInt(0), big.NewInt(-5))))
	require.NoError(t, err, "redundant sign bytes")
	assert.Equal(t, []float64{-0.01, 0, -5e-40}, rec.Features)

	rng := rand.New(rand.NewPCG(1, 2))
	below := func(bits int) *big.Int { // a random integer below 2^bits
		b := make([]byte, (bits+7)/8)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		x := new(big.Int).SetBytes(b)
		return x.Rsh(x, uint(len(b)*8-bits))
	}
	for range 2000 {
		amount, rate, wide := below(rng.IntN(70)+1), below(rng.IntN(63)+1), below(rng.IntN(400)+1)
		if rng.IntN(2) == 0 {
			amount.Neg(amount)
			rate.Neg(rate)
			wide.Neg(wide)
		}
		rec, err := c.Decode(frame(id, nil, value(twos(amount, 0), rate, wide)))
		require.NoError(t, err, "%v %v %v", amount, rate, wide)
		require.Equal(t, []float64{want(amount, 2), want(rate, 6), want(wide, 40)}, rec.Features, "%v %v %v", amount, rate, wide)
	}

	// No bytes, or beyond float64's range: refused, naming the field.
	huge := new(big.Int).Lsh(big.NewInt(1), 1200) // 2^1200 * 10^-40 > 10^308
	for _, v := range [][]byte{
		value(nil, big.NewInt(0), big.NewInt(0)),
		value([]byte{1}, big.NewInt(0), huge),
		value([]byte{1}, big.NewInt(0), new(big.Int).Lsh(big.NewInt(1), 8*400)),
	} {
		_, err := c.Decode(frame(id, nil, v))
		require.ErrorIs(t, err, ErrIncompatible)
		var fe *serving.FieldError
		require.ErrorAs(t, err, &fe)
		assert.Contains(t, []string{"amount", "wide"}, fe.Field)
		assert.ErrorIs(t, err, serving.ErrFieldType)
	}
}

func TestUnsupportedSchemas(t *testing.T) {
	r := newRegistry(t)
	recursive := `{"type":"record","name":"Node","fields":[{"name":"v","type":"double"},{"name":"next","type":["null","Node"]}]}`
	id := r.register(t, "n-value", sr.Schema{Schema: recursive, Type: sr.TypeAvro})
	c := newCodec(t, r)
	_, err := c.Decode(frame(id, nil, []byte{0}))
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.ErrorIs(t, err, kafka.ErrDecode)
}

const protoSchema = `syntax = "proto3";
package test;
message Other { double z = 1; }
message Txn {
  enum Channel { WEB = 0; POS = 1; }
  message Merchant { double risk = 1; optional double limit = 2; }
  double amount = 1;
  int64 count = 2;
  bool flagged = 3;
  string country = 4;
  Channel channel = 5;
  Merchant merchant = 6;
  repeated double history = 7;
  bytes raw = 8;
  optional int32 age = 9;
  sint32 delta = 10;
}
`

func TestProtobufDynamicFromRegisteredSchema(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: protoSchema, Type: sr.TypeProtobuf})
	c := newCodec(t, r)

	// The wire bytes are assembled field by field with protowire.
	var m []byte
	m = protowire.AppendTag(m, 6, protowire.BytesType) // merchant, a nested message: risk only
	var sub []byte
	sub = protowire.AppendTag(sub, 1, protowire.Fixed64Type)
	sub = protowire.AppendFixed64(sub, math.Float64bits(0.75))
	m = protowire.AppendBytes(m, sub)
	m = protowire.AppendTag(m, 1, protowire.Fixed64Type)
	m = protowire.AppendFixed64(m, math.Float64bits(99.5))
	m = protowire.AppendTag(m, 2, protowire.VarintType)
	m = protowire.AppendVarint(m, 12)
	m = protowire.AppendTag(m, 3, protowire.VarintType)
	m = protowire.AppendVarint(m, 1)
	m = protowire.AppendTag(m, 4, protowire.BytesType)
	m = protowire.AppendString(m, "DE")
	m = protowire.AppendTag(m, 5, protowire.VarintType)
	m = protowire.AppendVarint(m, 1)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendBytes(m, protowire.AppendFixed64(nil, math.Float64bits(1)))
	m = protowire.AppendTag(m, 10, protowire.VarintType)
	m = protowire.AppendVarint(m, protowire.EncodeZigZag(-3))

	rec, err := c.Decode(frame(id, []int{1}, m)) // message index 1: Txn
	require.NoError(t, err)
	assert.Equal(t, []string{"amount", "count", "flagged", "country", "channel", "merchant.risk", "merchant.limit", "age", "delta"}, rec.Layout.Names())
	at := func(name string) int { i, _ := rec.Layout.Index(name); return i }
	assert.Equal(t, 99.5, rec.Features[at("amount")])
	assert.Equal(t, 12.0, rec.Features[at("count")])
	assert.Equal(t, 1.0, rec.Features[at("flagged")])
	assert.Equal(t, "DE", rec.Text[at("country")])
	assert.Equal(t, "POS", rec.Text[at("channel")])
	assert.Equal(t, 0.75, rec.Features[at("merchant.risk")])
	assert.True(t, math.IsNaN(rec.Features[at("merchant.limit")]), "unset optional is missing")
	assert.True(t, math.IsNaN(rec.Features[at("age")]), "unset optional is missing")
	assert.Equal(t, -3.0, rec.Features[at("delta")])

	// An unset message leaves its fields missing; message index 0 is Other.
	rec, err = c.Decode(frame(id, []int{1}, nil))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(rec.Features[at("merchant.risk")]))
	assert.Equal(t, 0.0, rec.Features[at("amount")], "proto3 scalars without presence default to 0")
	other, err := c.Decode(frame(id, []int{0}, protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), math.Float64bits(5))))
	require.NoError(t, err)
	assert.Equal(t, []string{"z"}, other.Layout.Names())
	assert.Equal(t, []float64{5}, other.Features)

	// No such message, bad indexes, and bytes that are not the message.
	_, err = c.Decode(frame(id, []int{7}, nil))
	assert.ErrorIs(t, err, ErrIncompatible)
	_, err = c.Decode(frame(id, nil, []byte{0x80}))
	assert.ErrorIs(t, err, kafka.ErrDecode)
	_, err = c.Decode(frame(id, []int{1}, []byte{0x0a, 0x05, 1}))
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.ErrorIs(t, err, kafka.ErrDecode)
}

// TestProtobufWrappersAreTheirValue: a field of a well-known wrapper
// type (google.protobuf.DoubleValue and the others but BytesValue), the
// way proto3 wrote a nullable scalar before "optional", is a feature at
// the field's own path, missing when unset, as an Avro union of null and
// a double is: "amount", not "amount.value". A model whose input is
// "amount" bound to the Avro records of a topic but not to the same
// records written as Protobuf.
func TestProtobufWrappersAreTheirValue(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "wrapped-value", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3";
import "google/protobuf/wrappers.proto";
message Txn {
  google.protobuf.DoubleValue amount = 1;
  google.protobuf.Int64Value count = 2;
  google.protobuf.StringValue country = 3;
  google.protobuf.BoolValue flagged = 4;
  google.protobuf.BytesValue raw = 5;
  double plain = 6;
}`})
	c := newCodec(t, r)
	wrapped := func(n protowire.Number, inner []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), inner)
	}
	var m []byte
	m = append(m, wrapped(1, protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), math.Float64bits(12.5)))...)
	m = append(m, wrapped(3, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "FR"))...)
	m = append(m, wrapped(4, nil)...) // set, holding false
	rec, err := c.Decode(frame(id, []int{0}, m))
	require.NoError(t, err)
	assert.Equal(t, []string{"amount", "count", "country", "flagged", "plain"}, rec.Layout.Names())
	assert.Equal(t, 12.5, rec.Features[0])
	assert.True(t, math.IsNaN(rec.Features[1]), "an unset wrapper is missing")
	assert.Equal(t, "FR", rec.Text[2])
	assert.Equal(t, 0.0, rec.Features[3], "a set wrapper of the default value is that value")
	assert.Equal(t, 0.0, rec.Features[4])
}

func TestProtobufSchemaThatDoesNotCompile(t *testing.T) {
	r := newRegistry(t)
	r.SeedSchema("bad-value", 1, 77, sr.Schema{Schema: "syntax = \"proto3\"; message {", Type: sr.TypeProtobuf})
	c := newCodec(t, r)
	_, err := c.Decode(frame(77, nil, nil))
	assert.ErrorIs(t, err, ErrUnsupported)
}

const jsonSchemaText = `{"type":"object","properties":{
 "amount":{"type":"number"},
 "flagged":{"type":"boolean"},
 "country":{"type":"string"},
 "merchant":{"type":"object","properties":{"risk":{"type":["null","number"]},"geo":{"type":"object","properties":{"lat":{"type":"number"}}}}},
 "tags":{"type":"array","items":{"type":"string"}}}}`

func TestJSONSchema(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON})
	c := newCodec(t, r)
	doc, _ := json.Marshal(map[string]any{"amount": 3.5, "flagged": false, "country": "IT",
		"merchant": map[string]any{"risk": nil, "geo": map[string]any{"lat": 1.25}}, "tags": []string{"x"}})
	rec, err := c.Decode(frame(id, nil, doc))
	require.NoError(t, err)
	assert.Equal(t, []string{"amount", "country", "flagged", "merchant.geo.lat", "merchant.risk"}, rec.Layout.Names())
	assert.Equal(t, 3.5, rec.Features[0])
	assert.Equal(t, "IT", rec.Text[1])
	assert.Equal(t, 0.0, rec.Features[2])
	assert.Equal(t, 1.25, rec.Features[3])
	assert.True(t, math.IsNaN(rec.Features[4]))

	_, err = c.Decode(frame(id, nil, []byte(`{"amount":"lots"}`)))
	require.ErrorIs(t, err, ErrIncompatible)
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "amount", fe.Field)
	assert.ErrorIs(t, err, serving.ErrFieldType)
	_, err = c.Decode(frame(id, nil, []byte(`{"amount":1`)))
	assert.ErrorIs(t, err, ErrIncompatible)

	// A number beyond float64's range is refused, naming the field: too
	// large, or too small, which encoding/json read as 0 without a word.
	for _, num := range []string{"1e-400", "-2.5e-330", "1e400", "-1e309"} {
		_, err = c.Decode(frame(id, nil, []byte(`{"merchant":{"geo":{"lat":`+num+`}}}`)))
		require.ErrorIs(t, err, ErrIncompatible, num)
		require.ErrorAs(t, err, &fe, num)
		assert.Equal(t, "merchant.geo.lat", fe.Field, num)
		assert.ErrorIs(t, err, serving.ErrFieldType, num)
	}
	for num, want := range map[string]float64{"0": 0, "-0.0": 0, "0e-400": 0, "4.9e-324": 4.9e-324, "1e308": 1e308} {
		rec, err = c.Decode(frame(id, nil, []byte(`{"amount":`+num+`}`)))
		require.NoError(t, err, num)
		assert.Equal(t, want, rec.Features[0], num)
	}
}

func TestCacheIsBounded(t *testing.T) {
	r := newRegistry(t)
	c := newCodec(t, r, MaxSchemas(2))
	var ids []int
	for i := range 5 {
		s := `{"type":"record","name":"R` + string(rune('a'+i)) + `","fields":[{"name":"a","type":"double"}]}`
		ids = append(ids, r.register(t, "s"+string(rune('a'+i)), sr.Schema{Schema: s, Type: sr.TypeAvro}))
	}
	b := avro.MustParse(`"double"`)
	v, _ := avro.Marshal(b, 1.0)
	for _, id := range ids {
		_, err := c.Decode(frame(id, nil, v))
		require.NoError(t, err)
		assert.LessOrEqual(t, len(c.schemas), 2)
	}
}

func TestNewValidates(t *testing.T) {
	r := newRegistry(t)
	for name, f := range map[string]func() (*Codec, error){
		"nil client":  func() (*Codec, error) { return New(nil) },
		"max schemas": func() (*Codec, error) { return New(r.client, MaxSchemas(0)) },
		"attempts":    func() (*Codec, error) { return New(r.client, Retry(0, 0, time.Second)) },
		"timeout":     func() (*Codec, error) { return New(r.client, Retry(1, 0, 0)) },
		"zero rate":   func() (*Codec, error) { return New(r.client, FetchRate(0, 1)) },
		"NaN rate":    func() (*Codec, error) { return New(r.client, FetchRate(math.NaN(), 1)) },
		"inf rate":    func() (*Codec, error) { return New(r.client, FetchRate(math.Inf(1), 1)) },
		"zero burst":  func() (*Codec, error) { return New(r.client, FetchRate(1, 0)) },
		"nil option":  func() (*Codec, error) { return New(r.client, nil) },
		"score decoder's nil option": func() (*Codec, error) {
			d, err := NewScoreDecoder(r.client, MaxSchemas(2), nil)
			if d != nil {
				return d.c, err
			}
			return nil, err
		},
	} {
		_, err := f()
		assert.ErrorIs(t, err, serving.ErrConfig, name)
	}
	assert.True(t, errors.Is(&SchemaError{Err: ErrIncompatible}, kafka.ErrDecode))
}

// TestWrongRegistryURL: a server that is not a Schema Registry (here one
// answering 404 to every path, as a wrong host or path prefix does) is a
// registry that cannot be used, ErrUnavailable, not a registry that has
// no such schema: it used to be ErrUnknownSchema, kept for good, so that
// every record of every ID was dead-lettered as "unknown schema ID" with
// nothing to say the URL was wrong. Only the registry's own "schema not
// found" (error code 40403) means an unknown ID.
func TestWrongRegistryURL(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		http.NotFound(w, req)
	}))
	t.Cleanup(srv.Close)
	// The URL carries credentials, which the reason (a dead letter's
	// header, a log line) must not.
	cl, err := sr.NewClient(sr.URLs(strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)))
	require.NoError(t, err)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c, err := New(cl, Retry(2, time.Millisecond, time.Second))
	require.NoError(t, err)
	c.o.now = func() time.Time { return time.Unix(0, now.Load()) }

	_, err = c.Decode(frame(7, nil, []byte{2}))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.NotErrorIs(t, err, ErrUnknownSchema)
	assert.ErrorIs(t, err, kafka.ErrDecode)
	assert.Contains(t, err.Error(), "404")
	assert.Contains(t, err.Error(), "URL", "the reason points at the configuration")
	assert.Contains(t, err.Error(), "user:xxxxx@"+strings.TrimPrefix(srv.URL, "http://"), "the reason names the URL")
	assert.NotContains(t, err.Error(), "hunter2", "the reason names the URL without its password")

	// As for a registry that is down, the next records fail at once, and
	// the registry is asked again once the retry window has passed.
	n := hits.Load()
	_, err = c.Decode(frame(7, nil, []byte{2}))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, n, hits.Load(), "within the window the registry is not asked again")
	now.Add(int64(time.Hour))
	_, err = c.Decode(frame(7, nil, []byte{2}))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Greater(t, hits.Load(), n, "after the window the registry is asked again")
}

// TestUnknownSchemaIsAskedAgain: an ID the registry does not know yet is
// asked again once the retry window has passed. A registry's followers
// can lag its leader, so a producer's new schema may be "not found" for
// a moment where the consumer asks; the answer used to be kept for good,
// and every later record of that ID dead-lettered, until a restart.
func TestUnknownSchemaIsAskedAgain(t *testing.T) {
	r := newRegistry(t)
	s := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
	first := r.register(t, "r-value", sr.Schema{Schema: s, Type: sr.TypeAvro})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := newCodec(t, r, Retry(2, time.Millisecond, time.Second))
	c.o.now = func() time.Time { return time.Unix(0, now.Load()) }

	s2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"},{"name":"b","type":"double","default":0}]}`
	next := first + 1 // srfake numbers schemas in order
	b, _ := avro.Marshal(avro.MustParse(s2), map[string]any{"a": 1.5, "b": 2.5})
	_, err := c.Decode(frame(next, nil, b))
	require.ErrorIs(t, err, ErrUnknownSchema)
	_, err = c.Decode(frame(next, nil, b))
	require.ErrorIs(t, err, ErrUnknownSchema)
	assert.Equal(t, int64(1), r.byID.Load(), "within the window the answer is remembered")

	require.Equal(t, next, r.register(t, "r-value", sr.Schema{Schema: s2, Type: sr.TypeAvro}))
	now.Add(int64(time.Hour))
	rec, err := c.Decode(frame(next, nil, b))
	require.NoError(t, err, "once the window has passed, the registry is asked again")
	assert.Equal(t, []float64{1.5, 2.5}, rec.Features)
}

// decodeWithin runs c.Decode(v) and fails the test if it has not returned
// after a generous minute: a hang, not a slow machine.
func decodeWithin(t *testing.T, c *Codec, v []byte) (serving.Record, error) {
	t.Helper()
	type result struct {
		r   serving.Record
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.Decode(v)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(time.Minute):
		t.Fatal("Decode has not returned after a minute")
		return serving.Record{}, nil
	}
}

// TestAvroArrayOfNulls: an array of nulls takes no byte per item, so its
// block count is not bounded by the bytes left. A record claiming 2^62
// nulls decoded for ever, one loop turn per null, holding its partition
// (and every restart's) on one record; the nulls are now skipped whole.
func TestAvroArrayOfNulls(t *testing.T) {
	r := newRegistry(t)
	s := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"},{"name":"n","type":{"type":"array","items":"null"}}]}`
	id := r.register(t, "r-value", sr.Schema{Schema: s, Type: sr.TypeAvro})
	c := newCodec(t, r)
	good, err := avro.Marshal(avro.MustParse(s), map[string]any{"a": 1.5, "n": []any{nil, nil, nil}})
	require.NoError(t, err)
	rec, err := decodeWithin(t, c, frame(id, nil, good))
	require.NoError(t, err)
	assert.Equal(t, []float64{1.5}, rec.Features)

	payload := binary.LittleEndian.AppendUint64(nil, math.Float64bits(2.5))
	payload = binary.AppendVarint(payload, 1<<62) // 2^62 nulls
	payload = append(payload, 0)                  // end of the array
	rec, err = decodeWithin(t, c, frame(id, nil, payload))
	require.NoError(t, err)
	assert.Equal(t, []float64{2.5}, rec.Features)
}

// TestSchemaFlatteningIsBounded: a schema that reuses a named type in
// several fields, level after level, flattens to exponentially many
// fields (here 8^6 = 262,144 from 8 small type declarations; a recursive
// Protobuf message with two fields of its own type, to 2^32 before the
// depth bound stops it). Compiling it would take the memory and time of
// every one of them, on the first record of that schema; it is refused as
// ErrUnsupported instead.
func TestSchemaFlatteningIsBounded(t *testing.T) {
	r := newRegistry(t)
	wide := wideAvro(6, 8)
	if _, err := avro.Parse(wide); err != nil {
		t.Fatalf("the test's schema: %v", err)
	}
	id := r.register(t, "wide-value", sr.Schema{Schema: wide, Type: sr.TypeAvro})
	c := newCodec(t, r)
	_, err := decodeWithin(t, c, frame(id, nil, []byte{0}))
	require.ErrorIs(t, err, ErrUnsupported)

	pid := r.register(t, "wide-proto-value", sr.Schema{Schema: wideProto(6, 8), Type: sr.TypeProtobuf})
	_, err = decodeWithin(t, c, frame(pid, []int{0}, nil))
	require.ErrorIs(t, err, ErrUnsupported)

	tree := `syntax = "proto3"; message Node { double v = 1; Node left = 2; Node right = 3; }`
	tid := r.register(t, "tree-value", sr.Schema{Schema: tree, Type: sr.TypeProtobuf})
	_, err = decodeWithin(t, c, frame(tid, []int{0}, nil))
	require.ErrorIs(t, err, ErrUnsupported)

	// A JSON Schema is bounded the same way, as ErrUnsupported says: one
	// of 20,000 properties compiled to a layout of 20,000 fields, which
	// each record, "{}" too, allocated and walked.
	props := make([]string, 20000)
	for i := range props {
		props[i] = fmt.Sprintf(`"p%d":{"type":"number"}`, i)
	}
	jid := r.register(t, "wide-json-value", sr.Schema{Schema: `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`, Type: sr.TypeJSON})
	_, err = decodeWithin(t, c, frame(jid, nil, []byte(`{}`)))
	require.ErrorIs(t, err, ErrUnsupported)
}

// wideAvro returns an Avro schema of levels record types, each with fan
// fields of the next type (declared in the first of them, named
// afterwards), the last with fan doubles: fan^levels leaves.
func wideAvro(levels, fan int) string {
	var b strings.Builder
	var open func(level int)
	open = func(level int) {
		fmt.Fprintf(&b, `{"type":"record","name":"L%d","fields":[`, level)
		for i := range fan {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name":"f%d","type":`, i)
			switch {
			case level == levels-1:
				b.WriteString(`"double"`)
			case i == 0:
				open(level + 1)
			default:
				fmt.Fprintf(&b, `"L%d"`, level+1)
			}
			b.WriteString("}")
		}
		b.WriteString("]}")
	}
	open(0)
	return b.String()
}

// wideProto is wideAvro in Protobuf: messages M0 to M(levels-1).
func wideProto(levels, fan int) string {
	var b strings.Builder
	b.WriteString(`syntax = "proto3";` + "\n")
	for level := range levels {
		fmt.Fprintf(&b, "message M%d {", level)
		for i := range fan {
			typ := fmt.Sprintf("M%d", level+1)
			if level == levels-1 {
				typ = "double"
			}
			fmt.Fprintf(&b, " %s f%d = %d;", typ, i, i+1)
		}
		b.WriteString(" }\n")
	}
	return b.String()
}

// TestAvroSchemasDoNotShareNames: each registered schema is read on its
// own. A schema that uses a named type it does not define is refused
// (ErrUnsupported), even after another schema defined that name. The
// codec parsed with hamba/avro's process-wide cache of named types, so
// such a schema silently took the definition of whichever schema, of any
// subject, had been parsed last with that name; and the cache kept every
// name ever parsed, whatever MaxSchemas said.
func TestAvroSchemasDoNotShareNames(t *testing.T) {
	r := newRegistry(t)
	definer := `{"type":"record","name":"DefinesShared","fields":[{"name":"m","type":{"type":"record","name":"SharedOnlyHere","fields":[{"name":"a","type":"double"}]}}]}`
	did := r.register(t, "definer-value", sr.Schema{Schema: definer, Type: sr.TypeAvro})
	user := `{"type":"record","name":"UsesShared","fields":[{"name":"m","type":"SharedOnlyHere"}]}`
	uid := r.register(t, "user-value", sr.Schema{Schema: user, Type: sr.TypeAvro})
	c := newCodec(t, r)
	b := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5))
	rec, err := c.Decode(frame(did, nil, b))
	require.NoError(t, err)
	assert.Equal(t, []float64{1.5}, rec.Features)
	rec, err = c.Decode(frame(uid, nil, b))
	require.ErrorIs(t, err, ErrUnsupported, "decoded %v with a type its schema does not define", rec.Features)
}

// TestCompilerPanicReleasesTheSchema: a compiler that panics on a schema
// (none is known to, but they parse text a hostile writer registered)
// refuses that schema ID like an unsupported one, and the records of the
// ID that follow get the same error instead of waiting for good on a
// fetch that never finished.
func TestCompilerPanicReleasesTheSchema(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "boom", sr.Schema{Schema: avroV1, Type: sr.TypeAvro})
	was := compilers[sr.TypeAvro]
	compilers[sr.TypeAvro] = func(string) (plan, error) { panic("hostile schema") }
	t.Cleanup(func() { compilers[sr.TypeAvro] = was })
	c, err := New(r.client)
	require.NoError(t, err)
	v := frame(id, nil, []byte{0})

	first := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("Decode panicked: %v", p)
			}
		}()
		_, err = c.Decode(v)
		return err
	}()
	require.ErrorIs(t, first, ErrUnsupported)
	require.ErrorIs(t, first, kafka.ErrDecode)

	done := make(chan error, 1)
	go func() { _, err := c.Decode(v); done <- err }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrUnsupported)
	case <-time.After(time.Minute): // a guard against hanging, not a timing assertion
		t.Fatal("the second record of the schema waits for a fetch that panicked")
	}
	assert.EqualValues(t, 1, r.byID.Load(), "the refusal is remembered, not fetched again")
}

// TestRandomSchemaIDFloodIsRateLimited: records naming random schema IDs
// cost at most FetchRate's burst of registry requests, then its rate;
// the others fail at once with ErrUnavailable, and the schema in use
// stays cached, however many unknown IDs went by. Before, every new ID
// was a registry GET (2,000 records, 2,000 requests), and the unknown
// IDs filled the cache, whose emptying evicted the good schema too.
func TestRandomSchemaIDFloodIsRateLimited(t *testing.T) {
	r := newRegistry(t)
	s := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
	id := r.register(t, "r-value", sr.Schema{Schema: s, Type: sr.TypeAvro})
	good, _ := avro.Marshal(avro.MustParse(s), map[string]any{"a": 1.5})
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := newCodec(t, r, FetchRate(5, 20), MaxSchemas(8))
	c.o.now = func() time.Time { return time.Unix(0, now.Load()) }
	_, err := c.Decode(frame(id, nil, good))
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(1, 2))
	limited := 0
	for range 2000 {
		_, err := c.Decode(frame(100000+rng.IntN(1<<30), nil, []byte{2}))
		require.ErrorIs(t, err, kafka.ErrDecode)
		var se *SchemaError
		require.ErrorAs(t, err, &se)
		if errors.Is(err, ErrUnavailable) {
			limited++
			assert.Contains(t, err.Error(), "FetchRate")
		} else {
			require.ErrorIs(t, err, ErrUnknownSchema)
		}
	}
	assert.Equal(t, int64(20), r.byID.Load(), "the burst: the good schema's fetch and 19 unknown IDs")
	assert.Equal(t, 2000-19, limited)

	// The rate refills the allowance: 2 seconds at 5 a second.
	now.Add(int64(2 * time.Second))
	for range 50 {
		_, _ = c.Decode(frame(100000+rng.IntN(1<<30), nil, []byte{2}))
	}
	assert.Equal(t, int64(20+10), r.byID.Load())

	// The good schema is still cached: its records decode, with no fetch.
	rec, err := c.Decode(frame(id, nil, good))
	require.NoError(t, err)
	assert.Equal(t, []float64{1.5}, rec.Features)
	assert.Equal(t, int64(30), r.byID.Load())
}

// TestJSONSchemaPropertyOfSeveralTypes: a property whose "type" lists
// several types takes a value of any of them. "a" may be a number or a
// string, "b" an object or a number: an object at "b" leaves the number
// "b" missing (and fills "b.c"), a number fills it. Before, each listed
// type made a leaf of its own at the same position, so every record
// failed one of them: a number at "a" was refused as "want a string".
func TestJSONSchemaPropertyOfSeveralTypes(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "multi-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{
		"a":{"type":["number","string"]},
		"b":{"type":["object","number","null"],"properties":{"c":{"type":"number"}}}}}`})
	c := newCodec(t, r)
	rec, err := c.Decode(frame(id, nil, []byte(`{"a":1.5,"b":{"c":2}}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "b.c"}, rec.Layout.Names())
	assert.Equal(t, 1.5, rec.Features[0])
	assert.True(t, math.IsNaN(rec.Features[1]), "an object at b leaves the number b missing")
	assert.Equal(t, 2.0, rec.Features[2])

	rec, err = c.Decode(frame(id, nil, []byte(`{"a":"x","b":3}`)))
	require.NoError(t, err)
	assert.Equal(t, "x", rec.Text[0])
	assert.Equal(t, 3.0, rec.Features[1])
	assert.True(t, math.IsNaN(rec.Features[2]))

	// A type the schema does not list is still refused, naming the field.
	_, err = c.Decode(frame(id, nil, []byte(`{"a":true}`)))
	require.NoError(t, err, "a boolean is a number to a number property")
	_, err = c.Decode(frame(id, nil, []byte(`{"a":[1]}`)))
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "a", fe.Field)
	_, err = c.Decode(frame(id, nil, []byte(`{"b":"x"}`)))
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "b", fe.Field)
}

// TestJSONSchemaCombinators: the branches of oneOf, anyOf and allOf
// share their schema's path, as an Avro union's branches do. Confluent's
// Java serializer writes a nullable field as a oneOf of null and the
// field's type; such a field was left out of the layout, so a model
// whose input it is could not bind to the records of Java producers.
func TestJSONSchemaCombinators(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "comb-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","title":"Txn","properties":{
		"amount":{"oneOf":[{"type":"null","title":"Not included"},{"type":"number"}]},
		"country":{"anyOf":[{"type":"string"},{"type":"null"}]},
		"merchant":{"oneOf":[{"type":"null"},{"type":"object","properties":{"risk":{"type":"number"}}}]},
		"extra":{"allOf":[{"type":"object"},{"properties":{"x":{"type":"string"}}},{"properties":{"x":{"type":"number"},"y":{"type":"boolean"}}}]}}}`})
	c := newCodec(t, r)
	rec, err := c.Decode(frame(id, nil, []byte(`{"amount":3.5,"country":"IT","merchant":{"risk":0.25},"extra":{"x":"a","y":true}}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"amount", "country", "extra.x", "extra.y", "merchant.risk"}, rec.Layout.Names())
	assert.Equal(t, 3.5, rec.Features[0])
	assert.Equal(t, "IT", rec.Text[1])
	assert.Equal(t, "a", rec.Text[2])
	assert.Equal(t, 1.0, rec.Features[3])
	assert.Equal(t, 0.25, rec.Features[4])

	rec, err = c.Decode(frame(id, nil, []byte(`{"amount":null,"merchant":null,"extra":{"x":2}}`)))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(rec.Features[0]))
	assert.Equal(t, 2.0, rec.Features[2], "x is a string in one branch and a number in another")
	assert.True(t, math.IsNaN(rec.Features[4]))

	for _, v := range []string{`{"amount":"x"}`, `{"merchant":1}`, `{"country":2}`} {
		_, err = c.Decode(frame(id, nil, []byte(v)))
		require.ErrorIs(t, err, ErrIncompatible, v)
		require.ErrorIs(t, err, serving.ErrFieldType, v)
	}
}

// TestJSONSchemaDottedNamesCollide: a JSON property name may hold a
// dot, so "a.b" and the b of an object a name one path; such a schema is
// refused (ErrUnsupported) rather than read. Both fed the one field "a.b",
// the last one present in the document winning, so which value a model
// saw depended on the record.
func TestJSONSchemaDottedNamesCollide(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "dots-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{
		"a.b":{"type":"number"},"a":{"type":"object","properties":{"b":{"type":"number"}}}}}`})
	c := newCodec(t, r)
	_, err := c.Decode(frame(id, nil, []byte(`{"a.b":1,"a":{"b":2}}`)))
	require.ErrorIs(t, err, ErrUnsupported)

	// A dotted name alone is a field of that name.
	id = r.register(t, "dot-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"a.b":{"type":"number"}}}`})
	rec, err := c.Decode(frame(id, nil, []byte(`{"a.b":1}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"a.b"}, rec.Layout.Names())
}

// TestJSONSchemaObjectPropertyIsAnObject: a property whose schema is an
// object holds an object (or null, or nothing); a number, string or
// array there is a value of a type the schema does not list, refused
// naming the property, as a number property holding a string is. It
// was taken, and every field under it left missing.
func TestJSONSchemaObjectPropertyIsAnObject(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON})
	c := newCodec(t, r)
	for _, v := range []string{`{"merchant":5}`, `{"merchant":"x"}`, `{"merchant":[1]}`, `{"merchant":true}`, `{"merchant":{"geo":1}}`} {
		_, err := c.Decode(frame(id, nil, []byte(v)))
		require.ErrorIs(t, err, ErrIncompatible, v)
		var fe *serving.FieldError
		require.ErrorAs(t, err, &fe, v)
		assert.Contains(t, []string{"merchant", "merchant.geo"}, fe.Field, v)
		assert.ErrorIs(t, err, serving.ErrFieldType, v)
	}
	for _, v := range []string{`{"merchant":null}`, `{"merchant":{}}`, `{"merchant":{"geo":null}}`, `{}`} {
		rec, err := c.Decode(frame(id, nil, []byte(v)))
		require.NoError(t, err, v)
		assert.True(t, math.IsNaN(rec.Features[3]), v)
	}
	// An object or an array, where the schema lists both.
	id = r.register(t, "either-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"m":{"type":["object","array"],"properties":{"x":{"type":"number"}}}}}`})
	for _, v := range []string{`{"m":[1]}`, `{"m":{"x":1}}`} {
		_, err := c.Decode(frame(id, nil, []byte(v)))
		require.NoError(t, err, v)
	}
	_, err := c.Decode(frame(id, nil, []byte(`{"m":1}`)))
	require.ErrorIs(t, err, ErrIncompatible)
}

// TestJSONSchemaValueIsOneObject: the JSON of a record is one object
// and nothing else. A closing bracket or brace after it ("{...}}",
// "{...}]"), which json.Decoder.More does not count as data, was
// accepted, and so was "null", which decoded into a record with every
// feature missing: a model scored bytes that are not a record of the
// schema instead of their being dead-lettered.
func TestJSONSchemaValueIsOneObject(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "txn-value", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON})
	c := newCodec(t, r)
	for _, v := range []string{`{"amount":1}}`, `{"amount":1}]`, `{"amount":1} ]`, `{"amount":1}{}`, `{"amount":1} x`, `null`, ` null `, `[]`, `1`, `"x"`, ``} {
		_, err := c.Decode(frame(id, nil, []byte(v)))
		require.ErrorIs(t, err, ErrIncompatible, "%q", v)
		require.ErrorIs(t, err, kafka.ErrDecode, "%q", v)
		var se *SchemaError
		require.ErrorAs(t, err, &se, "%q", v)
		assert.Equal(t, id, se.ID)
	}
	for _, v := range []string{`{"amount":1}`, " {\"amount\":1}\r\n\t ", `{}`} {
		_, err := c.Decode(frame(id, nil, []byte(v)))
		require.NoError(t, err, "%q", v)
	}
}

// TestProtobufRefusedMessageTypeIsRemembered: a message type of a
// compiled Protobuf schema that flattens past the node bound is refused
// once, and the refusal is kept with the schema's plan like a type that
// compiled. It was refused and forgotten, so each of its records walked
// the type again up to the bound (16,384 nodes, their paths and maps):
// tens of thousands of allocations per record instead of a few. The
// other message types of the schema still decode.
func TestProtobufRefusedMessageTypeIsRemembered(t *testing.T) {
	r := newRegistry(t)
	id := r.register(t, "wide-proto-value", sr.Schema{Schema: wideProto(6, 8), Type: sr.TypeProtobuf})
	c := newCodec(t, r)
	wide := frame(id, []int{0}, nil) // M0: 8^5 leaves
	_, err := decodeWithin(t, c, wide)
	require.ErrorIs(t, err, ErrUnsupported)

	allocs := testing.AllocsPerRun(10, func() {
		if _, err := c.Decode(wide); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("decode again: %v, want ErrUnsupported", err)
		}
	})
	if allocs > 100 {
		t.Errorf("a record of the refused message type costs %.0f allocations: its type is compiled again", allocs)
	}
	assert.EqualValues(t, 1, r.byID.Load(), "the schema is fetched once")

	// M5 is 8 doubles; M4 8 fields of M5: both under the bound.
	leaf := frame(id, []int{5}, protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), math.Float64bits(2.5)))
	rec, err := c.Decode(leaf)
	require.NoError(t, err)
	assert.Equal(t, 2.5, rec.Features[0])
	rec, err = c.Decode(frame(id, []int{4}, nil))
	require.NoError(t, err)
	assert.Equal(t, 64, rec.Layout.Len())
}

// TestRegistryAskingToWaitIsRetried: a registry that asks to be tried
// later, with 429 (a rate limit, which Confluent Cloud's registry
// applies) or 408, is retried under the Retry policy, as a 5xx is, and
// as NewAvroScores reads those answers. A 429 failed the record at once
// with ErrUnavailable, and every record of its schema ID for the whole
// retry window after it (21 s by default), each one dead-lettered.
func TestRegistryAskingToWaitIsRetried(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := newRegistry(t)
			s := `{"type":"record","name":"R","fields":[{"name":"a","type":"double"}]}`
			id := r.register(t, "r-value", sr.Schema{Schema: s, Type: sr.TypeAvro})
			b, _ := avro.Marshal(avro.MustParse(s), map[string]any{"a": 1.5})
			c := newCodec(t, r, Retry(3, time.Millisecond, time.Second))

			r.refusal.Store(int64(code))
			r.refuse.Store(2)
			rec, err := c.Decode(frame(id, nil, b))
			require.NoError(t, err, "two refusals, then the schema on the third attempt")
			assert.Equal(t, []float64{1.5}, rec.Features)
			assert.EqualValues(t, 3, r.byID.Load())

			// Refused at every attempt, it is ErrUnavailable naming the
			// answer, and the URL without the password it may carry: the
			// reason goes into dead letters and logs.
			withPassword, err := sr.NewClient(sr.URLs(strings.Replace(r.url, "http://", "http://user:hunter2@", 1)))
			require.NoError(t, err)
			c2, err := New(withPassword, Retry(3, time.Millisecond, time.Second))
			require.NoError(t, err)
			r.refuse.Store(3)
			_, err = c2.Decode(frame(id, nil, b))
			require.ErrorIs(t, err, ErrUnavailable)
			assert.Contains(t, err.Error(), strconv.Itoa(code))
			assert.Contains(t, err.Error(), "user:xxxxx@")
			assert.NotContains(t, err.Error(), "hunter2")
			assert.EqualValues(t, 6, r.byID.Load(), "three attempts")
		})
	}
}

// TestRegistryPasswordStaysOutOfReasons: a registry URL may carry its
// credentials (http://user:password@host); a registry that cannot be
// reached fails the record with a reason, written into its dead letter
// and the log, that names the URL without the password. sr's error
// quoted it whole.
func TestRegistryPasswordStaysOutOfReasons(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there now
	cl, err := sr.NewClient(sr.URLs("http://user:hunter2@" + addr))
	require.NoError(t, err)
	c, err := New(cl, Retry(1, time.Millisecond, time.Second))
	require.NoError(t, err)
	_, err = c.Decode(frame(7, nil, []byte{2}))
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), addr, "the reason names the registry")
	assert.NotContains(t, err.Error(), "hunter2")
}

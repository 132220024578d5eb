package kafka

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestAppendScore checks the hand-written Score encoding against
// encoding/json, byte for byte.
func TestAppendScore(t *testing.T) {
	s := &Sink{o: sinkOptions{}}
	ref := serving.ModelRef{Name: "fraud", Version: 3, ID: "ab12", Format: "linear"}
	dec := &serving.Decision{Combinator: "split", Variant: "b", Winner: 0, Candidates: []serving.Candidate{{Model: ref}}}
	for _, tc := range []struct {
		in  sarama.ConsumerMessage
		res serving.Result
	}{
		{sarama.ConsumerMessage{Key: []byte("k1"), Topic: "data", Partition: 3, Offset: 99}, serving.Result{Prediction: serving.Prediction{Value: 0.25}, Provenance: serving.Provenance{Model: ref}}},
		{sarama.ConsumerMessage{Topic: "data"}, serving.Result{Prediction: serving.Prediction{Value: -1e-9, Label: "fraud", Confidence: 0.5}, Provenance: serving.Provenance{Model: ref}}},
		{sarama.ConsumerMessage{Key: []byte("k\"<>\n€"), Topic: "t"}, serving.Result{Prediction: serving.Prediction{Value: 1e21}, Provenance: serving.Provenance{Model: ref}}},
		{sarama.ConsumerMessage{Key: []byte("k"), Topic: "t"}, serving.Result{Prediction: serving.Prediction{Value: 123456789.125, Values: []float64{1, 2}}, Provenance: serving.Provenance{Model: ref}}},
		{sarama.ConsumerMessage{Key: []byte("k"), Topic: "t"}, serving.Result{Prediction: serving.Prediction{Value: 7}, Provenance: serving.Provenance{Model: ref, Decision: dec}}},
		{sarama.ConsumerMessage{Key: []byte("k"), Topic: "t"}, serving.Result{Prediction: serving.Prediction{Value: 0, Label: "é"}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m"}}}},
	} {
		got, err := appendScore(nil, s.cachedProvenance(tc.res.Provenance), &tc.in, &tc.res)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(wire.Score{Prediction: tc.res.Prediction, Provenance: tc.res.Provenance, Key: string(tc.in.Key), Topic: tc.in.Topic, Partition: tc.in.Partition, Offset: tc.in.Offset})
		if string(got) != string(want) {
			t.Errorf("appendScore:\n got %s\nwant %s", got, want)
		}
	}
	if _, err := appendScore(nil, s.cachedProvenance(serving.Provenance{Model: ref}), &sarama.ConsumerMessage{}, &serving.Result{Prediction: serving.Prediction{Value: math.NaN()}}); err == nil {
		t.Error("NaN encoded")
	}
}

func BenchmarkAppendScore(b *testing.B) {
	s := &Sink{o: sinkOptions{}}
	ref := serving.ModelRef{Name: "fraud", Version: 3, ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Format: "linear"}
	in := &sarama.ConsumerMessage{Key: []byte("k123"), Topic: "data", Partition: 3, Offset: 12345}
	res := serving.Result{Prediction: serving.Prediction{Value: 0.123456789}, Provenance: serving.Provenance{Model: ref}}
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf, _ = appendScore(buf[:0], s.cachedProvenance(res.Provenance), in, &res)
	}
}

// TestOversizedOutputs: a score too large for the producer becomes a dead
// letter, and a dead letter too large loses the input's value, then its
// key, rather than being refused by the producer.
func TestOversizedOutputs(t *testing.T) {
	s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq"}, max: 900}
	in := &sarama.ConsumerMessage{Topic: "data", Offset: 7, Key: make([]byte, 200), Value: []byte("[1]")}
	for i := range in.Key {
		in.Key[i] = 'k'
	}
	res := serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1, ID: "abc"}}}
	m, err := s.scoreMessage(in, res)
	if err != nil || m.Topic != "scores" {
		t.Fatalf("small score: %v, topic %s", err, m.Topic)
	}
	in.Key = append(in.Key, in.Key...) // the key is written twice: as key and in the JSON
	m, err = s.scoreMessage(in, res)
	if err == nil || m.Topic != "dlq" || m.ByteSize(2) > s.max {
		t.Fatalf("big score: %v, topic %s, %d bytes", err, m.Topic, m.ByteSize(2))
	}
	in.Value = make([]byte, 500)
	m = s.deadLetterMessage(in, wire.StageDecode, errors.New("bad"))
	if m.Value != nil || m.Key == nil || m.ByteSize(2) > s.max || string(m.Headers[len(m.Headers)-1].Value) != "500" {
		t.Fatalf("big dead letter: %d bytes, headers %v", m.ByteSize(2), m.Headers)
	}
	in.Key = make([]byte, 1000)
	m = s.deadLetterMessage(in, wire.StageDecode, errors.New("bad"))
	if m.Value != nil || m.Key != nil || m.ByteSize(2) > s.max {
		t.Fatalf("dead letter with a big key: %d bytes, headers %v", m.ByteSize(2), m.Headers)
	}
	// A reason longer than the limit by itself is cut to fit, at a
	// UTF-8 boundary.
	m = s.deadLetterMessage(in, wire.StageDecode, errors.New(strings.Repeat("é", 1000)))
	if reason := string(m.Headers[0].Value); m.ByteSize(2) > s.max || !strings.HasSuffix(reason, "é...") || !utf8.ValidString(reason) {
		t.Fatalf("dead letter with a long reason: %d bytes, reason %q", m.ByteSize(2), reason)
	}
}

// TestInternIsBounded: a stream of ever new key sets cannot grow the
// intern table past maxLayouts, and decoding goes on.
func TestInternIsBounded(t *testing.T) {
	for i := range maxLayouts + 100 {
		r, err := JSON{}.Decode([]byte(`{"field_` + strconv.Itoa(i) + `": 1}`))
		if err != nil || r.Layout == nil {
			t.Fatalf("record %d: %v", i, err)
		}
		layouts.RLock()
		n := len(layouts.m)
		layouts.RUnlock()
		if n > maxLayouts {
			t.Fatalf("%d layouts interned, bound %d", n, maxLayouts)
		}
	}
}

// TestInternIsBoundedInBytes: the intern table is bounded in bytes of
// field names too, not only in layouts. A record's names may take a
// whole record (a 1 MiB key is one Kafka takes by default), so 4096
// layouts of such records held gigabytes; here 40 records of one
// 512 KiB name held 20 MiB of keys, above the bound.
func TestInternIsBoundedInBytes(t *testing.T) {
	name := strings.Repeat("n", 512<<10)
	for i := range 40 {
		r, err := JSON{}.Decode([]byte(`{"` + name + strconv.Itoa(i) + `": 1}`))
		if err != nil || r.Layout == nil {
			t.Fatalf("record %d: %v", i, err)
		}
		layouts.RLock()
		n := 0
		for k := range layouts.m {
			n += len(k)
		}
		layouts.RUnlock()
		if n > maxLayoutBytes {
			t.Fatalf("record %d: %d bytes of names interned, bound %d", i, n, maxLayoutBytes)
		}
	}
}

// TestScoreKeyNotUTF8: a key that is not valid UTF-8 cannot travel in a
// JSON string unchanged (encoding/json writes U+FFFD for each bad byte,
// so distinct keys came out alike); the score carries it in key_base64,
// and InputKey gives back the input's bytes.
func TestScoreKeyNotUTF8(t *testing.T) {
	s := &Sink{o: sinkOptions{}}
	res := serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}}
	seen := map[string]bool{}
	for _, key := range [][]byte{{0xff}, {0xfe}, {'a', 0xc3}, []byte("ok-é"), nil} {
		got, err := appendScore(nil, s.cachedProvenance(res.Provenance), &sarama.ConsumerMessage{Key: key, Topic: "t"}, &res)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := wire.DecodeScore(wire.Message{Value: got})
		if err != nil {
			t.Fatal(err)
		}
		if string(sc.InputKey()) != string(key) {
			t.Errorf("key %q came back as %q (%s)", key, sc.InputKey(), got)
		}
		if seen[string(got)] {
			t.Errorf("two keys encode alike: %s", got)
		}
		seen[string(got)] = true
	}
}

// TestAppendCompact checks the hand-written compact encoding against
// wire's, byte for byte, and that a score the fast path leaves to wire
// comes out the same.
func TestAppendCompact(t *testing.T) {
	for _, tc := range []struct {
		in sarama.ConsumerMessage
		p  serving.Prediction
	}{
		{sarama.ConsumerMessage{Key: []byte("k1"), Topic: "data", Partition: 3, Offset: 99}, serving.Prediction{Value: 0.25}},
		{sarama.ConsumerMessage{Topic: "data"}, serving.Prediction{Value: -1e-9, Label: "fraud", Confidence: 0.5}},
		{sarama.ConsumerMessage{Key: []byte{0xff}, Topic: "t", Offset: 1 << 40}, serving.Prediction{Value: 1e21}},
		{sarama.ConsumerMessage{Topic: "t"}, serving.Prediction{Value: 123456789.125, Values: []float64{1, 2}}},
		{sarama.ConsumerMessage{Topic: "t"}, serving.Prediction{Value: 0, Label: "é<"}},
	} {
		got, err := appendCompact(nil, &tc.in, &serving.Result{Prediction: tc.p})
		if err != nil {
			t.Fatal(err)
		}
		want, err := wire.ScoreCompact.AppendScore(nil, &wire.Score{Prediction: tc.p, Topic: tc.in.Topic, Partition: tc.in.Partition, Offset: tc.in.Offset})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("appendCompact:\n got %s\nwant %s", got, want)
		}
	}
	if _, err := appendCompact(nil, &sarama.ConsumerMessage{}, &serving.Result{Prediction: serving.Prediction{Value: math.NaN()}}); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("NaN: %v", err)
	}
}

func BenchmarkAppendCompact(b *testing.B) {
	in := &sarama.ConsumerMessage{Key: []byte("k123"), Topic: "data", Partition: 3, Offset: 12345}
	res := serving.Result{Prediction: serving.Prediction{Value: 0.123456789}}
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf, _ = appendCompact(buf[:0], in, &res)
	}
}

// FuzzParseShort: the fast path of parseNumber returns what
// strconv.ParseFloat returns, bit for bit, for every number it takes.
func FuzzParseShort(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.25", "-3", "0.1", "123456789012345", "9007199254740993", "0.000000000000001", "1.", ".5", "01", "-", "1e5", "4e-2", "1.5E+22", "9e22", "123456789012345e-22", "1e-23", "1e", "1e+", "0e999", "-0.0e-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseShort([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: fast %v (%x), strconv %v (%x), %v", s, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	})
}

func BenchmarkParseNumber(b *testing.B) {
	nums := [][]byte{[]byte("12345"), []byte("0.5"), []byte("1.25"), []byte("-3"), []byte("4e-2"), []byte("5"), []byte("6.5"), []byte("7")}
	b.Run("parseNumber", func(b *testing.B) {
		for b.Loop() {
			for _, n := range nums {
				parseNumber(n)
			}
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for b.Loop() {
			for _, n := range nums {
				strconv.ParseFloat(string(n), 64)
			}
		}
	})
}

// FuzzParseArray: the one-pass parse of a JSON array agrees with the
// careful one on every array it accepts, and accepts every array the
// careful one does that is made of numbers, commas and JSON's spaces.
func FuzzParseArray(f *testing.F) {
	for _, s := range []string{"[1, 2.5, -3]", "[ ]", "[]", "[1,]", "[,1]", "[1 2]", "[ 4e-2 ,5\n]", "[1,\u00a02]", "[\t-0.000001 ]", "[1e400]", "[0e5,1E-2]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) < 2 || v[0] != '[' {
			return
		}
		fast, ok := parseArrayFast(v, nil)
		slow, err := parseArraySlow(v)
		if ok && (err != nil || len(fast) != len(slow)) {
			t.Fatalf("%q: fast %v, slow %v, %v", v, fast, slow, err)
		}
		if ok {
			for i := range fast {
				if math.Float64bits(fast[i]) != math.Float64bits(slow[i]) {
					t.Fatalf("%q: [%d] fast %v, slow %v", v, i, fast[i], slow[i])
				}
			}
		}
		plain := true
		for _, c := range v[1 : len(v)-1] {
			plain = plain && (c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
		}
		if !ok && err == nil && plain {
			t.Fatalf("%q: slow accepts %v, fast gives up", v, slow)
		}
	})
}

func BenchmarkParseArray(b *testing.B) {
	v := []byte("[12345, 0.5, 1.25, -3, 4e-2, 5, 6.5, 7]")
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			parseArrayFast(v, nil)
		}
	})
	b.Run("slow", func(b *testing.B) {
		for b.Loop() {
			parseArraySlow(v)
		}
	})
}

// TestParseShortAgreesWithStrconv draws numbers of the shapes the fast
// path takes, near its limits (15 digits, exponents up to ±30), and
// checks each against strconv.ParseFloat, bit for bit.
func TestParseShortAgreesWithStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for range 200_000 {
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		n := 1 + r.IntN(16)
		for range n {
			b = append(b, byte('0'+r.IntN(10)))
		}
		if p := r.IntN(n + 1); p > 0 && p < n {
			b = append(b[:len(b)-n+p], append([]byte{'.'}, b[len(b)-n+p:]...)...)
		}
		if r.IntN(2) == 0 {
			b = append(b, "eE"[r.IntN(2)])
			b = append(b, []string{"", "+", "-"}[r.IntN(3)]...)
			b = strconv.AppendInt(b, int64(r.IntN(31)), 10)
		}
		got, ok := parseShort(b)
		if !ok {
			continue
		}
		taken++
		want, err := strconv.ParseFloat(string(b), 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s: fast %v, strconv %v, %v", b, got, want, err)
		}
	}
	if taken < 100_000 {
		t.Errorf("the fast path took only %d of 200000", taken)
	}
}

// growingEncoder writes a value of n+1 bytes for the score of offset n,
// so that values outgrow what a scoreSlab reserves from earlier ones.
type growingEncoder struct{}

func (growingEncoder) AppendScore(b []byte, s *wire.Score) ([]byte, error) {
	for i := range s.Offset + 1 {
		b = append(b, byte('a'+(s.Offset+i)%26))
	}
	return b, nil
}

// TestScoreSlab: the score records of one batch, taken from a scoreSlab,
// each keep their own value, whatever their lengths, with no capacity
// past it through which an append could overwrite the next; dead letters
// among them leave the slab as it was.
func TestScoreSlab(t *testing.T) {
	for _, enc := range []ScoreEncoder{wire.ScoreCompact, wire.ScoreJSON, growingEncoder{}} {
		s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq", enc: enc}, max: 700}
		ref := serving.ModelRef{Name: "m", Version: 1, ID: "abc"}
		const n = 300 // more than one chunk of records
		slab := newScoreSlab(n)
		var ms []*sarama.ProducerMessage
		var want []string
		for i := range n {
			in := &sarama.ConsumerMessage{Topic: "data", Partition: 2, Offset: int64(i % 40), Key: []byte("k" + strconv.Itoa(i))}
			v := float64(i) * 1.5
			if i%7 == 3 {
				v = math.NaN() // a dead letter
			}
			res := serving.Result{Prediction: serving.Prediction{Value: v}, Provenance: serving.Provenance{Model: ref}}
			m, err := s.scoreMessageIn(slab, in, &res)
			alone, aerr := s.scoreMessage(in, res)
			if (err == nil) != (aerr == nil) || m.Topic != alone.Topic {
				t.Fatalf("%T record %d: slab %v to %s, alone %v to %s", enc, i, err, m.Topic, aerr, alone.Topic)
			}
			got, _ := m.Value.Encode()
			ms = append(ms, m)
			w, _ := alone.Value.Encode()
			want = append(want, string(w))
			if cap(got) != len(got) && err == nil {
				t.Fatalf("%T record %d: value has capacity %d beyond its %d bytes", enc, i, cap(got), len(got))
			}
		}
		for i, m := range ms {
			got, _ := m.Value.Encode()
			if string(got) != want[i] {
				t.Fatalf("%T record %d: value %q, want %q", enc, i, got, want[i])
			}
		}
	}
}

// TestScoreSlabOutgrown: a value that outgrows the room left in a
// slab's buffer is moved by append; the slab then leaves its buffer as it
// was, rather than counting as used bytes that were never written.
func TestScoreSlabOutgrown(t *testing.T) {
	a := newScoreSlab(3)
	first := a.claim(append(a.value(8), "abcd"...)) // the first is on its own
	room := a.value(8)
	big := a.claim(append(room, make([]byte, cap(room)+1)...))
	if string(first) != "abcd" || len(big) != cap(room)+1 || len(a.buf) != 0 {
		t.Fatalf("values %q and %d bytes; %d bytes of the buffer used", first, len(big), len(a.buf))
	}
	next := a.claim(append(a.value(8), "wxyz"...))
	if string(next) != "wxyz" || string(first) != "abcd" {
		t.Fatalf("values %q, %q", first, next)
	}
}

// TestFloatSlab: records of one batch decoded with a floatSlab get the
// features Decode gives, each in a slice of its own that an append cannot
// extend into the next, for arrays of every length, and records too
// large to share an allocation alike.
func TestFloatSlab(t *testing.T) {
	const n = 200
	fs := newFloatSlab(n)
	var got [][]float64
	var want [][]float64
	for i := range n {
		k := 1 + i%23
		if i%50 == 7 {
			k = 5000 // too large to share
		}
		v := []byte("[")
		for j := range k {
			if j > 0 {
				v = append(v, ", "...)
			}
			v = strconv.AppendInt(v, int64(i*1000+j), 10)
		}
		v = append(v, ']')
		r, err := JSON{}.decode(v, fs)
		if err != nil {
			t.Fatal(err)
		}
		if cap(r.Features) != len(r.Features) {
			t.Fatalf("record %d: capacity %d for %d features", i, cap(r.Features), len(r.Features))
		}
		got = append(got, r.Features)
		w, _ := JSON{}.Decode(v)
		want = append(want, w.Features)
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("record %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestRecycledScoreSlab: a slab given back to its Sink lets go of its
// records' keys and acknowledgements while in the pool; taken again, it
// serves the next batch from the same records and buffer, with outputs
// as good as a fresh slab's.
func TestRecycledScoreSlab(t *testing.T) {
	s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq", enc: wire.ScoreCompact}, max: 1 << 20}
	ref := serving.ModelRef{Name: "m", Version: 1, ID: "abc"}
	res := func(i int) serving.Result {
		return serving.Result{Prediction: serving.Prediction{Value: float64(i)}, Provenance: serving.Provenance{Model: ref}}
	}
	const n = 50
	a := s.scoreSlab(n)
	for i := range n {
		r := res(i)
		m, err := s.scoreMessageIn(a, &sarama.ConsumerMessage{Topic: "data", Offset: int64(i), Key: []byte("k" + strconv.Itoa(i))}, &r)
		if err != nil {
			t.Fatal(err)
		}
		m.Metadata = &item{}
	}
	first, buf := &a.recs[0], &a.buf[:1][0]
	s.recycle(a) // as the Source does once Kafka has acknowledged them
	for i, r := range a.recs[:n] {
		if r.key != nil || r.m.Key != nil || r.m.Metadata != nil {
			t.Fatalf("recycled record %d still holds key %q, metadata %v", i, r.key, r.m.Metadata)
		}
	}
	a.reset(n) // as Sink.scoreSlab does when the pool hands a out again
	for i := range n {
		in := &sarama.ConsumerMessage{Topic: "data", Offset: int64(1000 + i)}
		if i%2 == 0 {
			in.Key = []byte("x")
		}
		r := res(1000 + i)
		m, err := s.scoreMessageIn(a, in, &r)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := s.scoreMessage(in, res(1000+i))
		got, _ := m.Value.Encode()
		w, _ := want.Value.Encode()
		k, _ := encoded(m.Key)
		wk, _ := encoded(want.Key)
		if string(got) != string(w) || string(k) != string(wk) || (m.Key == nil) != (in.Key == nil) {
			t.Fatalf("record %d: value %q key %q, want %q key %q", i, got, k, w, wk)
		}
	}
	if &a.recs[0] != first || &a.buf[:1][0] != buf {
		t.Error("the recycled slab allocated new records or a new buffer")
	}
}

func encoded(e sarama.Encoder) ([]byte, error) {
	if e == nil {
		return nil, nil
	}
	return e.Encode()
}

// TestRecycledScoreSlabHoldsNothing: a slab in the pool holds nothing of
// the batch it served. Its records kept their provenance headers (a
// combinator's are encoded per result, so they were that batch's own),
// their values and the messages' encoders, which pinned every value of
// a batch whose buffer recycle had just dropped as too large (over
// maxRecycled), and the values of the records past a later, smaller
// batch; a record written but never overwritten would still hold the
// previous batch's data. Each record must be zero once recycled.
func TestRecycledScoreSlabHoldsNothing(t *testing.T) {
	s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq", enc: wire.ScoreJSON}, max: 1 << 30}
	ref := serving.ModelRef{Name: "m", Version: 1, ID: "abc"}
	dec := &serving.Decision{Combinator: "vote", Winner: 0, Candidates: []serving.Candidate{{Model: ref}}}
	label := strings.Repeat("x", 64<<10)
	const n = 40 // 40 values of 64 KiB: a buffer past maxRecycled
	a := s.scoreSlab(n)
	for i := range n {
		res := serving.Result{Prediction: serving.Prediction{Value: float64(i), Label: label}, Provenance: serving.Provenance{Model: ref, Decision: dec}}
		m, err := s.scoreMessageIn(a, &sarama.ConsumerMessage{Topic: "data", Offset: int64(i), Key: []byte("k")}, &res)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Headers) == 0 {
			t.Fatal("a score without provenance headers")
		}
		m.Metadata = &item{}
	}
	if cap(a.buf) <= maxRecycled {
		t.Fatalf("the batch's buffer is %d bytes, want more than %d", cap(a.buf), maxRecycled)
	}
	s.recycle(a)
	if a.buf != nil {
		t.Fatalf("a buffer of %d bytes stayed with the recycled slab", cap(a.buf))
	}
	for i, r := range a.recs[:cap(a.recs)] {
		if !reflect.ValueOf(r).IsZero() {
			t.Fatalf("recycled record %d holds topic %q, %d headers, a value of %d bytes", i, r.m.Topic, len(r.m.Headers), len(r.value))
		}
	}
}

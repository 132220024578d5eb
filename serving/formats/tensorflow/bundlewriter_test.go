package tensorflow_test

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// A TensorBundle writer for tests only, after the public descriptions of
// the LevelDB table layout: it lets the tests build checkpoints that
// TensorFlow would write but the fixtures do not show (several shards,
// Snappy literals of every length form) and ones it never would.

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

func maskCRC(c uint32) uint32 { return (c>>15 | c<<17) + 0xa282ead8 }

type kv struct {
	key   string
	value []byte
}

// tableWriter writes one data block per call of block.
type tableWriter struct {
	buf    []byte
	index  []kv
	snappy bool // compress data blocks as Snappy literals
}

func blockBytes(entries []kv) []byte {
	var b []byte
	for _, e := range entries {
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, uint64(len(e.key)))
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.key...)
		b = append(b, e.value...)
	}
	b = binary.LittleEndian.AppendUint32(b, 0) // one restart, at 0
	return binary.LittleEndian.AppendUint32(b, 1)
}

// snappyLiterals encodes b as Snappy literals of up to 70 bytes, so that
// both the short and the one-byte-length literal forms appear.
func snappyLiterals(b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(len(b)))
	for len(b) > 0 {
		n := min(len(b), 70)
		if n <= 60 {
			out = append(out, byte(n-1)<<2)
		} else {
			out = append(out, 60<<2, byte(n-1))
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

func (w *tableWriter) raw(contents []byte, typ byte) (off, size int) {
	off, size = len(w.buf), len(contents)
	w.buf = append(w.buf, contents...)
	w.buf = append(w.buf, typ)
	c := crc32.Update(crc32.Checksum(contents, castagnoliTable), castagnoliTable, []byte{typ})
	w.buf = binary.LittleEndian.AppendUint32(w.buf, maskCRC(c))
	return off, size
}

func (w *tableWriter) block(entries ...kv) {
	contents, typ := blockBytes(entries), byte(0)
	if w.snappy {
		contents, typ = snappyLiterals(contents), 1
	}
	off, size := w.raw(contents, typ)
	h := binary.AppendUvarint(nil, uint64(off))
	w.index = append(w.index, kv{entries[len(entries)-1].key, binary.AppendUvarint(h, uint64(size))})
}

func (w *tableWriter) finish() []byte {
	moff, msize := w.raw(blockBytes(nil), 0)
	ioff, isize := w.raw(blockBytes(w.index), 0)
	foot := binary.AppendUvarint(nil, uint64(moff))
	foot = binary.AppendUvarint(foot, uint64(msize))
	foot = binary.AppendUvarint(foot, uint64(ioff))
	foot = binary.AppendUvarint(foot, uint64(isize))
	foot = append(foot, make([]byte, 40-len(foot))...)
	foot = binary.LittleEndian.AppendUint64(foot, 0xdb4775248b80fb57)
	return append(w.buf, foot...)
}

func marshal(t testing.TB, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scalarBundle writes the float32 scalars vals (in key order) into a
// bundle of shards shards, round robin, one data block per entry after
// the header's. edit may change each entry before it is written.
func scalarBundle(t testing.TB, header *tfpb.BundleHeaderProto, keys []string, vals []float32, snappy bool, edit func(i int, e *tfpb.BundleEntryProto)) (index []byte, data map[string][]byte) {
	w := &tableWriter{snappy: snappy}
	w.block(kv{"", marshal(t, header)})
	data = map[string][]byte{}
	n := max(int(header.GetNumShards()), 1)
	for i, k := range keys {
		shard := i % n
		name := "variables.data-0000" + string(rune('0'+shard)) + "-of-0000" + string(rune('0'+n))
		b := binary.LittleEndian.AppendUint32(nil, math.Float32bits(vals[i]))
		e := &tfpb.BundleEntryProto{Dtype: tfpb.DataType_DT_FLOAT, ShardId: int32(shard), Offset: int64(len(data[name])), Size: 4, Crc32C: maskCRC(crc32.Checksum(b, castagnoliTable))}
		e.Shape = &tfpb.TensorShapeProto{}
		if edit != nil {
			edit(i, e)
		}
		data[name] = append(data[name], b...)
		w.block(kv{k, marshal(t, e)})
	}
	return w.finish(), data
}

var (
	hp2Keys = []string{"a", "a2", "b", "c", "c2"}
	hp2Vals = []float32{0.5, 0.5, 2, 3, 3}
)

func bundleArchive(t testing.TB, pb, index []byte, data map[string][]byte) []byte {
	es := []entry{{name: "saved_model.pb", data: pb}, {name: "variables/variables.index", data: index}}
	for name, b := range data {
		es = append(es, entry{name: "variables/" + name, data: b})
	}
	return archive(t, es...)
}

// TestSavedModelWrittenBundles serves half_plus_two's graph with
// checkpoints written by the test writer: in one and in three shards,
// with blocks plain and Snappy compressed. Each computes y = 0.5x + 2.
func TestSavedModelWrittenBundles(t *testing.T) {
	pb, _, _ := halfPlusTwo(t)
	for _, shards := range []int32{1, 3} {
		for _, snappy := range []bool{false, true} {
			index, data := scalarBundle(t, &tfpb.BundleHeaderProto{NumShards: shards}, hp2Keys, hp2Vals, snappy, nil)
			m, err := loadSavedModel(t, bundleArchive(t, pb, index, data), nil)
			if err != nil {
				t.Fatalf("%d shards, snappy %v: %v", shards, snappy, err)
			}
			if p, err := m.Predict(t.Context(), []float64{6}); err != nil || p.Value != 5 {
				t.Fatalf("%d shards, snappy %v: f(6) = %v, %v", shards, snappy, p.Value, err)
			}
		}
	}
}

// TestSavedModelBadBundles writes checkpoints TensorFlow would not, or
// could not serve here: each is refused with the error of its kind.
func TestSavedModelBadBundles(t *testing.T) {
	pb, _, _ := halfPlusTwo(t)
	one := &tfpb.BundleHeaderProto{NumShards: 1}
	type edit = func(i int, e *tfpb.BundleEntryProto)
	cases := []struct {
		name   string
		header *tfpb.BundleHeaderProto
		keys   []string
		edit   edit
		kind   error
		words  []string
	}{
		{"big-endian", &tfpb.BundleHeaderProto{NumShards: 1, Endianness: tfpb.BundleHeaderProto_BIG}, hp2Keys, nil, serving.ErrUnsupportedModel, []string{"big-endian"}},
		{"sliced", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) { e.Slices = [][]byte{{}} }, serving.ErrUnsupportedModel, []string{"slices"}},
		{"no shards", &tfpb.BundleHeaderProto{}, hp2Keys, nil, serving.ErrCorruptModel, []string{"0 shards"}},
		{"huge shard count", &tfpb.BundleHeaderProto{NumShards: 1 << 30}, hp2Keys, nil, serving.ErrCorruptModel, []string{"shards"}},
		{"shard out of range", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) { e.ShardId = 7 }, serving.ErrCorruptModel, []string{"shard 7 of 1"}},
		{"negative offset", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) { e.Offset = -4 }, serving.ErrCorruptModel, []string{"outside"}},
		{"size past the end", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) { e.Size = math.MaxInt64 }, serving.ErrCorruptModel, []string{"outside"}},
		{"wrong size for the shape", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) {
			if i == 0 { // a scalar of 8 bytes: the values of a and a2
				b := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, math.Float32bits(hp2Vals[0])), math.Float32bits(hp2Vals[1]))
				e.Size, e.Crc32C = 8, maskCRC(crc32.Checksum(b, castagnoliTable))
			}
		}, serving.ErrCorruptModel, []string{"tensor_content"}},
		{"no bytes for a scalar", one, hp2Keys, func(i int, e *tfpb.BundleEntryProto) {
			e.Size, e.Crc32C = 0, maskCRC(0)
		}, serving.ErrCorruptModel, []string{"0 bytes for the 1 elements"}},
		{"keys out of order", one, []string{"b", "a", "a2", "c", "c2"}, nil, serving.ErrCorruptModel, []string{"out of order"}},
		{"missing variable", one, []string{"a", "a2", "b2", "c", "c2"}, nil, serving.ErrCorruptModel, []string{`no variable "b"`}},
	}
	for _, c := range cases {
		index, data := scalarBundle(t, c.header, c.keys, hp2Vals, false, c.edit)
		if c.name == "huge shard count" || c.name == "no shards" {
			data = map[string][]byte{}
		}
		_, err := loadSavedModel(t, bundleArchive(t, pb, index, data), nil)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		wantLoadError(t, err, c.kind, c.words...)
	}

	// A Snappy block that declares more bytes than the archive may hold.
	w := &tableWriter{}
	off, size := w.raw(binary.AppendUvarint(nil, 1<<40), 1)
	w.index = append(w.index, kv{"", []byte{byte(off), byte(size)}})
	_, err := loadSavedModel(t, bundleArchive(t, pb, w.finish(), nil), nil)
	wantLoadError(t, err, serving.ErrCorruptModel, "snappy", "exceeds")
}

// TestSavedModelBundleBlockReuse: an index that names one data block
// twice is refused, so that a small index cannot make Load decode the
// same large block once per entry of its index block.
func TestSavedModelBundleBlockReuse(t *testing.T) {
	pb, _, _ := halfPlusTwo(t)
	_, data := scalarBundle(t, &tfpb.BundleHeaderProto{NumShards: 1}, hp2Keys, hp2Vals, false, nil)
	w := &tableWriter{}
	w.block(kv{"", marshal(t, &tfpb.BundleHeaderProto{NumShards: 1})})
	off, size := w.raw(blockBytes(nil), 0) // a block of no entries
	h := binary.AppendUvarint(binary.AppendUvarint(nil, uint64(off)), uint64(size))
	for range 3 {
		w.index = append(w.index, kv{"", h})
	}
	_, err := loadSavedModel(t, bundleArchive(t, pb, w.finish(), data), nil)
	wantLoadError(t, err, serving.ErrCorruptModel, "block")
}

// TestSavedModelSnappyDeclaredSize: a Snappy block that declares far more
// bytes than its body could decode to (a copy of 64 bytes takes 3) is
// refused before the declared size is allocated.
func TestSavedModelSnappyDeclaredSize(t *testing.T) {
	pb, _, _ := halfPlusTwo(t)
	w := &tableWriter{}
	off, size := w.raw(append(binary.AppendUvarint(nil, 200<<20), 0, 'x'), 1) // 200 MiB from one literal byte
	w.index = append(w.index, kv{"", binary.AppendUvarint(binary.AppendUvarint(nil, uint64(off)), uint64(size))})
	b := bundleArchive(t, pb, w.finish(), nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := loadSavedModel(t, b, nil)
	runtime.ReadMemStats(&after)
	wantLoadError(t, err, serving.ErrCorruptModel, "snappy")
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("refusing a %d-byte archive allocated %d MiB", len(b), got>>20)
	}
}

// TestSavedModelVariableShape: a checkpoint value of another shape than
// its variable declares is refused, as TensorFlow's restore refuses it.
// half_plus_two's scalar b read as [2 3] was served, and turned the
// regression into a two-output model labelling every record "1".
func TestSavedModelVariableShape(t *testing.T) {
	pb, _, _ := halfPlusTwo(t)
	for _, vals := range [][]float32{{2}, {2, 3}} {
		index, data := scalarBundle(t, &tfpb.BundleHeaderProto{NumShards: 1}, hp2Keys, hp2Vals, false, func(i int, e *tfpb.BundleEntryProto) {
			if hp2Keys[i] != "b" {
				return
			}
			var b []byte
			for _, v := range vals {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
			// the values of b and c lie next to each other: 2, 3
			e.Size, e.Crc32C = int64(len(b)), maskCRC(crc32.Checksum(b, castagnoliTable))
			e.Shape = &tfpb.TensorShapeProto{Dim: []*tfpb.TensorShapeProto_Dim{{Size: int64(len(vals))}}}
		})
		_, err := loadSavedModel(t, bundleArchive(t, pb, index, data), nil)
		wantLoadError(t, err, serving.ErrCorruptModel, `node "b"`, "shape []", "shape ["+itoa(len(vals))+"]")
	}
}

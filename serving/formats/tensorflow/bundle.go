package tensorflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// This file reads the variables of a SavedModel: a TensorBundle, whose
// index (variables/variables.index) is an immutable sorted table in the
// LevelDB file layout mapping each checkpoint key to a BundleEntryProto
// (the empty key holds the BundleHeaderProto), and whose data shards
// (variables/variables.data-NNNNN-of-MMMMM) hold each tensor's raw
// little-endian bytes at the entry's offset. Written from the public
// descriptions of the LevelDB table format, the Snappy block format and
// tensor_bundle.proto; every length read from the files is checked
// against the bytes actually there before it is used.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// unmaskCRC undoes the rotation LevelDB applies to the CRC-32C it
// stores, so that a CRC over bytes holding CRCs stays well distributed.
func unmaskCRC(m uint32) uint32 {
	r := m - 0xa282ead8
	return r>>17 | r<<15
}

const (
	tableMagic   = 0xdb4775248b80fb57
	footerLen    = 48
	blockTrailer = 5 // compression type byte + masked CRC-32C
)

// blockHandle reads a varint offset and size from b.
func blockHandle(b []byte) (off, size uint64, rest []byte, err error) {
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, nil, errors.New("bad block handle")
	}
	size, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return 0, 0, nil, errors.New("bad block handle")
	}
	return off, size, b[n+m:], nil
}

// readBlock returns the contents of the block at off, of size bytes, in
// table t, checking its CRC and decompressing it when it is Snappy
// compressed; no block may decompress to more than limit bytes.
func readBlock(t []byte, off, size uint64, limit int) ([]byte, error) {
	if off > uint64(len(t)) || size > uint64(len(t))-off || uint64(len(t))-off-size < blockTrailer {
		return nil, fmt.Errorf("block at %d of %d bytes lies outside the %d-byte index", off, size, len(t))
	}
	b := t[off : off+size]
	typ := t[off+size]
	want := unmaskCRC(binary.LittleEndian.Uint32(t[off+size+1:]))
	got := crc32.Update(crc32.Checksum(b, castagnoli), castagnoli, []byte{typ})
	if got != want {
		return nil, fmt.Errorf("block at %d: CRC-32C mismatch", off)
	}
	switch typ {
	case 0:
		return b, nil
	case 1:
		return unsnappy(b, limit)
	default:
		return nil, fmt.Errorf("block at %d: unknown compression type %d", off, typ)
	}
}

// unsnappy decodes one Snappy-compressed block (the raw block format,
// without the framing of the stream format).
func unsnappy(src []byte, limit int) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 {
		return nil, errors.New("snappy: bad length")
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("snappy: block of %d bytes exceeds the limit of %d", n, limit)
	}
	src = src[k:]
	// No element decodes to more than 64 bytes from its 3 (a copy with a
	// 2-byte offset), so a body shorter than that ratio allows is
	// refused before the declared size is allocated.
	if n > uint64(len(src))*64/3 {
		return nil, fmt.Errorf("snappy: %d bytes cannot decode to the %d declared", len(src), n)
	}
	dst := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			length = int(tag >> 2)
			src = src[1:]
			if length >= 60 {
				w := length - 59 // 1 to 4 little-endian length bytes
				if len(src) < w {
					return nil, errors.New("snappy: truncated literal")
				}
				length = 0
				for i := w - 1; i >= 0; i-- {
					length = length<<8 | int(src[i])
				}
				src = src[w:]
			}
			length++
			if length <= 0 || length > len(src) || length > int(n)-len(dst) {
				return nil, errors.New("snappy: literal overruns")
			}
			dst = append(dst, src[:length]...)
			src = src[length:]
			continue
		case 1:
			if len(src) < 2 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 4 + int(tag>>2&7)
			offset = int(tag>>5)<<8 | int(src[1])
			src = src[2:]
		case 2:
			if len(src) < 3 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[1:]))
			src = src[3:]
		case 3:
			if len(src) < 5 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src[1:]))
			src = src[5:]
		}
		if offset <= 0 || offset > len(dst) || length > int(n)-len(dst) {
			return nil, errors.New("snappy: copy out of range")
		}
		for i := 0; i < length; i++ { // copies may overlap their own output
			dst = append(dst, dst[len(dst)-offset])
		}
	}
	if uint64(len(dst)) != n {
		return nil, fmt.Errorf("snappy: block decodes to %d bytes, header says %d", len(dst), n)
	}
	return dst, nil
}

// blockEntries calls f with each key and value of a table block, in
// order. Keys are prefix-compressed against the previous key.
func blockEntries(b []byte, f func(key, value []byte) error) error {
	if len(b) < 4 {
		return errors.New("block shorter than its restart count")
	}
	restarts := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if restarts > uint64(len(b)-4)/4 {
		return errors.New("block restart array overruns the block")
	}
	data := b[:uint64(len(b))-4-4*restarts]
	var key []byte
	for len(data) > 0 {
		var h [3]uint64
		for i := range h {
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return errors.New("bad block entry header")
			}
			h[i] = v
			data = data[n:]
		}
		shared, unshared, vlen := h[0], h[1], h[2]
		if shared > uint64(len(key)) || unshared > uint64(len(data)) || vlen > uint64(len(data))-unshared {
			return errors.New("block entry overruns the block")
		}
		key = append(key[:shared], data[:unshared]...)
		if err := f(key, data[unshared:unshared+vlen]); err != nil {
			return err
		}
		data = data[unshared+vlen:]
	}
	return nil
}

// bundleIndex is a decoded variables.index: the header and each entry by
// checkpoint key.
type bundleIndex struct {
	shards  int
	entries map[string]*tfpb.BundleEntryProto
}

// readBundleIndex parses a TensorBundle index. maxEntries bounds the
// number of keys and maxBytes the decompressed size of every block.
func readBundleIndex(t []byte, maxEntries int, maxBytes int) (*bundleIndex, error) {
	if len(t) < footerLen {
		return nil, fmt.Errorf("variables.index has %d bytes, shorter than a table footer", len(t))
	}
	foot := t[len(t)-footerLen:]
	if binary.LittleEndian.Uint64(foot[footerLen-8:]) != tableMagic {
		return nil, errors.New("variables.index is not a table (bad magic number)")
	}
	_, _, rest, err := blockHandle(foot) // the metaindex block, unused
	if err != nil {
		return nil, fmt.Errorf("variables.index footer: %w", err)
	}
	ioff, isize, _, err := blockHandle(rest)
	if err != nil {
		return nil, fmt.Errorf("variables.index footer: %w", err)
	}
	table := t[:len(t)-footerLen]
	index, err := readBlock(table, ioff, isize, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("variables.index: index block: %w", err)
	}
	bi := &bundleIndex{entries: map[string]*tfpb.BundleEntryProto{}}
	header := false
	var last string
	var next uint64 // where the next data block may start
	err = blockEntries(index, func(_, v []byte) error {
		off, size, _, err := blockHandle(v)
		if err != nil {
			return err
		}
		// A table's data blocks follow one another, each named once by
		// the index; a block named twice (or overlapping the one
		// before) would be decoded again per mention, so a small index
		// could make Load decode one large block without end.
		if off < next {
			return fmt.Errorf("data block at %d overlaps the block before, which ends at %d", off, next)
		}
		next = off + size + blockTrailer // readBlock checks the sum is in range
		blk, err := readBlock(table, off, size, maxBytes)
		if err != nil {
			return err
		}
		return blockEntries(blk, func(k, v []byte) error {
			key := string(k)
			if header && key <= last {
				return fmt.Errorf("keys out of order or repeated at %q", key)
			}
			if !header {
				if key != "" {
					return errors.New("the first key is not the bundle header")
				}
				header = true
				var h tfpb.BundleHeaderProto
				if err := proto.Unmarshal(v, &h); err != nil {
					return fmt.Errorf("bundle header: %w", err)
				}
				if h.GetEndianness() != tfpb.BundleHeaderProto_LITTLE {
					return &unsupportedError{"variables written big-endian"}
				}
				if h.GetNumShards() < 1 || h.GetNumShards() > 1024 {
					return fmt.Errorf("bundle header declares %d shards", h.GetNumShards())
				}
				bi.shards = int(h.GetNumShards())
				return nil
			}
			last = key
			if len(bi.entries) >= maxEntries {
				return fmt.Errorf("more than %d variables", maxEntries)
			}
			e := new(tfpb.BundleEntryProto)
			if err := proto.Unmarshal(v, e); err != nil {
				return fmt.Errorf("entry %q: %w", key, err)
			}
			bi.entries[key] = e
			return nil
		})
	})
	if err != nil {
		var u *unsupportedError
		if errors.As(err, &u) {
			return nil, err
		}
		return nil, fmt.Errorf("variables.index: %w", err)
	}
	if !header {
		return nil, errors.New("variables.index has no bundle header")
	}
	return bi, nil
}

// shardName is the file name of data shard i of n.
func shardName(i, n int) string {
	return fmt.Sprintf("variables.data-%05d-of-%05d", i, n)
}

// tensorProto reads the value of checkpoint key from the data shards as
// a TensorProto with its bytes in tensor_content, checking the entry's
// offset, size and CRC-32C. count, when not nil, is given the value's
// size in bytes and its type once they are known to lie in the shard,
// before the CRC-32C is computed; an error it returns is returned.
func (bi *bundleIndex) tensorProto(key string, shards map[string][]byte, count func(size int64, dt tfpb.DataType) error) (*tfpb.TensorProto, error) {
	e, ok := bi.entries[key]
	if !ok {
		return nil, fmt.Errorf("the checkpoint has no variable %q", key)
	}
	if len(e.GetSlices()) > 0 {
		return nil, &unsupportedError{fmt.Sprintf("variable %q is partitioned into slices", key)}
	}
	if e.GetShardId() < 0 || int(e.GetShardId()) >= bi.shards {
		return nil, fmt.Errorf("variable %q lies in shard %d of %d", key, e.GetShardId(), bi.shards)
	}
	name := shardName(int(e.GetShardId()), bi.shards)
	data, ok := shards[name]
	if !ok {
		return nil, fmt.Errorf("variable %q lies in %s, which the archive lacks", key, name)
	}
	off, size := e.GetOffset(), e.GetSize()
	if off < 0 || size < 0 || off > int64(len(data)) || size > int64(len(data))-off {
		return nil, fmt.Errorf("variable %q: %d bytes at offset %d lie outside %s (%d bytes)", key, size, off, name, len(data))
	}
	b := data[off : off+size]
	if size == 0 {
		// decodeTensor reads a TensorProto without content as zeros, as
		// TensorFlow reads a constant given no values; a checkpoint
		// value is its bytes, and none for a shape of elements is a
		// damaged entry, not a tensor of zeros.
		n := int64(1)
		for _, d := range e.GetShape().GetDim() {
			if d.GetSize() <= 0 {
				n = 0
				break
			}
			n = min(n*min(d.GetSize(), 1<<31), 1<<31)
		}
		if n > 0 {
			return nil, fmt.Errorf("variable %q: 0 bytes for the %d elements of its shape", key, n)
		}
	}
	if count != nil {
		if err := count(size, e.GetDtype()); err != nil {
			return nil, err
		}
	}
	if got := crc32.Checksum(b, castagnoli); got != unmaskCRC(e.GetCrc32C()) {
		return nil, fmt.Errorf("variable %q: CRC-32C mismatch", key)
	}
	return &tfpb.TensorProto{Dtype: e.GetDtype(), TensorShape: e.GetShape(), TensorContent: b}, nil
}

// restoreKeys reads the checkpoint key of each variable from the
// graph's restore ops, as TensorFlow's own loader does when it runs
// them: a RestoreV2 node lists keys in a string constant, and each
// Assign or AssignVariableOp that stores output k of a RestoreV2 (through
// Identity nodes) into a variable gives that variable key k. It returns
// variable node name -> key.
func restoreKeys(nodes []*tfpb.NodeDef, index map[string]int) map[string]string {
	through := func(s string) (string, int) {
		for range 64 {
			name, port, control := splitInput(s)
			i, ok := index[name]
			if control || !ok {
				return "", 0
			}
			n := nodes[i]
			if n.GetOp() != "Identity" || len(n.GetInput()) == 0 {
				return name, port
			}
			s = n.GetInput()[0]
		}
		return "", 0
	}
	keys := map[string]string{}
	for _, n := range nodes {
		if (n.GetOp() != "Assign" && n.GetOp() != "AssignVariableOp") || len(n.GetInput()) < 2 {
			continue
		}
		v, _ := through(n.GetInput()[0])
		src, port := through(n.GetInput()[1])
		if v == "" || src == "" || nodes[index[src]].GetOp() != "RestoreV2" {
			continue
		}
		switch nodes[index[v]].GetOp() {
		case "VariableV2", "Variable", "VarHandleOp":
		default:
			continue
		}
		r := nodes[index[src]]
		if len(r.GetInput()) < 2 {
			continue
		}
		names, _ := through(r.GetInput()[1])
		if names == "" {
			continue
		}
		c := nodes[index[names]]
		if c.GetOp() != "Const" {
			continue
		}
		sv := c.GetAttr()["value"].GetTensor().GetStringVal()
		if port < len(sv) {
			keys[v] = strings.Clone(string(sv[port]))
		}
	}
	return keys
}

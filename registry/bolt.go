package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/modelstream/modelstream/serving"
)

// Bolt is a durable Store in one local file, built on bbolt
// (go.etcd.io/bbolt): a copy-on-write B+tree whose every write
// transaction is committed with fsync, so an acknowledged Put, alias,
// activation or offset survives a crash of the process or the machine,
// and a crash mid-write leaves the file as it was before that write.
//
// One process at a time may open the file; Open waits up to LockTimeout
// for another to release it. A Bolt is safe for concurrent use: reads
// run in parallel with each other and with the one writer.
//
// # File layout
//
// Version 1 of the layout, in bbolt buckets:
//
//	meta/schema                      "1"
//	models/<name>/v/<be64 version>   Version as JSON
//	models/<name>/b/<be64 version>   model bytes (deleted by retention)
//	models/<name>/a/<alias>          be64 version
//	models/<name>/h/<be64 t><be64 n> activation as JSON; t is UnixNano with
//	                                 the sign bit flipped, n a sequence
//	ids/<id> 0x00 <name> 0x00 <be64> empty (content ID index for lineage)
//	offsets/<topic>/<be32 partition> be64 next offset
type Bolt struct {
	o      options
	db     *bolt.DB
	closed atomic.Bool
}

var _ Store = (*Bolt)(nil)

var (
	bktMeta    = []byte("meta")
	bktModels  = []byte("models")
	bktIDs     = []byte("ids")
	bktOffsets = []byte("offsets")
	bktVer     = []byte("v")
	bktBytes   = []byte("b")
	bktAlias   = []byte("a")
	bktHist    = []byte("h")
	keySchema  = []byte("schema")
)

const schemaVersion = "1"

// Open opens or creates the durable store at path. Options Retain and
// LockTimeout apply.
func Open(path string, opts ...Option) (*Bolt, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bktMeta)
		if err != nil {
			return err
		}
		if s := meta.Get(keySchema); s != nil && string(s) != schemaVersion {
			return fmt.Errorf("%w: file has layout version %q, this code reads %q", ErrInvalid, s, schemaVersion)
		}
		if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
			return err
		}
		for _, b := range [][]byte{bktModels, bktIDs, bktOffsets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("registry: open %s: %w", path, err)
	}
	return &Bolt{o: o, db: db}, nil
}

// Path returns the file the store lives in.
func (b *Bolt) Path() string { return b.db.Path() }

// Check walks the whole file and returns the first inconsistency bbolt
// finds in its pages, or nil. Tests use it after a crash.
func (b *Bolt) Check() error {
	return b.view(context.Background(), func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
}

func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed.Load() {
		return serving.ErrClosed
	}
	err := b.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return serving.ErrClosed
	}
	return err
}

func (b *Bolt) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed.Load() {
		return serving.ErrClosed
	}
	err := b.db.Update(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return serving.ErrClosed
	}
	return err
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func histKey(at time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(at.UnixNano())^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

func idKey(id, name string, version uint64) []byte {
	k := make([]byte, 0, len(id)+len(name)+10)
	k = append(k, id...)
	k = append(k, 0)
	k = append(k, name...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, version)
}

// model returns the buckets of name, or nil if absent.
func model(tx *bolt.Tx, name string) *bolt.Bucket {
	if name == "" {
		return nil
	}
	return tx.Bucket(bktModels).Bucket([]byte(name))
}

func createModel(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	mb, err := tx.Bucket(bktModels).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, err
	}
	for _, k := range [][]byte{bktVer, bktBytes, bktAlias, bktHist} {
		if _, err := mb.CreateBucketIfNotExists(k); err != nil {
			return nil, err
		}
	}
	return mb, nil
}

func decodeVersion(raw []byte) (Version, error) {
	var v Version
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("registry: corrupt version record: %w", err)
	}
	return v, nil
}

func lastVersion(vb *bolt.Bucket) (Version, bool, error) {
	k, raw := vb.Cursor().Last()
	if k == nil {
		return Version{}, false, nil
	}
	v, err := decodeVersion(raw)
	return v, err == nil, err
}

// Put implements Store.
func (b *Bolt) Put(ctx context.Context, d serving.Descriptor) (serving.Descriptor, error) {
	v, err := prepare(d)
	if err != nil {
		return d, err
	}
	var out serving.Descriptor
	err = b.update(ctx, func(tx *bolt.Tx) error {
		mb, err := createModel(tx, d.Name)
		if err != nil {
			return err
		}
		vb := mb.Bucket(bktVer)
		if v.Model.Version == 0 {
			last, ok, err := lastVersion(vb)
			if err != nil {
				return err
			}
			if ok && sameContent(last, v) {
				out = withBytes(last.Descriptor(), d.Bytes)
				return nil
			}
			if v.Model.Version, err = nextVersion(d.Name, last.Model.Version); err != nil {
				return err
			}
		} else if raw := vb.Get(be64(v.Model.Version)); raw != nil {
			old, err := decodeVersion(raw)
			if err != nil {
				return err
			}
			if sameContent(old, v) {
				out = withBytes(old.Descriptor(), d.Bytes)
				return nil
			}
			return &ConflictError{Name: d.Name, Version: v.Model.Version, Stored: old.Model, Offered: v.Model}
		}
		v.Stored = b.o.now().UTC()
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		key := be64(v.Model.Version)
		if err := vb.Put(key, raw); err != nil {
			return err
		}
		if len(d.Bytes) > 0 {
			if err := mb.Bucket(bktBytes).Put(key, d.Bytes); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bktIDs).Put(idKey(v.Model.ID, d.Name, v.Model.Version), nil); err != nil {
			return err
		}
		out = withBytes(v.Descriptor(), d.Bytes)
		return b.prune(mb)
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) || errors.Is(err, serving.ErrClosed) || errors.Is(err, ctx.Err()) {
			return d, err
		}
		return d, fmt.Errorf("registry: put %s: %w", d.Name, err)
	}
	return out, nil
}

// prune drops the bytes retention does not keep. It reads only the
// retain highest version keys and the bytes bucket, which retention
// keeps small, so a Put costs O(retain) whatever the number of versions.
func (b *Bolt) prune(mb *bolt.Bucket) error {
	if b.o.retain == 0 {
		return nil
	}
	vb, bb := mb.Bucket(bktVer), mb.Bucket(bktBytes)
	var top []uint64 // the retain highest versions, descending
	c := vb.Cursor()
	for k, _ := c.Last(); k != nil && len(top) < b.o.retain; k, _ = c.Prev() {
		top = append(top, binary.BigEndian.Uint64(k))
	}
	slices.Reverse(top)
	aliases, err := readAliases(mb)
	if err != nil {
		return err
	}
	var active uint64
	if _, raw := mb.Bucket(bktHist).Cursor().Last(); raw != nil {
		a, err := decodeActivation(raw)
		if err != nil {
			return err
		}
		active = activeNow([]serving.Activation{a})
	}
	keep := keepSet(b.o.retain, top, aliases, active)
	var drop [][]byte
	if err := bb.ForEach(func(k, _ []byte) error {
		if !keep[binary.BigEndian.Uint64(k)] {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, key := range drop {
		v, err := decodeVersion(vb.Get(key))
		if err != nil {
			return err
		}
		v.HasBytes, v.Pruned = false, true
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := vb.Put(key, raw); err != nil {
			return err
		}
		if err := bb.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

func readAliases(mb *bolt.Bucket) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := mb.Bucket(bktAlias).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("registry: corrupt alias %q", k)
		}
		out[string(k)] = binary.BigEndian.Uint64(v)
		return nil
	})
	return out, err
}

// get reads one version inside tx.
func getTx(tx *bolt.Tx, name string, version uint64) (serving.Descriptor, error) {
	mb := model(tx, name)
	if mb == nil {
		return serving.Descriptor{}, notFound(name, 0)
	}
	key := be64(version)
	raw := mb.Bucket(bktVer).Get(key)
	if raw == nil {
		return serving.Descriptor{}, notFound(name, version)
	}
	v, err := decodeVersion(raw)
	if err != nil {
		return serving.Descriptor{}, err
	}
	d := v.Descriptor()
	if v.Pruned {
		return d, fmt.Errorf("%w: %s", ErrPruned, v.Model)
	}
	if v.HasBytes {
		bs := mb.Bucket(bktBytes).Get(key)
		if bs == nil {
			return d, fmt.Errorf("registry: corrupt store: bytes of %s missing", v.Model)
		}
		d.Bytes = bytes.Clone(bs)
	}
	return d, nil
}

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, name string, version uint64) (serving.Descriptor, error) {
	var d serving.Descriptor
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		d, err = getTx(tx, name, version)
		return err
	})
	return d, err
}

// Latest implements Store.
func (b *Bolt) Latest(ctx context.Context, name string) (serving.Descriptor, error) {
	var d serving.Descriptor
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		d, err = latestTx(tx, name)
		return err
	})
	return d, err
}

func latestTx(tx *bolt.Tx, name string) (serving.Descriptor, error) {
	mb := model(tx, name)
	if mb == nil {
		return serving.Descriptor{}, notFound(name, 0)
	}
	k, _ := mb.Bucket(bktVer).Cursor().Last()
	if k == nil {
		return serving.Descriptor{}, notFound(name, 0)
	}
	return getTx(tx, name, binary.BigEndian.Uint64(k))
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, name string) ([]Version, error) {
	var out []Version
	err := b.view(ctx, func(tx *bolt.Tx) error {
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		err := mb.Bucket(bktVer).ForEach(func(_, raw []byte) error {
			v, err := decodeVersion(raw)
			out = append(out, v)
			return err
		})
		if err == nil && len(out) == 0 {
			return notFound(name, 0)
		}
		return err
	})
	return out, err
}

// Names implements Store.
func (b *Bolt) Names(ctx context.Context) ([]string, error) {
	var out []string
	err := b.view(ctx, func(tx *bolt.Tx) error {
		models := tx.Bucket(bktModels)
		return models.ForEachBucket(func(k []byte) error {
			// A name with only a history has no versions: skip it.
			if first, _ := models.Bucket(k).Bucket(bktVer).Cursor().First(); first != nil {
				out = append(out, string(k))
			}
			return nil
		})
	})
	if out == nil {
		out = []string{}
	}
	return out, err
}

// SetAlias implements Store.
func (b *Bolt) SetAlias(ctx context.Context, name, alias string, version uint64) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		ab := mb.Bucket(bktAlias)
		if version == 0 {
			return ab.Delete([]byte(alias))
		}
		if mb.Bucket(bktVer).Get(be64(version)) == nil {
			return notFound(name, version)
		}
		return ab.Put([]byte(alias), be64(version))
	})
}

// Resolve implements Store.
func (b *Bolt) Resolve(ctx context.Context, name, alias string) (serving.Descriptor, error) {
	var d serving.Descriptor
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		if alias == Latest {
			d, err = latestTx(tx, name)
			return err
		}
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		raw := mb.Bucket(bktAlias).Get([]byte(alias))
		if len(raw) != 8 {
			return fmt.Errorf("%w: alias %q of %q", ErrNotFound, alias, name)
		}
		d, err = getTx(tx, name, binary.BigEndian.Uint64(raw))
		return err
	})
	return d, err
}

// Aliases implements Store.
func (b *Bolt) Aliases(ctx context.Context, name string) (map[string]uint64, error) {
	var out map[string]uint64
	err := b.view(ctx, func(tx *bolt.Tx) error {
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		var err error
		out, err = readAliases(mb)
		return err
	})
	return out, err
}

// Lineage implements Store.
func (b *Bolt) Lineage(ctx context.Context, name string, version uint64) ([]Version, error) {
	var out []Version
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var ierr error
		get := func(n string, ver uint64) (Version, bool) {
			mb := model(tx, n)
			if mb == nil {
				return Version{}, false
			}
			raw := mb.Bucket(bktVer).Get(be64(ver))
			if raw == nil {
				return Version{}, false
			}
			v, err := decodeVersion(raw)
			if err != nil {
				ierr = err
				return Version{}, false
			}
			return v, true
		}
		byID := func(id string) []serving.ModelRef {
			var refs []serving.ModelRef
			prefix := append([]byte(id), 0)
			c := tx.Bucket(bktIDs).Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				rest := k[len(prefix):]
				if len(rest) < 9 || rest[len(rest)-9] != 0 {
					continue
				}
				refs = append(refs, serving.ModelRef{Name: string(rest[:len(rest)-9]), Version: binary.BigEndian.Uint64(rest[len(rest)-8:]), ID: id})
			}
			return refs
		}
		var err error
		out, err = lineage(name, version, get, byID)
		if err == nil {
			err = ierr
		}
		return err
	})
	return out, err
}

// activationRec is the stored form of a serving.Activation.
type activationRec struct {
	Model serving.ModelRef `json:"model"`
	Kind  string           `json:"kind"`
	At    time.Time        `json:"at"`
}

var kinds = []serving.EventKind{serving.EventActivated, serving.EventRolledBack, serving.EventRetired}

func decodeActivation(raw []byte) (serving.Activation, error) {
	var r activationRec
	if err := json.Unmarshal(raw, &r); err != nil {
		return serving.Activation{}, fmt.Errorf("registry: corrupt activation record: %w", err)
	}
	for _, k := range kinds {
		if k.String() == r.Kind {
			return serving.Activation{Model: r.Model, Kind: k, KindName: r.Kind, At: r.At.UTC()}, nil
		}
	}
	return serving.Activation{}, fmt.Errorf("registry: corrupt activation record: kind %q", r.Kind)
}

// RecordActivation implements Store.
func (b *Bolt) RecordActivation(ctx context.Context, a serving.Activation) error {
	if err := checkActivation(a); err != nil {
		return err
	}
	a = normActivation(a)
	raw, err := json.Marshal(activationRec{Model: a.Model, Kind: a.KindName, At: a.At})
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		mb, err := createModel(tx, a.Model.Name)
		if err != nil {
			return err
		}
		hb := mb.Bucket(bktHist)
		prefix := histKey(a.At, 0)[:8]
		c := hb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			old, err := decodeActivation(v)
			if err != nil {
				return err
			}
			if sameActivation(old, a) {
				return nil
			}
		}
		seq, err := hb.NextSequence()
		if err != nil {
			return err
		}
		return hb.Put(histKey(a.At, seq), raw)
	})
}

// History implements Store.
func (b *Bolt) History(ctx context.Context, name string) ([]serving.Activation, error) {
	var out []serving.Activation
	err := b.view(ctx, func(tx *bolt.Tx) error {
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		return mb.Bucket(bktHist).ForEach(func(_, raw []byte) error {
			a, err := decodeActivation(raw)
			out = append(out, a)
			return err
		})
	})
	return out, err
}

// At implements Store. It seeks the history index to t rather than
// reading the whole history.
func (b *Bolt) At(ctx context.Context, name string, t time.Time) (serving.ModelRef, error) {
	var ref serving.ModelRef
	err := b.view(ctx, func(tx *bolt.Tx) error {
		mb := model(tx, name)
		if mb == nil {
			return notFound(name, 0)
		}
		c := mb.Bucket(bktHist).Cursor()
		// The first key after every entry at t: time t+1ns, sequence 0.
		var k, raw []byte
		if n := clampNanos(t); n == math.MaxInt64 {
			k, raw = c.Last()
		} else if k, _ = c.Seek(histKey(time.Unix(0, n+1), 0)); k == nil {
			k, raw = c.Last()
		} else {
			k, raw = c.Prev()
		}
		if k == nil {
			_, err := activeIn(name, nil, t)
			return err
		}
		a, err := decodeActivation(raw)
		if err != nil {
			return err
		}
		ref, err = activeRef(name, a, t)
		return err
	})
	return ref, err
}

// SetOffsets implements Store.
func (b *Bolt) SetOffsets(ctx context.Context, topic string, next map[int32]int64) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalid)
	}
	parts := make([]int32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return b.update(ctx, func(tx *bolt.Tx) error {
		tb, err := tx.Bucket(bktOffsets).CreateBucketIfNotExists([]byte(topic))
		if err != nil {
			return err
		}
		for _, p := range parts {
			if err := tb.Put(binary.BigEndian.AppendUint32(nil, uint32(p)), be64(uint64(next[p]))); err != nil {
				return err
			}
		}
		return nil
	})
}

// Offsets implements Store.
func (b *Bolt) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	out := map[int32]int64{}
	err := b.view(ctx, func(tx *bolt.Tx) error {
		tb := tx.Bucket(bktOffsets).Bucket([]byte(topic))
		if tb == nil {
			return nil
		}
		return tb.ForEach(func(k, v []byte) error {
			if len(k) != 4 || len(v) != 8 {
				return fmt.Errorf("registry: corrupt offset record for %q", topic)
			}
			out[int32(binary.BigEndian.Uint32(k))] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return out, err
}

// Close implements Store. It waits for running transactions to finish.
func (b *Bolt) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	return b.db.Close()
}

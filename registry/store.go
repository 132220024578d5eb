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

	"github.com/modelstream/modelstream/serving"
)

// Registry is the versioned model store. See the package documentation
// for the model it implements. It keeps its data in a [Storage]: in
// memory ([NewMemory]) or in a local file (package registry/bolt).
//
// Every method takes a context first. The context is checked before the
// operation starts; an operation that has started runs to completion, so
// cancelling never leaves a half-applied write: every write is one
// Storage transaction.
//
// A Registry is safe for concurrent use by any number of goroutines.
// Descriptors and slices passed in are copied; those returned belong to
// the caller.
type Registry struct {
	o      options
	st     Storage
	closed atomic.Bool
}

// schemaVersion is the version of the key layout below, stored under
// keySchema.
//
// Keys start with one byte saying what they hold; <s> is a string
// prefixed by its length (be32), <be64> a big-endian uint64:
//
//	s                             schema version
//	n <name>                      1: the name has a version or a history
//	v <name> <be64 version>       Version as JSON
//	b <name> <be64 version>       model bytes (deleted by retention)
//	a <name> <alias>              be64 version
//	h <name> <be64 t> <be64 n>    activation as JSON; t is UnixNano with
//	                              the sign bit flipped, n a sequence
//	q <name>                      be64: the last history sequence number
//	i <id> 0x00 <name> <be64>     1 (content ID index for lineage)
//	o <topic> <be32 partition>    be64 next offset
const schemaVersion = "2"

var keySchema = []byte("s")

const (
	kName  = 'n'
	kVer   = 'v'
	kBytes = 'b'
	kAlias = 'a'
	kHist  = 'h'
	kSeq   = 'q'
	kID    = 'i'
	kOff   = 'o'
)

var present = []byte{1}

// New returns a Registry over st, which it owns from then on: Close
// closes it. It refuses, with serving.ErrCorruptState, a Storage written
// with another key layout, and leaves it as it was.
func New(st Storage, opts ...Option) (*Registry, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: registry: New(nil Storage)", serving.ErrConfig)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	err = st.Update(context.Background(), func(w Writer) error {
		if s := w.Get(keySchema); s != nil && string(s) != schemaVersion {
			return fmt.Errorf("%w: storage has layout version %q, this code reads %q", serving.ErrCorruptState, s, schemaVersion)
		}
		return w.Put(keySchema, []byte(schemaVersion))
	})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return &Registry{o: o, st: st}, nil
}

// NewMemory returns an empty Registry in memory. It forgets everything
// when the process ends; use it in tests, or where the models topic is
// re-read on every start anyway.
func NewMemory(opts ...Option) (*Registry, error) { return New(newMemStorage(), opts...) }

func (r *Registry) view(ctx context.Context, fn func(Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.closed.Load() {
		return serving.ErrClosed
	}
	return r.st.View(ctx, fn)
}

func (r *Registry) update(ctx context.Context, fn func(Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.closed.Load() {
		return serving.ErrClosed
	}
	return r.st.Update(ctx, fn)
}

// Close closes the Registry and its Storage. Later calls fail with
// serving.ErrClosed. Close is idempotent.
func (r *Registry) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	return r.st.Close()
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// key returns kind, then each part length-prefixed.
func key(kind byte, parts ...string) []byte {
	n := 1
	for _, p := range parts {
		n += 4 + len(p)
	}
	k := make([]byte, 1, n+16)
	k[0] = kind
	for _, p := range parts {
		k = binary.BigEndian.AppendUint32(k, uint32(len(p)))
		k = append(k, p...)
	}
	return k
}

// join returns a fresh slice of prefix followed by suffix.
func join(prefix []byte, suffix ...[]byte) []byte {
	k := slices.Clone(prefix)
	for _, s := range suffix {
		k = append(k, s...)
	}
	return k
}

// end returns the first key after every key starting with prefix.
func end(prefix []byte) []byte {
	e := slices.Clone(prefix)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}

// first returns the first key and value of [from, to) in the order asked.
func first(rd Reader, from, to []byte, reverse bool) (k, v []byte, err error) {
	err = rd.Scan(from, to, reverse, func(key, value []byte) (bool, error) {
		k, v = key, value
		return false, nil
	})
	return k, v, err
}

func histKey(prefix []byte, nanos int64, seq uint64) []byte {
	return join(prefix, be64(uint64(nanos)^(1<<63)), be64(seq))
}

func idPrefix(id string) []byte { return append(append([]byte{kID}, id...), 0) }

func known(rd Reader, name string) bool { return name != "" && rd.Get(key(kName, name)) != nil }

func decodeVersion(raw []byte) (record, error) {
	var v record
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("registry: corrupt version record: %w", err)
	}
	return v, nil
}

func lastVersion(rd Reader, name string) (record, bool, error) {
	p := key(kVer, name)
	_, raw, err := first(rd, p, end(p), true)
	if err != nil || raw == nil {
		return record{}, false, err
	}
	v, err := decodeVersion(raw)
	return v, err == nil, err
}

func withBytes(d serving.Descriptor, b []byte) serving.Descriptor {
	d.Bytes = b
	return d
}

// Put stores d and returns it with its Version and SHA256 set.
//
// When d.Version is 0 the registry assigns the next version of d.Name
// (one more than the highest stored), unless the highest stored version
// has the same content ID and format: then that version is returned and
// nothing is written, so a retried publish creates no new version. When
// d.Version names a stored version, a Put with the same content ID and
// format is an idempotent no-op returning the stored metadata, and one
// with different content fails with an error wrapping ErrVersionConflict
// (a *ConflictError).
//
// d must have a Name and a Format, and either Bytes or a Location with a
// SHA256 (64 lowercase hex digits, like serving.ContentID); otherwise Put
// fails with serving.ErrInvalidDescriptor. When both Bytes and SHA256
// are given they must match (serving.ErrChecksum). Assigning a version
// after 2^64-1 fails with serving.ErrConfig. With a durable Storage the write
// is on disk when Put returns nil.
func (r *Registry) Put(ctx context.Context, d serving.Descriptor) (serving.Descriptor, error) {
	v, err := prepare(d)
	if err != nil {
		return d, err
	}
	var out serving.Descriptor
	err = r.update(ctx, func(w Writer) error {
		if v.Model.Version == 0 {
			last, ok, err := lastVersion(w, d.Name)
			if err != nil {
				return err
			}
			if ok && sameContent(last, v) {
				out = withBytes(last.descriptor(), d.Bytes)
				return nil
			}
			if v.Model.Version, err = nextVersion(d.Name, last.Model.Version); err != nil {
				return err
			}
		} else if raw := w.Get(join(key(kVer, d.Name), be64(v.Model.Version))); raw != nil {
			old, err := decodeVersion(raw)
			if err != nil {
				return err
			}
			if sameContent(old, v) {
				out = withBytes(old.descriptor(), d.Bytes)
				return nil
			}
			return &ConflictError{Stored: old.Model, Offered: v.Model}
		}
		v.Stored = r.o.now().UTC()
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		ver := be64(v.Model.Version)
		if err := w.Put(join(key(kVer, d.Name), ver), raw); err != nil {
			return err
		}
		if len(d.Bytes) > 0 {
			if err := w.Put(join(key(kBytes, d.Name), ver), d.Bytes); err != nil {
				return err
			}
		}
		if err := w.Put(join(idPrefix(v.Model.ID), key(0, d.Name)[1:], ver), present); err != nil {
			return err
		}
		if err := w.Put(key(kName, d.Name), present); err != nil {
			return err
		}
		out = withBytes(v.descriptor(), d.Bytes)
		return r.prune(w, d.Name)
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) || errors.Is(err, serving.ErrClosed) || errors.Is(err, ctx.Err()) || errors.Is(err, serving.ErrConfig) {
			return d, err
		}
		return d, fmt.Errorf("registry: put %s: %w", d.Name, err)
	}
	return out, nil
}

// prune drops the bytes retention does not keep. It reads only the
// retain highest version keys and the bytes of the name, which retention
// keeps few, so a Put costs O(retain) whatever the number of versions.
func (r *Registry) prune(w Writer, name string) error {
	if r.o.retain == 0 {
		return nil
	}
	vp, bp := key(kVer, name), key(kBytes, name)
	var top []uint64 // the retain highest versions, descending
	err := w.Scan(vp, end(vp), true, func(k, _ []byte) (bool, error) {
		top = append(top, binary.BigEndian.Uint64(k[len(vp):]))
		return len(top) < r.o.retain, nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(top)
	aliases, err := readAliases(w, name)
	if err != nil {
		return err
	}
	var active uint64
	hp := key(kHist, name)
	if _, raw, err := first(w, hp, end(hp), true); err != nil {
		return err
	} else if raw != nil {
		a, err := decodeActivation(raw)
		if err != nil {
			return err
		}
		active = activeNow([]serving.Activation{a})
	}
	keep := keepSet(r.o.retain, top, aliases, active)
	var drop []uint64
	if err := w.Scan(bp, end(bp), false, func(k, _ []byte) (bool, error) {
		if ver := binary.BigEndian.Uint64(k[len(bp):]); !keep[ver] {
			drop = append(drop, ver)
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, ver := range drop {
		vk := join(vp, be64(ver))
		v, err := decodeVersion(w.Get(vk))
		if err != nil {
			return err
		}
		v.HasBytes, v.Pruned = false, true
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := w.Put(vk, raw); err != nil {
			return err
		}
		if err := w.Delete(join(bp, be64(ver))); err != nil {
			return err
		}
	}
	return nil
}

func readAliases(rd Reader, name string) (map[string]uint64, error) {
	out := map[string]uint64{}
	p := key(kAlias, name)
	err := rd.Scan(p, end(p), false, func(k, v []byte) (bool, error) {
		if len(v) != 8 {
			return false, fmt.Errorf("registry: corrupt alias %q", k[len(p):])
		}
		out[string(k[len(p):])] = binary.BigEndian.Uint64(v)
		return true, nil
	})
	return out, err
}

// getTx reads one version with its bytes.
func getTx(rd Reader, name string, version uint64) (serving.Descriptor, error) {
	if !known(rd, name) {
		return serving.Descriptor{}, notFound(name, 0)
	}
	raw := rd.Get(join(key(kVer, name), be64(version)))
	if raw == nil {
		return serving.Descriptor{}, notFound(name, version)
	}
	v, err := decodeVersion(raw)
	if err != nil {
		return serving.Descriptor{}, err
	}
	d := v.descriptor()
	if v.Pruned {
		return d, fmt.Errorf("%w: %s", ErrPruned, v.Model)
	}
	if v.HasBytes {
		bs := rd.Get(join(key(kBytes, name), be64(version)))
		if bs == nil {
			return d, fmt.Errorf("registry: corrupt store: bytes of %s missing", v.Model)
		}
		d.Bytes = bytes.Clone(bs)
	}
	return d, nil
}

// Get returns one version with its bytes. If retention dropped the
// bytes, it returns the metadata-only descriptor (Location kept) and an
// error wrapping ErrPruned.
func (r *Registry) Get(ctx context.Context, name string, version uint64) (serving.Descriptor, error) {
	var d serving.Descriptor
	err := r.view(ctx, func(rd Reader) error {
		var err error
		d, err = getTx(rd, name, version)
		return err
	})
	return d, err
}

func latestTx(rd Reader, name string) (serving.Descriptor, error) {
	if !known(rd, name) {
		return serving.Descriptor{}, notFound(name, 0)
	}
	v, ok, err := lastVersion(rd, name)
	if err != nil {
		return serving.Descriptor{}, err
	}
	if !ok {
		return serving.Descriptor{}, notFound(name, 0)
	}
	return getTx(rd, name, v.Model.Version)
}

// List returns the metadata of every stored version of name, oldest
// first. Metadata is never pruned.
func (r *Registry) List(ctx context.Context, name string) ([]Version, error) {
	var out []Version
	err := r.view(ctx, func(rd Reader) error {
		p := key(kVer, name)
		err := rd.Scan(p, end(p), false, func(_, raw []byte) (bool, error) {
			v, err := decodeVersion(raw)
			out = append(out, v.version())
			return true, err
		})
		if err == nil && len(out) == 0 {
			return notFound(name, 0)
		}
		return err
	})
	return out, err
}

// Names returns the names with at least one stored version, sorted.
func (r *Registry) Names(ctx context.Context) ([]string, error) {
	out := []string{}
	err := r.view(ctx, func(rd Reader) error {
		p := []byte{kName}
		return rd.Scan(p, end(p), false, func(k, _ []byte) (bool, error) {
			name := string(k[5:])
			// A name with only a history has no versions: skip it.
			vp := key(kVer, name)
			if fk, _, err := first(rd, vp, end(vp), false); err != nil || fk == nil {
				return err == nil, err
			}
			out = append(out, name)
			return true, nil
		})
	})
	slices.Sort(out) // keys sort by length first
	return out, err
}

// SetAlias points alias (such as "champion") at a stored version of
// name, atomically replacing its previous target. Version 0 deletes the
// alias. The alias "latest" is reserved: it always resolves to the
// highest version.
func (r *Registry) SetAlias(ctx context.Context, name, alias string, version uint64) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	return r.update(ctx, func(w Writer) error {
		if !known(w, name) {
			return notFound(name, 0)
		}
		ak := join(key(kAlias, name), []byte(alias))
		if version == 0 {
			return w.Delete(ak)
		}
		if w.Get(join(key(kVer, name), be64(version))) == nil {
			return notFound(name, version)
		}
		return w.Put(ak, be64(version))
	})
}

// Resolve returns the version alias points at, with its bytes; the alias
// [Latest] is the highest stored version of name.
func (r *Registry) Resolve(ctx context.Context, name, alias string) (serving.Descriptor, error) {
	var d serving.Descriptor
	err := r.view(ctx, func(rd Reader) error {
		var err error
		if alias == Latest {
			d, err = latestTx(rd, name)
			return err
		}
		if !known(rd, name) {
			return notFound(name, 0)
		}
		raw := rd.Get(join(key(kAlias, name), []byte(alias)))
		if len(raw) != 8 {
			return fmt.Errorf("%w: alias %q of %q", ErrNotFound, alias, name)
		}
		d, err = getTx(rd, name, binary.BigEndian.Uint64(raw))
		return err
	})
	return d, err
}

// Aliases returns every alias of name and its version.
func (r *Registry) Aliases(ctx context.Context, name string) (map[string]uint64, error) {
	var out map[string]uint64
	err := r.view(ctx, func(rd Reader) error {
		if !known(rd, name) {
			return notFound(name, 0)
		}
		var err error
		out, err = readAliases(rd, name)
		return err
	})
	return out, err
}

// Lineage returns the metadata of name@version followed by its
// ancestors, found by following Parent content IDs across all names. It
// stops at a root (empty Parent), at a parent ID the registry does not
// know (the last element's Descriptor.Parent then names it), or at a cycle.
func (r *Registry) Lineage(ctx context.Context, name string, version uint64) ([]Version, error) {
	var out []Version
	err := r.view(ctx, func(rd Reader) error {
		var ierr error
		get := func(n string, ver uint64) (record, bool) {
			raw := rd.Get(join(key(kVer, n), be64(ver)))
			if raw == nil {
				return record{}, false
			}
			v, err := decodeVersion(raw)
			if err != nil {
				ierr = err
				return record{}, false
			}
			return v, true
		}
		byID := func(id string) []serving.ModelRef {
			var refs []serving.ModelRef
			p := idPrefix(id)
			err := rd.Scan(p, end(p), false, func(k, _ []byte) (bool, error) {
				rest := k[len(p):]
				if len(rest) < 12 {
					return true, nil
				}
				n := int(binary.BigEndian.Uint32(rest))
				if len(rest) != 4+n+8 {
					return true, nil
				}
				refs = append(refs, serving.ModelRef{Name: string(rest[4 : 4+n]), Version: binary.BigEndian.Uint64(rest[4+n:]), ID: id})
				return true, nil
			})
			if err != nil && ierr == nil {
				ierr = err
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

// lineage walks Parent links. get fetches metadata; byID lists the
// versions holding a content ID.
func lineage(name string, version uint64, get func(string, uint64) (record, bool), byID func(string) []serving.ModelRef) ([]Version, error) {
	cur, ok := get(name, version)
	if !ok {
		return nil, notFound(name, version)
	}
	out := []Version{cur.version()}
	type key struct {
		name string
		v    uint64
	}
	seen := map[key]bool{{name, version}: true}
	for cur.Parent != "" {
		ref, ok := pickParent(cur.Model.Name, byID(cur.Parent))
		if !ok || seen[key{ref.Name, ref.Version}] {
			break
		}
		seen[key{ref.Name, ref.Version}] = true
		p, ok := get(ref.Name, ref.Version)
		if !ok {
			break
		}
		out = append(out, p.version())
		cur = p
	}
	return out, nil
}

// pickParent chooses among the versions holding a parent's content: the
// lowest version of the same name if there is one (the original, not a
// re-publication), otherwise the lowest (name, version).
func pickParent(name string, refs []serving.ModelRef) (serving.ModelRef, bool) {
	if len(refs) == 0 {
		return serving.ModelRef{}, false
	}
	best := refs[0]
	better := func(a, b serving.ModelRef) bool { // a better than b
		if (a.Name == name) != (b.Name == name) {
			return a.Name == name
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	}
	for _, r := range refs[1:] {
		if better(r, best) {
			best = r
		}
	}
	return best, true
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
			return serving.Activation{Model: r.Model, Kind: k, At: r.At.UTC()}, nil
		}
	}
	return serving.Activation{}, fmt.Errorf("registry: corrupt activation record: kind %q", r.Kind)
}

// RecordActivation appends a to the activation history of a.Model.Name.
// a.Kind must be serving.EventActivated, serving.EventRolledBack or
// serving.EventRetired. Recording an activation identical to a stored
// one (same version, content ID, kind and time to the nanosecond) is a
// no-op, so several recorders of the same Server do not duplicate it.
// The history is kept in time order whatever the order of the calls.
func (r *Registry) RecordActivation(ctx context.Context, a serving.Activation) error {
	if err := checkActivation(a); err != nil {
		return err
	}
	a = normActivation(a)
	raw, err := json.Marshal(activationRec{Model: a.Model, Kind: a.Kind.String(), At: a.At})
	if err != nil {
		return err
	}
	name := a.Model.Name
	return r.update(ctx, func(w Writer) error {
		hp := key(kHist, name)
		at := histKey(hp, a.At.UnixNano(), 0)[:len(hp)+8]
		dup := false
		if err := w.Scan(at, end(at), false, func(_, v []byte) (bool, error) {
			old, err := decodeActivation(v)
			if err != nil {
				return false, err
			}
			dup = sameActivation(old, a)
			return !dup, nil
		}); err != nil || dup {
			return err
		}
		qk := key(kSeq, name)
		var seq uint64 = 1
		if q := w.Get(qk); len(q) == 8 {
			seq = binary.BigEndian.Uint64(q) + 1
		}
		if err := w.Put(qk, be64(seq)); err != nil {
			return err
		}
		if err := w.Put(key(kName, name), present); err != nil {
			return err
		}
		return w.Put(histKey(hp, a.At.UnixNano(), seq), raw)
	})
}

// History returns the activation history of name, oldest first.
func (r *Registry) History(ctx context.Context, name string) ([]serving.Activation, error) {
	var out []serving.Activation
	err := r.view(ctx, func(rd Reader) error {
		if !known(rd, name) {
			return notFound(name, 0)
		}
		hp := key(kHist, name)
		return rd.Scan(hp, end(hp), false, func(_, raw []byte) (bool, error) {
			a, err := decodeActivation(raw)
			out = append(out, a)
			return true, err
		})
	})
	return out, err
}

// At returns the model that was active for name at time t according to
// the activation history: the last activation or rollback at or before
// t. An activation at exactly t counts as active at t. It fails with an
// error wrapping ErrNotActive when nothing was active (before the first
// activation, or after a retirement). It seeks the history to t rather
// than reading all of it.
//
// At answers, for a record that carries no provenance, which version
// was probably serving. It is weaker than the provenance the record
// carries (wire.ProvenanceOf), and can be wrong:
//   - Under speculative execution several models are live at once, and
//     which one answered a given record depends on latencies and on the
//     combinator's decision; the history names only the version of one
//     name that was installed, not who won.
//   - A swap is atomic per call, not per timestamp: a record whose call
//     started just before a swap is scored by the old version even if it
//     finished after the new one was activated.
//   - The record's timestamp and the activation times come from
//     different clocks (producer, broker, serving host), and several
//     instances swap at slightly different moments as each reads the
//     models topic. Near a swap, skew of a few milliseconds picks the
//     wrong version.
//   - A history recorded by one instance says nothing certain about
//     another instance that scored the record.
//
// Use it for records from before provenance was stamped, or to bound an
// answer, never to audit a disputed score.
func (r *Registry) At(ctx context.Context, name string, t time.Time) (serving.ModelRef, error) {
	var ref serving.ModelRef
	err := r.view(ctx, func(rd Reader) error {
		if !known(rd, name) {
			return notFound(name, 0)
		}
		hp := key(kHist, name)
		to := end(hp)
		if n := clampNanos(t); n != math.MaxInt64 {
			// The first key after every entry at t: time t+1ns, sequence 0.
			to = histKey(hp, n+1, 0)
		}
		_, raw, err := first(rd, hp, to, true)
		if err != nil {
			return err
		}
		if raw == nil {
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

// SetOffsets records, for topic, the offset of the next message to read
// in each partition given, merging with partitions already stored. A
// model feed calls it after storing the models it read, so that a
// restarted feed resumes there; see the package docs.
func (r *Registry) SetOffsets(ctx context.Context, topic string, next map[int32]int64) error {
	if topic == "" {
		return fmt.Errorf("%w: registry: empty topic", serving.ErrConfig)
	}
	parts := make([]int32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	tp := key(kOff, topic)
	return r.update(ctx, func(w Writer) error {
		for _, p := range parts {
			if err := w.Put(binary.BigEndian.AppendUint32(slices.Clone(tp), uint32(p)), be64(uint64(next[p]))); err != nil {
				return err
			}
		}
		return nil
	})
}

// Offsets returns the offsets stored for topic, or an empty map.
func (r *Registry) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	out := map[int32]int64{}
	tp := key(kOff, topic)
	err := r.view(ctx, func(rd Reader) error {
		return rd.Scan(tp, end(tp), false, func(k, v []byte) (bool, error) {
			if len(k) != len(tp)+4 || len(v) != 8 {
				return false, fmt.Errorf("registry: corrupt offset record for %q", topic)
			}
			out[int32(binary.BigEndian.Uint32(k[len(tp):]))] = int64(binary.BigEndian.Uint64(v))
			return true, nil
		})
	})
	return out, err
}

package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Memory is an in-memory Store. It forgets everything when the process
// ends; use it in tests, or where the models topic is re-read on every
// start anyway. A Memory is safe for concurrent use: reads run in
// parallel, writes are serialised.
type Memory struct {
	o      options
	mu     sync.RWMutex
	closed bool
	models map[string]*memModel
	ids    map[string][]serving.ModelRef // content ID -> versions holding it
	offs   map[string]map[int32]int64
}

type memModel struct {
	versions map[uint64]*memEntry
	order    []uint64 // ascending
	aliases  map[string]uint64
	history  []serving.Activation // time order
}

type memEntry struct {
	meta  Version
	bytes []byte
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory Store. Of the options only
// Retain applies.
func NewMemory(opts ...Option) (*Memory, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Memory{o: o, models: map[string]*memModel{}, ids: map[string][]serving.ModelRef{}, offs: map[string]map[int32]int64{}}, nil
}

func (m *Memory) rlock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return serving.ErrClosed
	}
	return nil
}

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return serving.ErrClosed
	}
	return nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, d serving.Descriptor) (serving.Descriptor, error) {
	v, err := prepare(d)
	if err != nil {
		return d, err
	}
	if err := m.lock(ctx); err != nil {
		return d, err
	}
	defer m.mu.Unlock()
	mm := m.models[d.Name]
	if mm == nil {
		mm = &memModel{versions: map[uint64]*memEntry{}, aliases: map[string]uint64{}}
		m.models[d.Name] = mm
	}
	if v.Model.Version == 0 {
		if n := len(mm.order); n > 0 {
			last := mm.versions[mm.order[n-1]]
			if sameContent(last.meta, v) {
				return withBytes(last.meta.Descriptor(), d.Bytes), nil
			}
			if v.Model.Version, err = nextVersion(d.Name, last.meta.Model.Version); err != nil {
				return d, err
			}
		} else {
			v.Model.Version = 1
		}
	} else if old := mm.versions[v.Model.Version]; old != nil {
		if sameContent(old.meta, v) {
			return withBytes(old.meta.Descriptor(), d.Bytes), nil
		}
		return d, &ConflictError{Name: d.Name, Version: v.Model.Version, Stored: old.meta.Model, Offered: v.Model}
	}
	v.Stored = m.o.now().UTC()
	e := &memEntry{meta: v, bytes: slices.Clone(d.Bytes)}
	mm.versions[v.Model.Version] = e
	i, _ := slices.BinarySearch(mm.order, v.Model.Version)
	mm.order = slices.Insert(mm.order, i, v.Model.Version)
	m.ids[v.Model.ID] = append(m.ids[v.Model.ID], v.Model)
	m.prune(mm)
	return withBytes(v.Descriptor(), d.Bytes), nil
}

func withBytes(d serving.Descriptor, b []byte) serving.Descriptor {
	d.Bytes = b
	return d
}

func (m *Memory) prune(mm *memModel) {
	if m.o.retain == 0 || len(mm.order) <= m.o.retain {
		return
	}
	keep := keepSet(m.o.retain, mm.order, mm.aliases, activeNow(mm.history))
	for _, ver := range mm.order {
		if e := mm.versions[ver]; e.meta.HasBytes && !keep[ver] {
			e.bytes = nil
			e.meta.HasBytes = false
			e.meta.Pruned = true
		}
	}
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, name string, version uint64) (serving.Descriptor, error) {
	if err := m.rlock(ctx); err != nil {
		return serving.Descriptor{}, err
	}
	defer m.mu.RUnlock()
	return m.get(name, version)
}

func (m *Memory) get(name string, version uint64) (serving.Descriptor, error) {
	mm := m.models[name]
	if mm == nil {
		return serving.Descriptor{}, notFound(name, 0)
	}
	e := mm.versions[version]
	if e == nil {
		return serving.Descriptor{}, notFound(name, version)
	}
	d := e.meta.Descriptor()
	if e.meta.Pruned {
		return d, fmt.Errorf("%w: %s", ErrPruned, e.meta.Model)
	}
	d.Bytes = slices.Clone(e.bytes)
	return d, nil
}

// Latest implements Store.
func (m *Memory) Latest(ctx context.Context, name string) (serving.Descriptor, error) {
	if err := m.rlock(ctx); err != nil {
		return serving.Descriptor{}, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil || len(mm.order) == 0 {
		return serving.Descriptor{}, notFound(name, 0)
	}
	return m.get(name, mm.order[len(mm.order)-1])
}

// List implements Store.
func (m *Memory) List(ctx context.Context, name string) ([]Version, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil || len(mm.order) == 0 {
		return nil, notFound(name, 0)
	}
	out := make([]Version, 0, len(mm.order))
	for _, ver := range mm.order {
		out = append(out, cloneVersion(mm.versions[ver].meta))
	}
	return out, nil
}

func cloneVersion(v Version) Version {
	v.Labels = maps.Clone(v.Labels)
	v.Signature = slices.Clone(v.Signature)
	return v
}

// Names implements Store.
func (m *Memory) Names(ctx context.Context) ([]string, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.models))
	for n, mm := range m.models {
		if len(mm.order) > 0 { // not just a history
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// SetAlias implements Store.
func (m *Memory) SetAlias(ctx context.Context, name, alias string, version uint64) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	mm := m.models[name]
	if mm == nil {
		return notFound(name, 0)
	}
	if version == 0 {
		delete(mm.aliases, alias)
		return nil
	}
	if mm.versions[version] == nil {
		return notFound(name, version)
	}
	mm.aliases[alias] = version
	return nil
}

// Resolve implements Store.
func (m *Memory) Resolve(ctx context.Context, name, alias string) (serving.Descriptor, error) {
	if err := m.rlock(ctx); err != nil {
		return serving.Descriptor{}, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil {
		return serving.Descriptor{}, notFound(name, 0)
	}
	if alias == Latest {
		if len(mm.order) == 0 {
			return serving.Descriptor{}, notFound(name, 0)
		}
		return m.get(name, mm.order[len(mm.order)-1])
	}
	ver, ok := mm.aliases[alias]
	if !ok {
		return serving.Descriptor{}, fmt.Errorf("%w: alias %q of %q", ErrNotFound, alias, name)
	}
	return m.get(name, ver)
}

// Aliases implements Store.
func (m *Memory) Aliases(ctx context.Context, name string) (map[string]uint64, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil {
		return nil, notFound(name, 0)
	}
	return maps.Clone(mm.aliases), nil
}

// Lineage implements Store.
func (m *Memory) Lineage(ctx context.Context, name string, version uint64) ([]Version, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	return lineage(name, version, func(n string, v uint64) (Version, bool) {
		if mm := m.models[n]; mm != nil {
			if e := mm.versions[v]; e != nil {
				return cloneVersion(e.meta), true
			}
		}
		return Version{}, false
	}, func(id string) []serving.ModelRef { return m.ids[id] })
}

// lineage walks Parent links. get fetches metadata; byID lists the
// versions holding a content ID.
func lineage(name string, version uint64, get func(string, uint64) (Version, bool), byID func(string) []serving.ModelRef) ([]Version, error) {
	cur, ok := get(name, version)
	if !ok {
		return nil, notFound(name, version)
	}
	out := []Version{cur}
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
		out = append(out, p)
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

// RecordActivation implements Store.
func (m *Memory) RecordActivation(ctx context.Context, a serving.Activation) error {
	if err := checkActivation(a); err != nil {
		return err
	}
	a = normActivation(a)
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	mm := m.models[a.Model.Name]
	if mm == nil {
		mm = &memModel{versions: map[uint64]*memEntry{}, aliases: map[string]uint64{}}
		m.models[a.Model.Name] = mm
	}
	at := a.At.UnixNano()
	// Entries with the same time keep their recording order: insert
	// after every entry at or before a.At.
	i := sort.Search(len(mm.history), func(i int) bool { return mm.history[i].At.UnixNano() > at })
	for j := i - 1; j >= 0 && mm.history[j].At.UnixNano() == at; j-- {
		if sameActivation(mm.history[j], a) {
			return nil
		}
	}
	mm.history = slices.Insert(mm.history, i, a)
	return nil
}

// History implements Store.
func (m *Memory) History(ctx context.Context, name string) ([]serving.Activation, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil {
		return nil, notFound(name, 0)
	}
	return slices.Clone(mm.history), nil
}

// At implements Store.
func (m *Memory) At(ctx context.Context, name string, t time.Time) (serving.ModelRef, error) {
	if err := m.rlock(ctx); err != nil {
		return serving.ModelRef{}, err
	}
	defer m.mu.RUnlock()
	mm := m.models[name]
	if mm == nil {
		return serving.ModelRef{}, notFound(name, 0)
	}
	return activeIn(name, mm.history, t)
}

// SetOffsets implements Store.
func (m *Memory) SetOffsets(ctx context.Context, topic string, next map[int32]int64) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalid)
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	t := m.offs[topic]
	if t == nil {
		t = map[int32]int64{}
		m.offs[topic] = t
	}
	maps.Copy(t, next)
	return nil
}

// Offsets implements Store.
func (m *Memory) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	if err := m.rlock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	out := maps.Clone(m.offs[topic])
	if out == nil {
		out = map[int32]int64{}
	}
	return out, nil
}

// Close implements Store. It drops everything held.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.models, m.ids, m.offs = nil, nil, nil
	return nil
}

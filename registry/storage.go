package registry

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/modelstream/modelstream/serving"
)

// Storage is where a [Registry] keeps its data: an ordered map from byte
// keys to non-empty byte values, read and written in transactions. The
// Registry owns the key layout; a Storage only stores bytes. NewMemory
// uses one in memory, and package registry/bolt one in a local file.
//
// A Storage must be safe for concurrent use: any number of View calls run
// alongside at most one Update at a time.
type Storage interface {
	// View calls fn with a consistent, read-only snapshot.
	View(ctx context.Context, fn func(Reader) error) error
	// Update calls fn with a writable snapshot. Its writes apply
	// atomically when fn returns nil, durably (for a durable Storage)
	// before Update returns, and not at all when fn or the commit fails.
	// When fn panics, its writes are rolled back and the panic goes on.
	Update(ctx context.Context, fn func(Writer) error) error
	// Close releases the Storage; later calls fail with serving.ErrClosed.
	Close() error
}

// Reader reads a Storage within a transaction. Slices it returns are
// valid until the transaction ends and must not be modified.
type Reader interface {
	// Get returns the value of key, or nil if it is absent.
	Get(key []byte) []byte
	// Scan calls fn for each key in [from, to) in ascending order, or in
	// descending order when reverse is set, until fn returns false or an
	// error. A nil to means no upper bound. fn must not write.
	Scan(from, to []byte, reverse bool, fn func(key, value []byte) (bool, error)) error
}

// Writer writes a Storage within an Update. Put keeps value as given
// until the transaction ends; the caller must not modify it meanwhile.
type Writer interface {
	Reader
	Put(key, value []byte) error
	Delete(key []byte) error
}

// memStorage is the Storage of NewMemory: a sorted key slice and a map.
type memStorage struct {
	mu     sync.RWMutex
	closed bool
	keys   []string // sorted
	vals   map[string][]byte
}

func newMemStorage() *memStorage { return &memStorage{vals: map[string][]byte{}} }

func (m *memStorage) View(ctx context.Context, fn func(Reader) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return serving.ErrClosed
	}
	return fn(&memTx{m: m})
}

func (m *memStorage) Update(ctx context.Context, fn func(Writer) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return serving.ErrClosed
	}
	tx := &memTx{m: m, write: true}
	// As bbolt's DB.Update: a panic in fn rolls the writes back and
	// goes on panicking.
	done := false
	defer func() {
		if !done {
			tx.rollback()
		}
	}()
	err := fn(tx)
	if err != nil {
		tx.rollback()
	}
	done = true
	return err
}

func (m *memStorage) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed, m.keys, m.vals = true, nil, nil
	return nil
}

// memTx applies writes in place and remembers how to undo them.
type memTx struct {
	m     *memStorage
	write bool
	undo  []memUndo
}

type memUndo struct {
	key string
	old []byte // nil: the key was absent
}

func (tx *memTx) Get(key []byte) []byte { return tx.m.vals[string(key)] }

func (tx *memTx) Scan(from, to []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	keys := tx.m.keys
	i := sort.SearchStrings(keys, string(from))
	j := len(keys)
	if to != nil {
		j = sort.SearchStrings(keys, string(to))
	}
	for n := i; n < j; n++ {
		k := keys[n]
		if reverse {
			k = keys[j-1-(n-i)]
		}
		more, err := fn([]byte(k), tx.m.vals[k])
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (tx *memTx) Put(key, value []byte) error {
	k := string(key)
	old, had := tx.m.vals[k]
	tx.undo = append(tx.undo, memUndo{k, old})
	if !had {
		i := sort.SearchStrings(tx.m.keys, k)
		tx.m.keys = slices.Insert(tx.m.keys, i, k)
	}
	tx.m.vals[k] = bytes.Clone(value)
	return nil
}

func (tx *memTx) Delete(key []byte) error {
	k := string(key)
	old, had := tx.m.vals[k]
	if !had {
		return nil
	}
	tx.undo = append(tx.undo, memUndo{k, old})
	tx.del(k)
	return nil
}

func (tx *memTx) del(k string) {
	delete(tx.m.vals, k)
	if i, ok := slices.BinarySearch(tx.m.keys, k); ok {
		tx.m.keys = slices.Delete(tx.m.keys, i, i+1)
	}
}

func (tx *memTx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		u := tx.undo[i]
		if u.old == nil {
			tx.del(u.key)
			continue
		}
		if _, ok := tx.m.vals[u.key]; !ok {
			j := sort.SearchStrings(tx.m.keys, u.key)
			tx.m.keys = slices.Insert(tx.m.keys, j, u.key)
		}
		tx.m.vals[u.key] = u.old
	}
}

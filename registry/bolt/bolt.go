// Package bolt is the durable [registry.Storage]: one local file in
// bbolt (go.etcd.io/bbolt), a copy-on-write B+tree whose every write
// transaction is committed with fsync, so an acknowledged write of a
// registry survives a crash of the process or the machine, and a crash
// mid-write leaves the file as it was before that write.
//
//	st, err := bolt.Open(path)
//	if err != nil { ... }
//	reg, err := registry.New(st, registry.Retain(10))
//
// One process at a time may open the file; Open waits up to LockTimeout
// for another to release it. A Storage is safe for concurrent use: reads
// run in parallel with each other and with the one writer.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
)

// Storage is a registry.Storage in one bbolt file. All keys live in one
// bucket, "registry".
type Storage struct {
	db     *bbolt.DB
	closed atomic.Bool
}

var _ registry.Storage = (*Storage)(nil)

var bucket = []byte("registry")

// Option configures Open.
type Option func(*options)

type options struct{ lockTimeout time.Duration }

// LockTimeout bounds how long Open waits for another process to release
// the file, overriding the default of 5s.
func LockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// Open opens or creates the file at path. It refuses a file written by
// the registry's first file layout (buckets "meta" and "models"), which
// this one does not read: re-read the models topic into a new file.
func Open(path string, opts ...Option) (*Storage, error) {
	o := options{lockTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.lockTimeout <= 0 {
		return nil, fmt.Errorf("%w: bolt: LockTimeout(%v): must be positive", serving.ErrConfig, o.lockTimeout)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.lockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("models")) != nil {
			return fmt.Errorf("%w: the file has the registry's first layout, which this version does not read", serving.ErrCorruptState)
		}
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Storage{db: db}, nil
}

// Check walks the whole file and returns the first inconsistency bbolt
// finds in its pages, or nil.
func (s *Storage) Check() error {
	return s.run(false, func(tx *bbolt.Tx) error {
		// Read the channel to its end: bbolt's check goroutine sends every
		// problem and, left unread, would block forever on a page of this
		// transaction after it ended.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return first
	})
}

func (s *Storage) run(write bool, fn func(*bbolt.Tx) error) error {
	if s.closed.Load() {
		return serving.ErrClosed
	}
	var err error
	if write {
		err = s.db.Update(fn)
	} else {
		err = s.db.View(fn)
	}
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return serving.ErrClosed
	}
	return err
}

// View implements registry.Storage.
func (s *Storage) View(ctx context.Context, fn func(registry.Reader) error) error {
	return s.run(false, func(tx *bbolt.Tx) error { return fn(txn{tx.Bucket(bucket)}) })
}

// Update implements registry.Storage. The transaction is committed with
// fsync before Update returns.
func (s *Storage) Update(ctx context.Context, fn func(registry.Writer) error) error {
	return s.run(true, func(tx *bbolt.Tx) error { return fn(txn{tx.Bucket(bucket)}) })
}

// Close implements registry.Storage. It waits for running transactions
// to finish.
func (s *Storage) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

type txn struct{ b *bbolt.Bucket }

func (t txn) Get(key []byte) []byte { return t.b.Get(key) }

func (t txn) Put(key, value []byte) error { return t.b.Put(key, value) }

func (t txn) Delete(key []byte) error { return t.b.Delete(key) }

func (t txn) Scan(from, to []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	c := t.b.Cursor()
	var k, v []byte
	if !reverse {
		for k, v = c.Seek(from); k != nil && (to == nil || bytes.Compare(k, to) < 0); k, v = c.Next() {
			if more, err := fn(k, v); err != nil || !more {
				return err
			}
		}
		return nil
	}
	if to == nil {
		k, v = c.Last()
	} else if k, v = c.Seek(to); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.Compare(k, from) >= 0; k, v = c.Prev() {
		if more, err := fn(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}

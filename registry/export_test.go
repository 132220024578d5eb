package registry

import (
	"context"
	"errors"
	"sync/atomic"
)

// OpenBolt opens a Registry over package registry/bolt, with a check of
// the file's consistency. registry/bolt imports this package, so the
// tests here cannot import it; hook_test.go, in package registry_test of
// the same test binary, sets OpenBolt.
var OpenBolt func(path string, opts ...Option) (reg *Registry, check func() error, err error)

// OpenBoltStorage opens a registry/bolt Storage; hook_test.go sets it.
var OpenBoltStorage func(path string) (Storage, error)

// Open opens a durable Registry at path for the tests.
func Open(path string, opts ...Option) (*Registry, error) {
	r, _, err := OpenBolt(path, opts...)
	return r, err
}

// failingStorage fails every Update once fail is set.
type failingStorage struct {
	Storage
	fail atomic.Bool
}

func (f *failingStorage) Update(ctx context.Context, fn func(Writer) error) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	return f.Storage.Update(ctx, fn)
}

package registry_test

import (
	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
)

func init() {
	registry.OpenBolt = func(path string, opts ...registry.Option) (*registry.Registry, func() error, error) {
		st, err := bolt.Open(path)
		if err != nil {
			return nil, nil, err
		}
		r, err := registry.New(st, opts...)
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		return r, st.Check, nil
	}
	registry.OpenBoltStorage = func(path string) (registry.Storage, error) { return bolt.Open(path) }
}

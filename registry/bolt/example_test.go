package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// A durable registry is a Registry over a bolt Storage; what it
// acknowledged is there after a restart.
func Example() {
	dir, _ := os.MkdirTemp("", "registry")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "models.db")
	ctx := context.Background()

	st, err := bolt.Open(path)
	if err != nil {
		panic(err)
	}
	reg, err := registry.New(st, registry.Retain(10))
	if err != nil {
		panic(err)
	}
	d, _ := reg.Put(ctx, servingtest.Spec{Value: 1}.Descriptor("fraud", 0))
	reg.SetAlias(ctx, "fraud", "champion", d.Version)
	reg.Close()

	st, _ = bolt.Open(path) // a restart
	reg, _ = registry.New(st)
	defer reg.Close()
	champ, err := reg.Resolve(ctx, "fraud", "champion")
	fmt.Println(champ.Ref(), err)
	// Output: fraud@v1 <nil>
}

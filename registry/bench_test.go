package registry

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// benchSizes are model sizes: a small linear model, a mid-size tree
// ensemble, and a 1 MiB model.
var benchSizes = []int{1 << 10, 64 << 10, 1 << 20}

// benchPutOpts are the store options of BenchmarkBoltPut: retention on,
// so the file stays the same size and pruning is part of the cost.
var benchPutOpts = []Option{Retain(8)}

// BenchmarkBoltPut measures one durable Put, fsync included, which
// dominates: the number is the disk's fsync latency plus the copy.
func BenchmarkBoltPut(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), benchPutOpts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			buf := make([]byte, size)
			rand.Read(buf)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf[0], buf[1], buf[2], buf[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
				if _, err := s.Put(ctx, serving.Descriptor{Name: "m", Format: "blob", Bytes: buf}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBoltGet measures Get of a stored version, bytes copied out.
func BenchmarkBoltGet(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			buf := make([]byte, size)
			for v := 0; v < 16; v++ {
				rand.Read(buf)
				if _, err := s.Put(ctx, serving.Descriptor{Name: "m", Format: "blob", Bytes: buf}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Get(ctx, "m", uint64(1+i%16)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFsyncBaseline is the floor under BenchmarkBoltPut, measured in
// the same run: appending the same bytes to a plain file and calling
// fsync once. bbolt's commit writes the data pages and then the meta
// page, with an fsync after each, so a ratio near 2 is the expected cost
// of its crash safety.
func BenchmarkFsyncBaseline(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			rand.Read(buf)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryGet is the in-memory store's Get, for comparison with
// BenchmarkBoltGet.
func BenchmarkMemoryGet(b *testing.B) {
	s, _ := NewMemory()
	ctx := context.Background()
	buf := make([]byte, 64<<10)
	for v := 0; v < 16; v++ {
		rand.Read(buf)
		if _, err := s.Put(ctx, serving.Descriptor{Name: "m", Format: "blob", Bytes: buf}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(ctx, "m", uint64(1+i%16)); err != nil {
			b.Fatal(err)
		}
	}
}

// Package crashfs is an in-memory atomicfile.FS for tests that models
// what survives a crash, as POSIX promises it: a file's data is durable
// once the file is synced, and a directory's entries (a new name, a
// rename, a removal) once the directory is synced. Each operation is a
// numbered step; the step numbered FailAt fails (the process dies
// there: nothing after it runs), and Crash returns the filesystem as a
// restarted process finds it.
package crashfs

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/modelstream/modelstream/internal/atomicfile"
)

// ErrCrash is the error of the failed step.
var ErrCrash = errors.New("injected crash")

// FS is the crashing filesystem. It is not safe for concurrent use.
type FS struct {
	// FailAt is the step that fails, counted from 1; 0 fails none.
	FailAt int
	// Step is the number of steps taken, and Steps their names
	// ("create", "write", "sync", "close", "rename", "sync dir").
	Step  int
	Steps []string

	inodes       []*inode
	dir, durable map[string]int // name → inode, as seen and as on disk
	temps        int
	clock        int64 // modification time of the next change
}

// inode is a file; mtime is its modification time on a logical clock.
type inode struct {
	data, synced []byte
	mtime        int64
}

func (c *FS) tick() int64 { c.clock++; return c.clock }

// New returns an empty filesystem.
func New() *FS { return &FS{dir: map[string]int{}, durable: map[string]int{}} }

var _ atomicfile.FS = (*FS)(nil)

func (c *FS) op(what string) error {
	c.Step++
	c.Steps = append(c.Steps, what)
	if c.Step == c.FailAt {
		return fmt.Errorf("%s: %w", what, ErrCrash)
	}
	return nil
}

// Put writes a durable file, as if it had been there for a while: it is
// older than every file made after it.
func (c *FS) Put(name string, b []byte) {
	c.inodes = append(c.inodes, &inode{data: b, synced: b, mtime: c.tick()})
	c.dir[name] = len(c.inodes) - 1
	c.durable[name] = len(c.inodes) - 1
}

// Crash returns what a restarted process finds: the durable entries,
// each with its durable data.
func (c *FS) Crash() *FS {
	n := New()
	for name, i := range c.durable {
		n.Put(name, append([]byte(nil), c.inodes[i].synced...))
		n.inodes[n.dir[name]].mtime = c.inodes[i].mtime
	}
	n.clock = c.clock
	return n
}

// Names returns the names in the filesystem as the running process sees
// them, sorted.
func (c *FS) Names() []string { return slices.Sorted(maps.Keys(c.dir)) }

// CreateTemp implements atomicfile.FS.
func (c *FS) CreateTemp(dir, pattern string) (atomicfile.File, error) {
	if err := c.op("create"); err != nil {
		return nil, err
	}
	c.temps++
	name := filepath.Join(dir, strings.Replace(pattern, "*", fmt.Sprint(c.temps), 1))
	c.inodes = append(c.inodes, &inode{mtime: c.tick()})
	c.dir[name] = len(c.inodes) - 1
	return &file{fs: c, name: name, ino: c.inodes[len(c.inodes)-1]}, nil
}

// Rename implements atomicfile.FS.
func (c *FS) Rename(oldpath, newpath string) error {
	if err := c.op("rename"); err != nil {
		return err
	}
	i, ok := c.dir[oldpath]
	if !ok {
		return fs.ErrNotExist
	}
	delete(c.dir, oldpath)
	c.dir[newpath] = i
	return nil
}

// Remove implements atomicfile.FS. Cleanup after a failure runs in a
// process that is already dead when the failure was a crash; it is not
// a step that can fail.
func (c *FS) Remove(name string) error {
	delete(c.dir, name)
	return nil
}

// SyncDir implements atomicfile.FS.
func (c *FS) SyncDir(dir string) error {
	if err := c.op("sync dir"); err != nil {
		return err
	}
	c.durable = map[string]int{}
	for name, i := range c.dir {
		c.durable[name] = i
	}
	return nil
}

// ReadFile implements atomicfile.FS.
func (c *FS) ReadFile(name string) ([]byte, error) {
	i, ok := c.dir[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), c.inodes[i].data...), nil
}

// ReadDir implements atomicfile.DirReader: the entries of dir as the
// running process sees them, sorted by name, each a regular file whose
// modification time is the logical clock (nanoseconds since 1970) of
// its last change. Reading is not a step.
func (c *FS) ReadDir(dir string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	for _, name := range c.Names() {
		if filepath.Dir(name) == dir {
			ino := c.inodes[c.dir[name]]
			out = append(out, entry{name: filepath.Base(name), size: int64(len(ino.data)), mtime: time.Unix(0, ino.mtime)})
		}
	}
	return out, nil
}

var _ atomicfile.DirReader = (*FS)(nil)

// entry is a directory entry and its own fs.FileInfo.
type entry struct {
	name  string
	size  int64
	mtime time.Time
}

func (e entry) Name() string               { return e.name }
func (e entry) IsDir() bool                { return false }
func (e entry) Type() fs.FileMode          { return 0 }
func (e entry) Info() (fs.FileInfo, error) { return e, nil }
func (e entry) Size() int64                { return e.size }
func (e entry) Mode() fs.FileMode          { return 0o644 }
func (e entry) ModTime() time.Time         { return e.mtime }
func (e entry) Sys() any                   { return nil }

type file struct {
	fs     *FS
	name   string
	ino    *inode
	closed bool
}

func (f *file) Name() string { return f.name }

func (f *file) Write(b []byte) (int, error) {
	if err := f.fs.op("write"); err != nil {
		// A crash in the middle of a write leaves part of it.
		f.ino.data = append(f.ino.data, b[:len(b)/2]...)
		return len(b) / 2, err
	}
	f.ino.data = append(f.ino.data, b...)
	f.ino.mtime = f.fs.tick()
	return len(b), nil
}

func (f *file) Sync() error {
	if err := f.fs.op("sync"); err != nil {
		return err
	}
	f.ino.synced = append([]byte(nil), f.ino.data...)
	return nil
}

func (f *file) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return f.fs.op("close")
}

package training

import (
	"io"
	"os"
)

// ckptFS is the filesystem seam of checkpoint writes and reads: the
// operating system's, or a test's that injects a crash at any step and
// models what survives it.
type ckptFS interface {
	CreateTemp(dir, pattern string) (ckptFile, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
	ReadFile(name string) ([]byte, error)
}

// ckptFile is the part of *os.File that writeCheckpoint uses.
type ckptFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// checkpointFS is the filesystem checkpoints use; tests replace it.
var checkpointFS ckptFS = osFS{}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (ckptFile, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(oldpath, newpath string) error             { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                         { return os.Remove(name) }
func (osFS) ReadFile(name string) ([]byte, error)             { return os.ReadFile(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

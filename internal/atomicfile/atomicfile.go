// Package atomicfile replaces a file atomically and durably: a
// temporary file in the same directory, written, synced and closed, then
// renamed over the old one, then the directory synced. A crash at any
// step leaves the old file or the new one, whole; once Write returns nil
// the new one survives a crash of the machine too.
//
// The filesystem is a seam ([FS]) so that tests can fail each step and
// model what a crash leaves (package crashfs).
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// FS is the part of a filesystem Write and its readers use.
type FS interface {
	CreateTemp(dir, pattern string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
	ReadFile(name string) ([]byte, error)
}

// File is the part of *os.File that Write uses.
type File interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// OS is the operating system's filesystem.
var OS FS = osFS{}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }

// Stat lets a caller check, before its first Write, that a file's
// directory exists; an FS may leave it out (crashfs does).
func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Write replaces the file at path with data: it creates a temporary
// file beside it, writes data, syncs and closes it, renames it over
// path and syncs the directory. On error the temporary file is removed
// and path is left as it was, or, if the error came from the directory
// sync, holds data but may not survive a crash of the machine.
func Write(fsys FS, path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := fsys.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			fsys.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

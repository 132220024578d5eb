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
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
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

// DirReader is an FS that lists a directory; with it, Write removes the
// temporary files of earlier Writes that a crash left behind.
type DirReader interface {
	ReadDir(dir string) ([]fs.DirEntry, error)
}

// ReadDir implements DirReader.
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }

// Write replaces the file at path with data: it creates a temporary
// file beside it, writes data, syncs and closes it, renames it over
// path and syncs the directory. On error the temporary file is removed
// and path is left as it was, or, if the error came from the directory
// sync, holds data but may not survive a crash of the machine.
//
// A process that dies between creating the temporary file and the
// rename leaves that file behind. When fsys is a [DirReader], a Write
// that succeeds removes them: the files beside path named as Write names
// its temporary files for path (".NAME.tmp-" and decimal digits) and
// last modified before path's new content was written. Writes to the
// same path must not run concurrently (in one process or several): one
// may remove the other's temporary file, which then fails.
func Write(fsys FS, path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := write(fsys, dir, path, data); err != nil {
		return err
	}
	if dr, ok := fsys.(DirReader); ok {
		removeLeftovers(fsys, dr, dir, filepath.Base(path))
	}
	return nil
}

// removeLeftovers removes base's temporary files in dir older than base
// itself, comparing modification times of the same filesystem clock.
// It is best effort: Write has succeeded, and a leftover it misses (a
// coarse clock, an error) goes with a later Write.
func removeLeftovers(fsys FS, dr DirReader, dir, base string) {
	ents, err := dr.ReadDir(dir)
	if err != nil {
		return
	}
	var stale []fs.DirEntry
	var written time.Time
	for _, e := range ents {
		switch {
		case e.Name() == base:
			info, err := e.Info()
			if err != nil {
				return
			}
			written = info.ModTime()
		case isTemp(e.Name(), base) && e.Type().IsRegular():
			stale = append(stale, e)
		}
	}
	if written.IsZero() {
		return
	}
	for _, e := range stale {
		if info, err := e.Info(); err == nil && info.ModTime().Before(written) {
			fsys.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// isTemp reports whether name is one of Write's temporary files for
// base: "."+base+".tmp-" and the decimal digits CreateTemp puts for *.
func isTemp(name, base string) bool {
	digits, ok := strings.CutPrefix(name, "."+base+tempInfix)
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

const tempInfix = ".tmp-"

func write(fsys FS, dir, path string, data []byte) (err error) {
	f, err := fsys.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
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

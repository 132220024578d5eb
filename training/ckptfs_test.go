package training

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// crashFS is an in-memory filesystem that models what survives a crash,
// as POSIX promises it: a file's data is durable once the file is
// synced, and a directory's entries (a new name, a rename, a removal)
// once the directory is synced. Each operation is a numbered step, and
// the step numbered failAt fails (the process dies there: nothing after
// it runs). crash then returns the filesystem as a restarted process
// would find it.
type crashFS struct {
	step, failAt int
	steps        []string // the operations, in order
	inodes       []*inode
	dir, durable map[string]int // name → inode, as seen and as on disk
	temps        int
}

type inode struct{ data, synced []byte }

var errInjectedCrash = errors.New("injected crash")

func newCrashFS() *crashFS {
	return &crashFS{dir: map[string]int{}, durable: map[string]int{}}
}

// op numbers an operation and fails it if it is the one to fail.
func (c *crashFS) op(what string) error {
	c.step++
	c.steps = append(c.steps, what)
	if c.step == c.failAt {
		return fmt.Errorf("%s: %w", what, errInjectedCrash)
	}
	return nil
}

// put writes a durable file, as if it had been there for a while.
func (c *crashFS) put(name string, b []byte) {
	c.inodes = append(c.inodes, &inode{data: b, synced: b})
	c.dir[name] = len(c.inodes) - 1
	c.durable[name] = len(c.inodes) - 1
}

// crash returns what a restarted process finds: the durable entries,
// each with its durable data.
func (c *crashFS) crash() *crashFS {
	n := newCrashFS()
	for name, i := range c.durable {
		n.put(name, append([]byte(nil), c.inodes[i].synced...))
	}
	return n
}

func (c *crashFS) CreateTemp(dir, pattern string) (ckptFile, error) {
	if err := c.op("create"); err != nil {
		return nil, err
	}
	c.temps++
	name := filepath.Join(dir, strings.Replace(pattern, "*", fmt.Sprint(c.temps), 1))
	c.inodes = append(c.inodes, &inode{})
	c.dir[name] = len(c.inodes) - 1
	return &crashFile{fs: c, name: name, ino: c.inodes[len(c.inodes)-1]}, nil
}

func (c *crashFS) Rename(oldpath, newpath string) error {
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

func (c *crashFS) Remove(name string) error {
	// Cleanup after a failure runs in a process that is already dead
	// when the failure was a crash; it is not a step that can fail.
	delete(c.dir, name)
	return nil
}

func (c *crashFS) SyncDir(dir string) error {
	if err := c.op("sync dir"); err != nil {
		return err
	}
	c.durable = map[string]int{}
	for name, i := range c.dir {
		c.durable[name] = i
	}
	return nil
}

func (c *crashFS) ReadFile(name string) ([]byte, error) {
	i, ok := c.dir[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), c.inodes[i].data...), nil
}

type crashFile struct {
	fs     *crashFS
	name   string
	ino    *inode
	closed bool
}

func (f *crashFile) Name() string { return f.name }

func (f *crashFile) Write(b []byte) (int, error) {
	if err := f.fs.op("write"); err != nil {
		// A crash in the middle of a write leaves part of it.
		f.ino.data = append(f.ino.data, b[:len(b)/2]...)
		return len(b) / 2, err
	}
	f.ino.data = append(f.ino.data, b...)
	return len(b), nil
}

func (f *crashFile) Sync() error {
	if err := f.fs.op("sync"); err != nil {
		return err
	}
	f.ino.synced = append([]byte(nil), f.ino.data...)
	return nil
}

func (f *crashFile) Close() error {
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return f.fs.op("close")
}

// withFS makes checkpoints use c until the test ends.
func withFS(t *testing.T, c ckptFS) {
	old := checkpointFS
	checkpointFS = c
	t.Cleanup(func() { checkpointFS = old })
}

// TestCheckpointSurvivesACrashAtEveryStep saves a learner over an older
// checkpoint, crashing at each step of the save in turn (create, write,
// sync, close, rename, directory sync) and also just after Save
// returned, and restores what a restarted process finds. It must always
// find a whole checkpoint: the old one if Save failed, the new one if
// Save returned nil. Dropping the file's fsync, the rename or the
// directory's fsync from writeCheckpoint makes this test fail.
func TestCheckpointSurvivesACrashAtEveryStep(t *testing.T) {
	data := genLinear(200, 1, 0.1)
	l, _ := NewLearner(Linear, 5)
	for _, s := range data[:100] {
		l.Learn(s)
	}
	const path = "/ckpt/learner.ckpt"
	var oldFile []byte
	{
		c := newCrashFS()
		withFS(t, c)
		if err := l.Save(path); err != nil {
			t.Fatal(err)
		}
		oldFile, _ = c.ReadFile(path)
	}
	oldPred := predictAll(t, l, data[:10])
	for _, s := range data[100:] {
		l.Learn(s)
	}
	newPred := predictAll(t, l, data[:10])

	var steps []string
	for failAt := 1; ; failAt++ {
		c := newCrashFS()
		c.put(path, oldFile)
		c.failAt = failAt
		withFS(t, c)
		err := l.Save(path)
		if err == nil && c.step < failAt {
			// Every step ran: crash just after Save returned.
			failAt, steps = 0, c.steps
		} else if !errors.Is(err, errInjectedCrash) {
			t.Fatalf("crash at step %d: Save returned %v", failAt, err)
		}
		at := "after Save returned"
		if failAt > 0 {
			at = fmt.Sprintf("at step %d (%s)", failAt, c.steps[failAt-1])
		}
		withFS(t, c.crash())
		r, rerr := RestoreLearner(path)
		switch {
		case rerr != nil:
			t.Errorf("crash %s: no whole checkpoint survives: %v", at, rerr)
		case err == nil:
			if got := predictAll(t, r, data[:10]); !equalBits(got, newPred) {
				t.Errorf("crash %s: Save returned nil, but the restarted process finds the old checkpoint", at)
			}
		default:
			if got := predictAll(t, r, data[:10]); !equalBits(got, oldPred) && !equalBits(got, newPred) {
				t.Errorf("crash %s: the checkpoint found is neither the old nor the new one", at)
			}
		}
		if failAt == 0 {
			break
		}
	}
	if want := "create write sync close rename sync dir"; strings.Join(steps, " ") != want {
		t.Errorf("a save takes the steps %q, want %q (update the test when they change)", strings.Join(steps, " "), want)
	}
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

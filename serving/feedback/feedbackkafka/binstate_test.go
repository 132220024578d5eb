package feedbackkafka

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"

	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// binState is a Stateful whose encoding is not JSON.
type binState struct{ b []byte }

func (s *binState) MarshalBinary() ([]byte, error) { return bytes.Clone(s.b), nil }
func (s *binState) UnmarshalBinary(b []byte) error { s.b = bytes.Clone(b); return nil }

// TestCheckpointRestoresBinaryStates: a state whose MarshalBinary is not
// JSON (a gob, a protobuf) comes back from the checkpoint as it was
// saved, and so does one that is JSON, even a JSON string. The save
// wrapped a binary encoding as a base64 JSON string to keep the file
// JSON, but the restore handed that string to UnmarshalBinary: the
// state came back as its base64 text, or, for a state that checks what
// it reads, every restart failed with ErrCorruptState.
func TestCheckpointRestoresBinaryStates(t *testing.T) {
	c := kafkatest.New(t)
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	const path = "/feedback/cp.json"
	withFS(t, crashfs.New())
	states := map[string][]byte{
		"gob":    {0x0e, 0xff, 0x81, 0x03, 0x01, 0x01, 0x00},
		"json":   []byte(`{"n":1}`),
		"string": []byte(`"AAEC"`), // JSON, and also what a wrapped binary state looks like
		"empty":  {},
	}
	newReader := func(fill bool) (*Reader, map[string]*binState) {
		j, _ := feedback.NewJoiner(time.Minute, 10)
		opts := []Option{Checkpoint(path, time.Hour)}
		got := map[string]*binState{}
		for name, b := range states {
			s := &binState{}
			if fill {
				s.b = bytes.Clone(b)
			}
			got[name] = s
			opts = append(opts, Save(name, s))
		}
		r, err := NewReader(cfg, "s", "l", j, func(feedback.Match) error { return nil }, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return r, got
	}
	r, _ := newReader(true)
	if err := r.save(map[string]int64{"s/0": 1}); err != nil {
		t.Fatal(err)
	}
	restarted, got := newReader(false)
	if _, err := restarted.restore(); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for name, want := range states {
		if !bytes.Equal(got[name].b, want) {
			t.Errorf("state %q restored as %q, saved as %q", name, got[name].b, want)
		}
	}
}

// eioFS fails every read with EIO.
type eioFS struct{ *crashfs.FS }

func (eioFS) ReadFile(name string) ([]byte, error) {
	return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EIO}
}

// TestCheckpointReadErrorIsNotCorruptState: a checkpoint that cannot be
// read (EIO, EACCES) fails Run with the I/O error, not with
// serving.ErrCorruptState, which says the file is not a checkpoint: a
// program that sets a corrupt checkpoint aside and starts over would
// otherwise drop a good one on a passing disk error and count every
// record since the beginning twice. The read error was wrapped as
// corrupt state.
func TestCheckpointReadErrorIsNotCorruptState(t *testing.T) {
	c := kafkatest.New(t)
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	prev := checkpointFS
	checkpointFS = eioFS{crashfs.New()}
	t.Cleanup(func() { checkpointFS = prev })
	j, _ := feedback.NewJoiner(time.Minute, 10)
	r, err := NewReader(cfg, "s", "l", j, func(feedback.Match) error { return nil }, Checkpoint("/feedback/cp.json", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.restore()
	if !errors.Is(err, syscall.EIO) || errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("restore with an unreadable checkpoint: %v; want EIO, not ErrCorruptState", err)
	}
}

// TestCheckpointRestoresLegacyBinaryStates: a checkpoint written before
// binary states had their own field kept them in "states" as base64
// JSON strings. Such a file (it has no "format") is still restored as it
// was saved: a wrapped binary state is unwrapped, and JSON states,
// including a JSON string of text that is not base64 of non-JSON bytes,
// are handed over as they are. The wrapped state was restored as its
// base64 text.
func TestCheckpointRestoresLegacyBinaryStates(t *testing.T) {
	c := kafkatest.New(t)
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	const path = "/feedback/cp.json"
	fsys := crashfs.New()
	withFS(t, fsys)
	j, _ := feedback.NewJoiner(time.Minute, 10)
	join, err := j.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// What the save wrote then: non-JSON encodings wrapped as strings.
	legacy := `{"offsets":{"s/0":3},"join":` + string(join) + `,"states":{` +
		`"gob":"Dv+BAwEBAA==",` + // base64 of the gob bytes below
		`"json":{"n":1},` +
		`"word":"hello",` + // a JSON string that is not base64
		`"jsonish":"eyJuIjoxfQ=="` + // base64 of {"n":1}: JSON, so the save never wrapped it
		`}}`
	fsys.Put(path, []byte(legacy))
	want := map[string][]byte{
		"gob":     {0x0e, 0xff, 0x81, 0x03, 0x01, 0x01, 0x00},
		"json":    []byte(`{"n":1}`),
		"word":    []byte(`"hello"`),
		"jsonish": []byte(`"eyJuIjoxfQ=="`),
	}
	opts := []Option{Checkpoint(path, time.Hour)}
	got := map[string]*binState{}
	for name := range want {
		got[name] = &binState{}
		opts = append(opts, Save(name, got[name]))
	}
	r, err := NewReader(cfg, "s", "l", j, func(feedback.Match) error { return nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	offsets, err := r.restore()
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if offsets["s/0"] != 3 {
		t.Errorf("offsets %v, want s/0 at 3", offsets)
	}
	for name, w := range want {
		if !bytes.Equal(got[name].b, w) {
			t.Errorf("legacy state %q restored as %q, saved as %q", name, got[name].b, w)
		}
	}
}

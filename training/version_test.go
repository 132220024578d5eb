package training

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// lookupPublisher records what it is given and answers LatestVersion
// with the newest version it holds (or with err), counting the calls.
type lookupPublisher struct {
	held    []serving.Descriptor // what was published before, and since
	err     error
	lookups int
}

func (p *lookupPublisher) Publish(_ context.Context, d serving.Descriptor) error {
	p.held = append(p.held, d)
	return nil
}

func (p *lookupPublisher) LatestVersion(context.Context, string) (serving.ModelRef, error) {
	p.lookups++
	if p.err != nil {
		return serving.ModelRef{}, p.err
	}
	var latest serving.ModelRef
	for _, d := range p.held {
		if d.Version > latest.Version {
			latest = d.Ref()
		}
	}
	return latest, nil
}

// since returns the versions published after the first n held.
func (p *lookupPublisher) since(n int) []serving.Descriptor { return p.held[n:] }

// trainOnce runs a trainer over n fresh records with a count trigger
// of 100, without a checkpoint unless opts add one.
func trainOnce(t *testing.T, pub Publisher, n int, seed uint64, opts ...TrainerOption) *Trainer {
	t.Helper()
	l, _ := NewLearner(Logistic, 3)
	opts = append([]TrainerOption{EveryRecords(100), WithLogger(quietLogger)}, opts...)
	tr, err := NewTrainer("m", l, &sliceSource{data: conceptStream(n, 1<<30, seed)}, pub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// checkChain checks that ds are versions first, first+1, ... each the
// child of the one before, the first the child of parent (version pv).
func checkChain(t *testing.T, ds []serving.Descriptor, first uint64, parent string, pv uint64) {
	t.Helper()
	for i, d := range ds {
		wantV, wantP, wantPV := first+uint64(i), parent, pv
		if i > 0 {
			wantP, wantPV = ds[i-1].SHA256, ds[i-1].Version
		}
		gotPV := d.Labels[LabelParentVersion]
		if d.Version != wantV || d.Parent != wantP || (wantPV == 0 && gotPV != "") || (wantPV > 0 && gotPV != strconv.FormatUint(wantPV, 10)) {
			t.Errorf("published #%d: v%d parent %.8q (label %q), want v%d parent %.8q (v%d)", i, d.Version, d.Parent, gotPV, wantV, wantP, wantPV)
		}
	}
}

// A trainer restarted without a checkpoint numbers after the versions
// its publisher already holds, and its first version's parent is the
// latest of them: it never re-publishes v1.
func TestTrainerNumbersAfterPublishedVersions(t *testing.T) {
	pub := &lookupPublisher{}
	trainOnce(t, pub, 300, 1)
	checkChain(t, pub.held, 1, "", 0)
	if len(pub.held) != 3 {
		t.Fatalf("first run published %d versions, want 3", len(pub.held))
	}
	// The restart: no checkpoint, other data.
	tr := trainOnce(t, pub, 200, 2)
	got := pub.since(3)
	if len(got) != 2 {
		t.Fatalf("second run published %d versions, want 2", len(got))
	}
	checkChain(t, got, 4, pub.held[2].SHA256, 3)
	if pub.lookups != 2 {
		t.Errorf("%d lookups, want one per Run", pub.lookups)
	}
	if st := tr.Stats(); st.Version != 5 || st.Live != got[1].SHA256 || st.Published != 2 {
		t.Errorf("stats %+v", st)
	}
}

// WithBaseVersion replaces the lookup; WithBaseVersion(0, "") turns it
// off, which is the old behaviour of counting from 1.
func TestTrainerWithBaseVersion(t *testing.T) {
	pub := &lookupPublisher{held: []serving.Descriptor{{Name: "m", Version: 9, SHA256: "99"}}}
	trainOnce(t, pub, 100, 3, WithBaseVersion(41, "abc"))
	checkChain(t, pub.since(1), 42, "abc", 41)
	trainOnce(t, pub, 100, 3, WithBaseVersion(0, ""))
	checkChain(t, pub.since(2), 1, "", 0)
	// An unknown content ID leaves Parent empty but keeps the number.
	trainOnce(t, pub, 100, 3, WithBaseVersion(7, ""))
	checkChain(t, pub.since(3), 8, "", 7)
	if pub.lookups != 0 {
		t.Errorf("%d lookups despite WithBaseVersion", pub.lookups)
	}
	l, _ := NewLearner(Linear, 1)
	if _, err := NewTrainer("m", l, &sliceSource{}, pub, WithBaseVersion(0, "abc")); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("WithBaseVersion(0, id): %v, want serving.ErrConfig", err)
	}
}

// A failed lookup stops Run before it learns anything: publishing
// numbers that may clash would be worse.
func TestTrainerLookupFailure(t *testing.T) {
	boom := errors.New("broker down")
	pub := &lookupPublisher{err: boom}
	l, _ := NewLearner(Logistic, 3)
	src := &sliceSource{data: conceptStream(300, 1<<30, 1)}
	tr, err := NewTrainer("m", l, src, pub, EveryRecords(100), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background())
	if !errors.Is(err, ErrVersionLookup) || !errors.Is(err, boom) {
		t.Fatalf("Run: %v, want ErrVersionLookup wrapping the publisher's error", err)
	}
	if src.next != 0 || len(pub.held) != 0 {
		t.Errorf("learned %d records and published %d versions after a failed lookup", src.next, len(pub.held))
	}
	// A cancelled context is a shutdown, not a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pub.err = context.Canceled
	tr, _ = NewTrainer("m", l, src, pub, WithLogger(quietLogger))
	if err := tr.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}

// The checkpoint's counter and the publisher's latest version: the
// higher wins, with its lineage.
func TestTrainerBaseVersionWithCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	run := func(pub Publisher, seed uint64, opts ...TrainerOption) {
		t.Helper()
		trainOnce(t, pub, 200, seed, append([]TrainerOption{WithCheckpoint(path, 1000)}, opts...)...)
	}

	// A crash between a publication and the checkpoint after it: the
	// checkpoint on disk is the one that reserved v2 before publishing
	// it, and the publisher holds v2.
	var reserved []byte
	pub := &lookupPublisher{}
	run(PublisherFunc(func(ctx context.Context, d serving.Descriptor) error {
		if d.Version == 2 {
			reserved, _ = os.ReadFile(path)
		}
		return pub.Publish(ctx, d)
	}), 1)
	checkChain(t, pub.held, 1, "", 0)
	if len(pub.held) != 2 || reserved == nil {
		t.Fatalf("published %d versions, checkpoint read while publishing v2: %v", len(pub.held), reserved != nil)
	}
	restoreCrashed := func() {
		if err := os.WriteFile(path, reserved, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Without a lookup, the reserved number is skipped, never reused
	// with other bytes; the parent is the last version the checkpoint
	// knows.
	restoreCrashed()
	noLookup := &lookupPublisher{}
	run(noLookup, 2, WithBaseVersion(0, ""))
	checkChain(t, noLookup.held, 3, pub.held[0].SHA256, 1)
	// With the lookup, the parent is v2 itself.
	restoreCrashed()
	run(pub, 2)
	checkChain(t, pub.since(2), 3, pub.held[1].SHA256, 2)

	// A checkpoint ahead of the publisher (here, a publisher that has
	// lost its versions) keeps its own counter and lineage.
	last := pub.held[len(pub.held)-1]
	empty := &lookupPublisher{}
	run(empty, 3)
	checkChain(t, empty.held, last.Version+1, last.SHA256, last.Version)

	// A publication that timed out but was written after all: its
	// number is not reused, and the next run continues after the newest.
	failing := true
	flaky := &lookupPublisher{}
	run(PublisherFunc(func(ctx context.Context, d serving.Descriptor) error {
		if failing {
			failing = false
			flaky.held = append(flaky.held, d) // written, though reported as failed
			return errors.New("timeout")
		}
		return flaky.Publish(ctx, d)
	}), 4, WithBaseVersion(0, ""))
	lastV := last.Version + 2 // the two versions of the previous run
	if len(flaky.held) != 2 || flaky.held[0].Version != lastV+1 || flaky.held[1].Version != lastV+2 {
		t.Fatalf("flaky run held %v", recordsOf(flaky.held))
	}
	run(flaky, 5)
	checkChain(t, flaky.since(2), lastV+3, flaky.held[1].SHA256, lastV+2)
}

// ServerPublisher looks the base up in its server: a trainer feeding a
// server that already runs v3 publishes v4, which goes live.
func TestServerPublisherLookup(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	old := &lookupPublisher{}
	trainOnce(t, old, 300, 1)
	for _, d := range old.held {
		if _, err := srv.Activate(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var first serving.Descriptor
	trainOnce(t, ServerPublisher(srv), 100, 2, WithObserver(func(e Event) {
		if e.Kind == EventPublished && first.Version == 0 {
			first = e.Descriptor
		}
	}))
	checkChain(t, []serving.Descriptor{first}, 4, old.held[2].SHA256, 3)
	if ref, _ := srv.Current("m"); ref.Version != 4 || ref.ID != first.SHA256 {
		t.Errorf("server runs %v, want the restarted trainer's v4", ref)
	}
}

package training

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/internal/logs"
	"github.com/modelstream/modelstream/serving"
)

// Source yields labelled samples to a Trainer, such as a Kafka consumer
// group on a data topic.
//
// Next blocks until a sample is available, and returns io.EOF when the
// stream has ended for good. It must honour ctx: when ctx is done it
// returns promptly with an error wrapping ctx.Err(). After Next returns,
// the Trainer owns the sample's slices. Next is called from one
// goroutine at a time.
type Source interface {
	Next(ctx context.Context) (Sample, error)
}

// Committer is implemented by sources that can durably record how far
// they have been consumed, such as a consumer group committing offsets.
// A Trainer calls Commit only when every sample returned so far is
// covered by durable state: after a checkpoint is saved when it keeps
// checkpoints, or after a version is published when it does not. A
// restart then replays at most the samples learned since.
type Committer interface {
	Commit(ctx context.Context) error
}

// Resumer is implemented by sources that can say how far they have been
// read, so that a checkpoint holds exactly the samples it learned. A
// Trainer that keeps checkpoints saves Position with each one, and
// gives it back to Resume when it restores one, before the first Next:
// the source then skips the records the checkpoint already learned,
// which a consumer group delivers again when the trainer stopped after
// saving a checkpoint but before committing. Position is opaque to the
// Trainer and must be JSON.
type Resumer interface {
	Position() (json.RawMessage, error)
	Resume(pos json.RawMessage) error
}

// SourceFunc adapts a function to the Source interface.
type SourceFunc func(ctx context.Context) (Sample, error)

// Next calls f(ctx).
func (f SourceFunc) Next(ctx context.Context) (Sample, error) { return f(ctx) }

// Publisher makes a model version available, for example by writing it
// to the models topic (see package serving/kafka) or by activating it in
// an in-process serving.Server ([ServerPublisher]). Publish must honour
// ctx.
type Publisher interface {
	Publish(ctx context.Context, d serving.Descriptor) error
}

// PublisherFunc adapts a function to the Publisher interface.
type PublisherFunc func(ctx context.Context, d serving.Descriptor) error

// Publish calls f(ctx, d).
func (f PublisherFunc) Publish(ctx context.Context, d serving.Descriptor) error { return f(ctx, d) }

// VersionLookup is implemented by publishers that can tell which
// version of a model name is already published: trainkafka's
// Publisher reads the models topic, and [ServerPublisher] asks its
// server. A Trainer whose publisher implements it asks once, when Run
// starts (unless [WithBaseVersion] gives the answer), and numbers its
// versions after the answer; see [Trainer] for how it combines with a
// checkpoint.
type VersionLookup interface {
	// LatestVersion returns the highest version published under name,
	// with its content ID in ID when known. It returns the zero ModelRef
	// and a nil error when nothing is published under name, and an
	// error when it cannot tell. It must honour ctx.
	LatestVersion(ctx context.Context, name string) (serving.ModelRef, error)
}

// ServerPublisher returns a Publisher that activates each version in an
// in-process serving.Server, for programs and tests without a broker. It
// implements [VersionLookup] with the server's live version.
func ServerPublisher(srv *serving.Server) Publisher { return serverPublisher{srv} }

type serverPublisher struct{ srv *serving.Server }

// Publish activates d.
func (p serverPublisher) Publish(ctx context.Context, d serving.Descriptor) error {
	_, err := p.srv.Activate(ctx, d)
	return err
}

// LatestVersion returns the server's live version of name.
func (p serverPublisher) LatestVersion(ctx context.Context, name string) (serving.ModelRef, error) {
	if err := ctx.Err(); err != nil {
		return serving.ModelRef{}, err
	}
	ref, ok := p.srv.Current(name)
	if !ok {
		return serving.ModelRef{}, nil
	}
	return ref, nil
}

// Trigger says why a Trainer published a version.
type Trigger string

// The triggers, as they appear in the LabelTrigger label.
const (
	TriggerRecords  Trigger = "records"
	TriggerInterval Trigger = "interval"
	TriggerDrift    Trigger = "drift"
	// TriggerLiveDrift: drift found on the live error of the serving
	// model and reported with [Trainer.ReportDrift].
	TriggerLiveDrift Trigger = "live_drift"
	TriggerFinal     Trigger = "final"
)

// EventKind says what a trainer Event reports.
type EventKind uint8

// The trainer event kinds.
const (
	// EventPublished: a version was published; Descriptor is it.
	EventPublished EventKind = iota + 1
	// EventPublishFailed: publishing failed; Err says why. Training
	// goes on and the next trigger tries again with a new version number.
	EventPublishFailed
	// EventDrift: the detector fired, or drift was reported with
	// [Trainer.ReportDrift]; Trigger says which (TriggerDrift or
	// TriggerLiveDrift).
	EventDrift
	// EventCheckpoint: a checkpoint was saved.
	EventCheckpoint
	// EventSkipped: an invalid sample was skipped; Err says why.
	EventSkipped
)

var trainerEventNames = [...]string{"", "published", "publish_failed", "drift", "checkpoint", "skipped"}

// String returns the event's name, such as "published".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(trainerEventNames) {
		return trainerEventNames[k]
	}
	return "unknown"
}

// Event reports something a Trainer did.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Records is the number of records the trainer had consumed when it
	// happened, over its whole life.
	Records int64
	// Trigger is why a version was published, for EventPublished and
	// EventPublishFailed, and where drift was found, for EventDrift.
	Trigger Trigger
	// Descriptor is the version published, or attempted.
	Descriptor serving.Descriptor
	// Err is the reason for EventPublishFailed and EventSkipped.
	Err error
	// Time is when it happened.
	Time time.Time
}

// TrainerOption configures a Trainer.
type TrainerOption func(*trainerOptions)

type trainerOptions struct {
	everyN       int64
	every        time.Duration
	detector     Detector
	nilDetector  bool // OnDrift(nil)
	driftOnLoss  bool
	retrainAfter int64
	ckptPath     string
	ckptEvery    int64
	labels       map[string]string
	description  string
	logger       *slog.Logger
	observer     func(Event)
	base         *serving.ModelRef
}

// EveryRecords publishes a new version after every n learned records.
// The default is 0: no count trigger.
func EveryRecords(n int64) TrainerOption { return func(o *trainerOptions) { o.everyN = n } }

// EveryInterval publishes a new version every d, if any record was
// learned since the last one. The default is 0: no time trigger.
func EveryInterval(d time.Duration) TrainerOption { return func(o *trainerOptions) { o.every = d } }

// OnDrift publishes a new version when d detects drift in the stream of
// progressive errors: 1 for a record the model got wrong and 0 for one
// it got right (for Linear, "right" means rounding to the target's
// integer; see [DriftOnLoss] to watch the loss instead). The default is
// no drift trigger; d must not be nil, nor a nil *PageHinkley or *ADWIN
// (what their constructors return with an error).
func OnDrift(d Detector) TrainerOption {
	return func(o *trainerOptions) { o.detector, o.nilDetector = d, isNilDetector(d) }
}

// isNilDetector reports whether d is nil, or one of this package's
// detectors as a nil pointer, whose Add would panic at the first record.
func isNilDetector(d Detector) bool {
	switch v := d.(type) {
	case nil:
		return true
	case *PageHinkley:
		return v == nil
	case *ADWIN:
		return v == nil
	}
	return false
}

// DriftOnLoss feeds the detector each record's progressive loss instead
// of its 0/1 error. The detector's parameters must then be in the loss's
// units. It needs a detector ([OnDrift]): without one there is nothing
// to feed, and NewTrainer refuses it.
func DriftOnLoss() TrainerOption { return func(o *trainerOptions) { o.driftOnLoss = true } }

// RetrainOnDrift makes drift reset the learner ([Learner.Reset]) and
// retrain it from scratch on the records that follow; the new version is
// published once n records have been learned, and count and time
// triggers wait until then. Drift is what [OnDrift]'s detector finds in
// the progressive error, or what [Trainer.ReportDrift] reports from the
// live error; one of the two is needed. Without it (the default), drift
// publishes the continuously trained learner at once.
func RetrainOnDrift(n int64) TrainerOption { return func(o *trainerOptions) { o.retrainAfter = n } }

// WithCheckpoint keeps a checkpoint of the trainer's full state (the
// learner, the detector, the version counter and lineage, the counters)
// in the file at path, saved every n records, before and after every
// publication, and when Run returns. NewTrainer restores from the file when it
// exists. The detector is part of the checkpoint when it implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler, as
// [PageHinkley] and [ADWIN] do; any other detector restarts empty. n must
// be at least 1. The default is no checkpoint.
func WithCheckpoint(path string, n int64) TrainerOption {
	return func(o *trainerOptions) { o.ckptPath, o.ckptEvery = path, n }
}

// WithBaseVersion tells the trainer that version, whose content ID is
// id ("" when unknown), is the latest already published under its model
// name, so that its first version is version+1 with id as its Parent.
// It replaces asking the publisher ([VersionLookup]) when Run starts;
// WithBaseVersion(0, "") turns that lookup off and numbers from the
// checkpoint, or from 1. With a checkpoint, the higher of the two
// counters wins (see [Trainer]). The default is to ask the publisher
// when it implements VersionLookup, and to start from 0 otherwise. An
// id with version 0 is a configuration error.
func WithBaseVersion(version uint64, id string) TrainerOption {
	return func(o *trainerOptions) { o.base = &serving.ModelRef{Version: version, ID: id} }
}

// WithLabels adds labels to every published version, such as the
// trainer's identity. They cannot override the training labels.
func WithLabels(labels map[string]string) TrainerOption {
	return func(o *trainerOptions) { o.labels = maps.Clone(labels) }
}

// WithDescription sets the Description of published versions.
func WithDescription(s string) TrainerOption { return func(o *trainerOptions) { o.description = s } }

// WithLogger sets the logger. The default is slog.Default(), as it
// is when NewTrainer is called, passing Warn and above only: restored
// checkpoints, publications and drifts are logged at Info, and only for
// a logger given here (the Observer sees every Event).
func WithLogger(l *slog.Logger) TrainerOption { return func(o *trainerOptions) { o.logger = l } }

// WithObserver calls fn with every Event, synchronously from Run.
func WithObserver(fn func(Event)) TrainerOption { return func(o *trainerOptions) { o.observer = fn } }

// TrainerStats counts what a Trainer has done. Records, Skipped,
// Drifts, Version and Live are part of the checkpoint (WithCheckpoint):
// a trainer restored from one continues them, over the model's life.
// Published and PublishFailures count this process's publications only.
type TrainerStats struct {
	// Records is the number of records consumed, learned or skipped,
	// each counted once the triggers it fired have run: when Records
	// reaches n, the versions, publication failures and checkpoints
	// those n records caused are done and counted, so a caller may wait
	// for n records and then stop the trainer without cancelling them.
	// (The other counts may already include the record being handled,
	// its skip, drift, version or publication, while Records does not.)
	Records int64
	// Skipped is the number of invalid records skipped.
	Skipped int64
	// Published is the number of versions published by this process.
	Published int64
	// PublishFailures is the number of failed publications.
	PublishFailures int64
	// Drifts is the number of times the detector fired.
	Drifts int64
	// Version is the last version number taken: published, attempted,
	// or the base version found when Run started; 0 if none.
	Version uint64
	// Live is the content ID of the last version published.
	Live string
}

// Trainer wires a Source of labelled records to a Learner and a
// Publisher: it learns every record, watches for drift, publishes new
// versions when a trigger fires, and keeps a checkpoint. Each version is
// the learner's [Learner.Snapshot] with Version set to the next number,
// Parent set to the content ID of the previous version (lineage), and
// labels carrying the progressive metrics of the learner and of the
// window since the previous version, the records seen, the parent
// version and the trigger.
//
// # Version numbers
//
// Scoring instances skip a version that is not above the live one, and
// a registry refuses a number already taken by other bytes, so a trainer
// must number after what is already published. When Run starts, the
// trainer takes a base version: the one given by [WithBaseVersion], or
// else the answer of the publisher's [VersionLookup], or else none. It
// then continues from the higher of the base and its own counter, which
// is restored from the checkpoint when there is one:
//
//   - No checkpoint (a first start, a lost or fresh checkpoint
//     directory): the first version is base+1, and its parent is the base
//     version's content ID.
//   - A checkpoint behind the base (it was saved before a publication
//     that then succeeded, or by another run of the same name): as
//     without a checkpoint, so a crash between publishing and saving
//     never re-publishes a number with other bytes.
//   - A checkpoint at or past the base: the checkpoint's counter and
//     lineage are kept. Its counter may be above the base when
//     publications failed, as failed numbers are not reused.
//
// With a checkpoint, each number is also saved (with the learner, and
// the source committed) before it is published, so even without a
// lookup a number is never published twice with different bytes: after
// a crash between publishing and the checkpoint that follows, the
// restarted trainer skips the number, and lineage labels then name the
// last version it knows of until the lookup tells it better.
//
// The trainer assumes it is the only publisher of its model name while
// it runs: it looks the base up once, not before every publication.
//
// Run may be called once. Stats is safe to call concurrently with Run.
type Trainer struct {
	name string
	l    *Learner
	src  Source
	pub  Publisher
	o    trainerOptions

	mu sync.Mutex // guards st
	st trainerState
	// counted is what Stats reports as Records: st.Records once the
	// triggers of its last record have run.
	counted atomic.Int64

	// reported is the newest drift reported with ReportDrift and not yet
	// handled: 1 + its version, reportCurrent for a report about the
	// current version (Version 0), 0 when none waits.
	reported atomic.Uint64
}

// trainerState is everything a Trainer checkpoints besides the learner.
type trainerState struct {
	Version      uint64  `json:"version"`        // last version published or attempted
	Parent       string  `json:"parent"`         // content ID of the last version published
	ParentVer    uint64  `json:"parent_version"` // its version number
	Records      int64   `json:"records"`
	Skipped      int64   `json:"skipped"`
	Drifts       int64   `json:"drifts"`
	Window       Metrics `json:"window"`        // learned since the last successful publication
	SincePublish int64   `json:"since_publish"` // learned since the last attempt
	SinceCkpt    int64   `json:"-"`
	RetrainLeft  int64   `json:"retrain_left"`
	RetrainWhy   Trigger `json:"retrain_why,omitempty"` // what started the retrain under way
	Published    int64   `json:"-"`
	Failures     int64   `json:"-"`
}

type trainerCheckpoint struct {
	Name     string          `json:"name"`
	State    trainerState    `json:"state"`
	Learner  json.RawMessage `json:"learner"`
	Detector json.RawMessage `json:"detector,omitempty"`
	// Source is the source's Position, when it is a Resumer.
	Source json.RawMessage `json:"source,omitempty"`
}

// NewTrainer returns a Trainer that publishes versions of the model name
// learned by l from src through pub. Without options it publishes only
// when src ends; add [EveryRecords], [EveryInterval] or [OnDrift]. With
// [WithCheckpoint], an existing checkpoint file is restored into l and
// the detector, and a damaged one is an error (an *fs.PathError naming the file): the
// trainer never silently starts over. A checkpoint path whose directory
// does not exist is an error wrapping serving.ErrConfig.
func NewTrainer(name string, l *Learner, src Source, pub Publisher, opts ...TrainerOption) (*Trainer, error) {
	o := trainerOptions{logger: logs.Default()}
	for _, opt := range opts {
		if opt == nil {
			return nil, configErr("NewTrainer: nil option")
		}
		opt(&o)
	}
	switch {
	case name == "":
		return nil, configErr("NewTrainer: empty model name")
	case l == nil || src == nil || pub == nil:
		return nil, configErr("NewTrainer needs a learner, a source and a publisher")
	case o.everyN < 0:
		return nil, configErr("EveryRecords(%d): must not be negative", o.everyN)
	case o.every < 0:
		return nil, configErr("EveryInterval(%v): must not be negative", o.every)
	case o.retrainAfter < 0:
		return nil, configErr("RetrainOnDrift(%d): must not be negative", o.retrainAfter)
	case o.ckptPath != "" && o.ckptEvery < 1:
		return nil, configErr("WithCheckpoint(%q, %d): the interval must be at least 1", o.ckptPath, o.ckptEvery)
	case o.logger == nil:
		return nil, configErr("WithLogger(nil)")
	case o.nilDetector:
		return nil, configErr("OnDrift(nil)")
	case o.driftOnLoss && o.detector == nil:
		return nil, configErr("DriftOnLoss without OnDrift: no detector to feed the loss to")
	case o.base != nil && o.base.Version == 0 && o.base.ID != "":
		return nil, configErr("WithBaseVersion(0, %q): a content ID needs a version", o.base.ID)
	}
	t := &Trainer{name: name, l: l, src: src, pub: pub, o: o}
	if o.ckptPath != "" {
		// A checkpoint that cannot be written would stop Run only after
		// n records: refuse a missing directory now.
		if fi, err := os.Stat(filepath.Dir(o.ckptPath)); err != nil {
			return nil, fmt.Errorf("%w: training: WithCheckpoint(%q): %w", serving.ErrConfig, o.ckptPath, err)
		} else if !fi.IsDir() {
			return nil, configErr("WithCheckpoint(%q): %s is not a directory", o.ckptPath, filepath.Dir(o.ckptPath))
		}
		if err := t.restore(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return t, nil
}

// Stats returns the trainer's counters.
func (t *Trainer) Stats() TrainerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrainerStats{
		Records: t.counted.Load(), Skipped: t.st.Skipped, Published: t.st.Published,
		PublishFailures: t.st.Failures, Drifts: t.st.Drifts, Version: t.st.Version, Live: t.st.Parent,
	}
}

func (t *Trainer) restore() error {
	b, err := readCheckpoint(t.o.ckptPath)
	if err != nil {
		return err
	}
	fail := func(err error) error { return checkpointErr("restore", t.o.ckptPath, err) }
	var c trainerCheckpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return fail(fmt.Errorf("%w: training: %v", serving.ErrCorruptState, err))
	}
	if c.Name != t.name {
		return fail(fmt.Errorf("%w: training: checkpoint mismatch: it is for model %q, trainer is for %q", serving.ErrCorruptState, c.Name, t.name))
	}
	if c.Detector != nil {
		u, ok := t.o.detector.(encoding.BinaryUnmarshaler)
		if ok {
			if err := u.UnmarshalBinary(c.Detector); err != nil {
				return fail(fmt.Errorf("%w: training: detector: %v", serving.ErrCorruptState, err))
			}
		}
	}
	if err := t.l.UnmarshalBinary(c.Learner); err != nil {
		return fail(err)
	}
	if r, ok := t.src.(Resumer); ok && len(c.Source) > 0 {
		if err := r.Resume(c.Source); err != nil {
			return fail(fmt.Errorf("%w: training: source position: %w", serving.ErrCorruptState, err))
		}
	}
	t.st = c.State
	t.counted.Store(c.State.Records)
	t.o.logger.Info("training: restored checkpoint", "model", t.name, "path", t.o.ckptPath, "records", c.State.Records, "version", c.State.Version)
	return nil
}

// rebase sets the version counter and lineage from the base version
// (see "Version numbers" on Trainer).
func (t *Trainer) rebase(ctx context.Context) error {
	var base serving.ModelRef
	from := "WithBaseVersion"
	if t.o.base != nil {
		base = *t.o.base
	} else if vl, ok := t.pub.(VersionLookup); ok {
		from = "publisher"
		ref, err := vl.LatestVersion(ctx, t.name)
		if err != nil {
			return fmt.Errorf("%w: model %q: %w", ErrVersionLookup, t.name, err)
		}
		base = ref
	}
	if base.Version == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if base.Version > t.st.Version {
		t.st.Version = base.Version
	}
	if base.Version > t.st.ParentVer {
		t.st.ParentVer, t.st.Parent = base.Version, base.ID
	}
	t.o.logger.Info("training: numbering after the latest published version", "model", t.name, "from", from,
		"base_version", base.Version, "base_id", base.ID, "next_version", t.st.Version+1)
	return nil
}

func (t *Trainer) checkpoint() error {
	lb, err := t.l.MarshalBinary()
	if err != nil {
		return checkpointErr("save", t.o.ckptPath, err)
	}
	c := trainerCheckpoint{Name: t.name, State: t.st, Learner: lb}
	if m, ok := t.o.detector.(encoding.BinaryMarshaler); ok {
		db, err := m.MarshalBinary()
		if err != nil {
			return checkpointErr("save", t.o.ckptPath, err)
		}
		c.Detector = db
	}
	if r, ok := t.src.(Resumer); ok {
		pos, err := r.Position()
		if err != nil {
			return checkpointErr("save", t.o.ckptPath, fmt.Errorf("training: source position: %w", err))
		}
		c.Source = pos
	}
	b, err := json.Marshal(c)
	if err != nil {
		return checkpointErr("save", t.o.ckptPath, err)
	}
	if err := writeCheckpoint(t.o.ckptPath, b); err != nil {
		return err
	}
	t.st.SinceCkpt = 0
	t.emit(Event{Kind: EventCheckpoint, Records: t.st.Records})
	return nil
}

// commit saves a checkpoint when the trainer keeps one, then lets the
// source commit.
func (t *Trainer) commit(ctx context.Context, save bool) error {
	if save && t.o.ckptPath != "" {
		if err := t.checkpoint(); err != nil {
			return err
		}
	}
	if c, ok := t.src.(Committer); ok {
		if err := c.Commit(ctx); err != nil {
			return fmt.Errorf("training: commit source: %w", err)
		}
	}
	return nil
}

func (t *Trainer) emit(e Event) {
	if t.o.observer != nil {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		t.o.observer(e)
	}
}

// publish snapshots the learner and publishes it as the next version.
func (t *Trainer) publish(ctx context.Context, why Trigger) error {
	d, err := t.l.Snapshot(t.name, t.st.Parent)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.st.Version++
	t.mu.Unlock()
	if t.o.ckptPath != "" {
		// Reserve the number durably before it can reach the publisher:
		// a crash between publishing and the checkpoint after it must not
		// make the restarted trainer publish other bytes under it.
		if err := t.commit(ctx, true); err != nil {
			return err
		}
	}
	d.Version = t.st.Version
	d.Description = t.o.description
	labels := maps.Clone(t.o.labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, d.Labels)
	labels[LabelTrigger] = string(why)
	labels[LabelTotalRecords] = strconv.FormatInt(t.st.Records, 10)
	labels[LabelWindowRecords] = strconv.FormatInt(t.st.Window.count, 10)
	if t.st.Window.count > 0 {
		labels[LabelWindowLoss] = fmtFloat(t.st.Window.Loss())
		labels[LabelWindowAccuracy] = fmtFloat(t.st.Window.Accuracy())
	}
	if t.st.ParentVer > 0 {
		labels[LabelParentVersion] = strconv.FormatUint(t.st.ParentVer, 10)
	}
	d.Labels = labels
	if err := t.pub.Publish(ctx, d); err != nil {
		t.mu.Lock()
		t.st.Failures++
		t.st.SincePublish = 0 // the count trigger waits for n more records
		t.mu.Unlock()
		t.o.logger.Warn("training: publish failed", "model", t.name, "version", d.Version, "trigger", why, "err", err)
		t.emit(Event{Kind: EventPublishFailed, Records: t.st.Records, Trigger: why, Descriptor: d, Err: err})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	t.mu.Lock()
	t.st.Parent = d.SHA256
	t.st.ParentVer = d.Version
	t.st.Published++
	t.st.Window = Metrics{}
	t.st.SincePublish = 0
	t.mu.Unlock()
	t.o.logger.Info("training: published", "model", t.name, "version", d.Version, "id", d.SHA256, "trigger", why,
		"records", t.st.Records, LabelLoss, d.Labels[LabelLoss], LabelAccuracy, d.Labels[LabelAccuracy])
	t.emit(Event{Kind: EventPublished, Records: t.st.Records, Trigger: why, Descriptor: d})
	return t.commit(ctx, true)
}

// learn learns one sample and fires the record-driven triggers.
func (t *Trainer) learn(ctx context.Context, s Sample) error {
	out, err := t.l.Learn(s)
	t.mu.Lock()
	t.st.Records++
	if err != nil {
		t.st.Skipped++
		t.mu.Unlock()
		t.emit(Event{Kind: EventSkipped, Records: t.st.Records, Err: err})
		return nil
	}
	t.st.Window.add(out, s.Target, t.l.kind)
	t.st.SincePublish++
	t.st.SinceCkpt++
	// The report is taken in the same critical section that counts the
	// record: a report made after Stats shows this record counted is
	// handled with the next one, never with this one.
	reported := t.takeReportLocked()
	t.mu.Unlock()

	if t.st.RetrainLeft > 0 {
		if reported {
			t.o.logger.Debug("training: reported drift ignored, a retrain is under way", "model", t.name, "records", t.st.Records)
		}
		t.st.RetrainLeft--
		if t.st.RetrainLeft == 0 {
			why := t.st.RetrainWhy
			if why == "" {
				why = TriggerDrift
			}
			t.st.RetrainWhy = ""
			return t.publish(ctx, why)
		}
	} else {
		why := Trigger("")
		if reported {
			why = TriggerLiveDrift
		}
		if t.o.detector != nil {
			x := 0.0
			if t.o.driftOnLoss {
				x = out.Loss
			} else if !out.Correct {
				x = 1
			}
			if t.o.detector.Add(x) && why == "" {
				why = TriggerDrift
			}
		}
		if why != "" {
			return t.drift(ctx, why)
		}
	}
	if t.o.everyN > 0 && t.st.SincePublish >= t.o.everyN && t.st.RetrainLeft == 0 {
		return t.publish(ctx, TriggerRecords)
	}
	if t.o.ckptPath != "" && t.st.SinceCkpt >= t.o.ckptEvery {
		return t.commit(ctx, true)
	}
	return nil
}

// drift handles drift found by the detector or reported: it publishes
// at once, or with RetrainOnDrift resets the learner and starts the
// retrain.
func (t *Trainer) drift(ctx context.Context, why Trigger) error {
	t.mu.Lock()
	t.st.Drifts++
	t.mu.Unlock()
	t.o.logger.Info("training: drift detected", "model", t.name, "records", t.st.Records, "trigger", why)
	t.emit(Event{Kind: EventDrift, Records: t.st.Records, Trigger: why})
	if t.o.retrainAfter > 0 {
		t.l.Reset()
		if t.o.detector != nil {
			t.o.detector.Reset()
		}
		t.st.RetrainLeft = t.o.retrainAfter
		t.st.RetrainWhy = why
		t.st.Window = Metrics{}
		return nil
	}
	return t.publish(ctx, why)
}

// ReportDrift tells the trainer that drift was found outside it, in the
// live error of version live of its model: measured by joining the
// truth to the scores, which is what the users of the model see, where
// [OnDrift] watches only the trainer's own progressive error.
// serving/feedback.Drift runs a detector on the joined matches (from
// serving/feedback/feedbackkafka, say) and calls a function with the
// match at which it fires; pass it the match's
// Score.Provenance.Model.
//
// Run handles the report with the next record it learns, as if its
// detector had fired there: with [RetrainOnDrift] it resets the learner
// and publishes the retrained version n records later, and otherwise it
// publishes the learner as it is at once. The version's LabelTrigger is
// TriggerLiveDrift, and an EventDrift reports it. Reports made before
// that record count once.
//
// A report is ignored, and ReportDrift returns false, when live names
// another model, or a version older than the last one the trainer
// published, or found published when Run started (the truth about a
// retired version still
// arrives after its successor went live, and must not retrain the
// successor); a Version of 0 stands for the current one. A report
// taken while a retrain is under way is dropped when Run comes to it,
// since the retrained version is not out yet. ReportDrift never blocks,
// and is safe to call from any goroutine, also before Run. A report not
// yet handled is not checkpointed.
func (t *Trainer) ReportDrift(live serving.ModelRef) bool {
	if live.Name != t.name {
		return false
	}
	t.mu.Lock()
	stale := live.Version != 0 && live.Version < t.st.ParentVer
	t.mu.Unlock()
	if stale {
		return false
	}
	r := live.Version + 1
	if live.Version == 0 || r == 0 {
		r = reportCurrent // r == 0: Version MaxUint64, newer than any other
	}
	// Keep the newest report: one about an older version, checked before
	// a newer version went out but stored after a report about that
	// newer one, must not replace it, or the newer one's drift is lost
	// when Run finds the older one stale.
	for {
		old := t.reported.Load()
		if old >= r || t.reported.CompareAndSwap(old, r) {
			return true
		}
	}
}

// reportCurrent is the stored form of a report about the current
// version, above every other.
const reportCurrent = math.MaxUint64

// takeReport returns whether a drift report waits that is not stale;
// it is what Run does under t.mu, for tests.
func (t *Trainer) takeReport() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.takeReportLocked()
}

// takeReportLocked is takeReport with t.mu held.
func (t *Trainer) takeReportLocked() bool {
	r := t.reported.Swap(0)
	if r == 0 {
		return false
	}
	return r == reportCurrent || r-1 >= t.st.ParentVer
}

// Run consumes the source until it ends (io.EOF), ctx is done, or an
// error stops it. It calls Next from its own goroutine, one sample at a
// time, so a Committer's commit covers exactly the samples learned. A
// record the learner refuses (ErrInvalidSample, a wrong feature count)
// is skipped and counted. A failed publication is logged and reported as
// EventPublishFailed, and training continues.
//
// With [EveryInterval], Run gives Next a context whose deadline is the
// next publication time; a Source must then return the deadline error
// without losing a sample, as any channel- or consumer-based source
// does.
//
// Before reading, Run takes the base version (see "Version numbers" on
// Trainer); if the publisher's lookup fails, Run returns an error
// wrapping ErrVersionLookup and learns nothing.
//
// When the source ends, Run publishes what was learned since the last
// version (TriggerFinal), saves a checkpoint, commits, and returns nil.
// When ctx is done, Run saves a checkpoint and commits (with a fresh
// context, bounded by 10 seconds) but publishes nothing, and returns
// nil. Without a checkpoint it commits only if every record learned is
// in a published version; otherwise the source stays at the last
// version's commit, and a restarted trainer learns the rest again. A source error, or a checkpoint or commit failure, stops Run and
// is returned.
func (t *Trainer) Run(ctx context.Context) error {
	shutdown := func() error {
		if t.o.ckptPath == "" && t.st.Window.count > 0 {
			// No checkpoint, and records learned since the last
			// version: nothing durable holds them, so leave them
			// uncommitted for the next run to learn again.
			return nil
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return t.commit(sctx, true)
	}
	if err := t.rebase(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before anything was learned
		}
		return err
	}
	next := time.Now().Add(t.o.every)
	for {
		if err := ctx.Err(); err != nil {
			return shutdown()
		}
		if t.o.every > 0 && !time.Now().Before(next) {
			next = time.Now().Add(t.o.every)
			if t.st.Window.count > 0 && t.st.RetrainLeft == 0 {
				if err := t.publish(ctx, TriggerInterval); err != nil {
					if ctx.Err() != nil {
						return shutdown()
					}
					return err
				}
			}
		}
		var s Sample
		var err error
		if t.o.every > 0 {
			nctx, cancel := context.WithDeadline(ctx, next)
			s, err = t.src.Next(nctx)
			cancel()
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue // time to check the interval trigger
			}
		} else {
			s, err = t.src.Next(ctx)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if t.st.Window.count > 0 {
					return t.publish(ctx, TriggerFinal)
				}
				return t.commit(ctx, true)
			}
			if ctx.Err() != nil {
				return shutdown()
			}
			return fmt.Errorf("training: source: %w", err)
		}
		err = t.learn(ctx, s)
		t.counted.Store(t.st.Records)
		if err != nil {
			if ctx.Err() != nil {
				return shutdown()
			}
			return err
		}
	}
}

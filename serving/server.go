package serving

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/internal/logs"
)

// NonFinitePolicy says what a Server does with NaN and ±Inf features.
type NonFinitePolicy uint8

const (
	// RejectNonFinite refuses any NaN or ±Inf feature with a
	// *NonFiniteError. It is the default: a NaN that reaches a linear
	// model silently poisons its output.
	RejectNonFinite NonFinitePolicy = iota
	// AllowMissing passes NaN through as "missing", which tree formats
	// (LightGBM, XGBoost) handle natively, and refuses ±Inf.
	AllowMissing
	// PassNonFinite passes every value through unchecked.
	PassNonFinite
)

// Option configures a Server.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	hooks      hooks
	nonFinite  NonFinitePolicy
	load       loader // parsed by NewServer
	historyLen int
	admitters  []Admitter
	badAdmit   bool // WithAdmission(nil)
	streams    map[string]*Layout
	valid      Validation
	maxJump    uint64
	errs       []error // from options, reported by NewServer
}

// WithLogger sets the logger for model events. Every model event is
// logged with the model's name, version and content ID: rejections and
// failures to close a model at level Warn, activations, rollbacks and
// retirements at Info, loads at Debug. The default is slog.Default(), as
// it is when NewServer is called, passing Warn and above only: a library
// does not fill its program's logs with routine lines unasked (sarama
// and kgo log nothing by default), but a refused model is worth a line
// even when nobody configured anything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHooks adds hooks: values implementing [HookScored] or
// [HookModelEvent], or both; see [Hook]. The default is none.
func WithHooks(hs ...Hook) Option {
	return func(o *options) {
		for _, h := range hs {
			o.hooks.add(h)
		}
	}
}

// WithNonFinite sets the NaN and Inf policy, overriding the default of
// RejectNonFinite.
func WithNonFinite(p NonFinitePolicy) Option { return func(o *options) { o.nonFinite = p } }

// WithLoadOptions sets where a Descriptor's Location may be fetched from
// (nowhere by default), the fetch deadline, the size limit and the HTTP
// client used to resolve descriptors, overriding the defaults described
// in [LoadOptions].
func WithLoadOptions(lo LoadOptions) Option {
	return func(o *options) { o.load = loader{LoadOptions: lo} }
}

// WithAdmission adds a to the checks every model must pass to become
// live: the Server calls a.Admit on every Descriptor it is asked to
// activate (by Activate, and so by the Kafka model feed and by
// registry.Restore and registry.Rollback, which call it), after the
// version check and before anything is fetched from d.Location. When d
// carries its Bytes inline and no SHA256, the Server fills d.SHA256 first,
// so an Admitter sees the content ID it is judging; the bytes later
// fetched from a Location must match d.SHA256 as admitted, or the
// activation fails with ErrChecksum. A Location Descriptor without a
// SHA256 reaches the Admitters with none; an Admitter that judges content
// must refuse it (package governance's Verifier does), since nothing
// binds the fetched bytes unless [LoadOptions].AllowUnpinned lets the
// Server fetch them at all.
//
// Given several times, every Admitter must admit, in order. A refusal is
// an error wrapping ErrNotAdmitted and the Admitter's own error; the live
// version keeps serving. An Admitter or [Committer] that panics refuses
// the model the same way, and the panic is logged with its stack. The default is no Admitter: every model that
// loads is admitted. [Server.ActivateModel] installs a model built in
// process, with no Descriptor to judge, and does not consult Admitters.
// package governance's Verifier is an Admitter (signatures, policy,
// replays).
func WithAdmission(a Admitter) Option {
	return func(o *options) {
		if a == nil {
			o.badAdmit = true
			return
		}
		o.admitters = append(o.admitters, a)
		o.hooks.add(a)
	}
}

// Committer is implemented by Admitters that record what goes live, such
// as a registry. The Server calls Commit once a model it admitted has
// loaded, warmed up and passed validation, right before the swap, with
// the admitted Descriptor (SHA256 and the final Version set; Bytes as
// admitted, so empty for a Location model). An error refuses the model,
// which then never goes live. So a model that never loads is never
// recorded, and cannot block a good copy of the same version. Commit runs
// while the name's swaps are serialised: it must not activate models.
//
// An Admitter that implements [HookModelEvent] is also one of the
// Server's hooks, so it learns which versions went live (a replay guard
// should count a version as seen only then).
type Committer interface {
	Commit(ctx context.Context, d Descriptor) error
}

// Admitter decides whether a model may become live; see [WithAdmission].
//
// Admit must be safe for concurrent use and honour ctx. It sees d before
// its bytes are fetched: d.Bytes is empty for a Location model, whose
// content is known by d.SHA256 alone. d.Version is as offered: 0 for a
// Descriptor the Server will number itself. [IsRollback] tells whether the
// activation was asked with AllowRollback, so that an Admitter refusing
// replayed old versions can let an operator's rollback through.
type Admitter interface {
	Admit(ctx context.Context, d Descriptor) error
}

// AdmitterFunc adapts a function to the Admitter interface.
type AdmitterFunc func(ctx context.Context, d Descriptor) error

// Admit calls f(ctx, d).
func (f AdmitterFunc) Admit(ctx context.Context, d Descriptor) error { return f(ctx, d) }

type rollbackKey struct{}

// IsRollback reports whether ctx is the context an Admitter was given for
// an activation asked with [AllowRollback].
func IsRollback(ctx context.Context) bool {
	b, _ := ctx.Value(rollbackKey{}).(bool)
	return b
}

// WithStreamFields declares the fields of the named records that model
// name scores, when the stream's layout is known up front (a schema, a
// CSV header). A version of name that reads a field not among them is
// then refused at activation, with a *ModelError wrapping a *FieldError
// (ErrMissingField) that names the field, and the live version keeps
// serving; so is a version without input names that reads another
// number of features (ErrFeatureCount). Without it, the default, such a
// version activates and each record it cannot read fails alone with that
// *FieldError.
//
// Fields must be non-empty and distinct. The order does not matter to
// the check: records are bound by name whatever their layout.
func WithStreamFields(name string, fields ...string) Option {
	return func(o *options) {
		l, err := NewLayout(fields...)
		if err == nil && name == "" {
			err = fmt.Errorf("%w: WithStreamFields: empty model name", ErrConfig)
		}
		if err != nil {
			o.errs = append(o.errs, err)
			return
		}
		if o.streams == nil {
			o.streams = map[string]*Layout{}
		}
		o.streams[name] = l
	}
}

// Validation says how a Server tries a new version before it goes live.
// Every version, from any path (Activate, ActivateModel, a feed, a
// registry restore), must answer the probe records and the recent
// records sampled from traffic, if any, with finite outputs, as many as
// it declares (ModelInfo.Outputs), and, with a Tolerance, close to what
// the live version answers. A version that fails is refused with an
// error wrapping ErrValidation, and the live version keeps serving.
type Validation struct {
	// Probes are records that every version of the model of that name
	// must answer without error, by name. NewServer refuses, with
	// ErrConfig, a probe holding a value that the Server's NonFinite
	// policy refuses (NaN or ±Inf by default).
	Probes map[string][]Record
	// Samples is how many recent records per model name the Server
	// keeps to try new versions on: one record in 64 of those scored
	// successfully, overwriting the oldest. A sampled record that a new
	// version cannot bind (a named field it needs is absent) or fails on
	// is skipped: such records report their own errors once it is live,
	// as they would without validation; only a wrong answer (non-finite,
	// arity, disagreement) on a sample refuses it. Zero means 32; a
	// negative value keeps none. The records kept hold at most 4 MiB per
	// name, their values, texts and layouts' field names counted: a
	// record that would take them past it is not sampled.
	Samples int
	// Tolerance, when positive, also requires the new version to agree
	// with the live one on every probe and sample, output by output:
	// |new - live| <= Tolerance * max(1, |live|). Zero, the default,
	// checks only finiteness and arity.
	Tolerance float64
}

// defaultSamples is the number of recent records per model name a Server
// keeps to validate new versions on, unless [Validation].Samples says
// otherwise.
const defaultSamples = 32

// WithValidation sets how new versions are tried before they go live,
// overriding the default of Validation{} (32 sampled records, finiteness
// and arity checked, no probes of the user's, no agreement required).
func WithValidation(v Validation) Option {
	return func(o *options) {
		if v.Tolerance < 0 || math.IsNaN(v.Tolerance) || math.IsInf(v.Tolerance, 0) {
			o.errs = append(o.errs, fmt.Errorf("%w: WithValidation: Tolerance %v", ErrConfig, v.Tolerance))
		}
		for name, rs := range v.Probes {
			for i, r := range rs {
				if r.Layout != nil && len(r.Features) != r.Layout.Len() {
					o.errs = append(o.errs, fmt.Errorf("%w: WithValidation: probe %d of %q has %d values for %d fields", ErrConfig, i, name, len(r.Features), r.Layout.Len()))
				}
			}
		}
		o.valid = v
	}
}

// defaultMaxVersionJump is how far past the highest version the Server
// has made live for a name (or past 0) a new version may be, unless
// [WithMaxVersionJump] says otherwise.
const defaultMaxVersionJump = 1 << 32

// WithMaxVersionJump bounds how far past the highest version this Server
// has made live for the name (the live one, unless it rolled back) a new
// version may be, overriding the default of 2^32 (room for counters, dates such
// as 2026120615, and Unix times). A version
// beyond it, and the maximum uint64 always, is refused with an error
// wrapping ErrInvalidDescriptor: one message with version 2^64-1 would
// otherwise make every later version of the name stale.
func WithMaxVersionJump(n uint64) Option {
	return func(o *options) {
		if n == 0 {
			o.errs = append(o.errs, fmt.Errorf("%w: WithMaxVersionJump(0)", ErrConfig))
		}
		o.maxJump = n
	}
}

// WithHistory sets how many activations the Server remembers per model
// name, overriding the default of 256. The durable history belongs to
// package registry; this one serves operators' queries.
func WithHistory(n int) Option { return func(o *options) { o.historyLen = n } }

// Server holds one hot-swappable slot per model name.
//
// Named records are bound to each live version's named inputs once per
// record Layout; see the package documentation, "Named inputs".
//
// Activating a version is atomic: a call that starts after the swap uses
// the new version, and a call already running finishes on the version it
// started with. An old version is closed (if it implements [Closer])
// exactly once, after its last in-flight call returns. A version that
// is not admitted ([WithAdmission]), or fails to resolve, load, warm up,
// validate ([WithValidation]) or pass the version check, never replaces
// the live one.
//
// A Server is safe for concurrent use.
type Server struct {
	o       options
	mu      sync.Mutex // guards slots map and closed
	slots   map[string]*slot
	closed  bool
	rejects atomic.Uint64
	// rejectSlots counts the slots created to record the rejection of a
	// name that had none, bounded by maxRejectedNames.
	rejectSlots int
	// owned counts the holders of each model instance (see owned).
	owned owned
}

// maxRejectedNames bounds how many names a Server tracks for rejections
// alone (see [Server.Rejections]).
const maxRejectedNames = 1024

// Rejections returns how many activations of name were refused, and the
// last reason. A rejected version never replaced the live one. Names
// that were never live are tracked up to 1,024 of them, so that a stream
// of bad model messages with ever new names cannot grow the Server's
// memory without limit; past that, rejections of unknown names are
// still logged, sent to hooks and counted by TotalRejections, but
// Rejections(name) does not see them.
func (s *Server) Rejections(name string) (n uint64, last error) {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return 0, nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.rejects.Load(), sl.lastErr
}

// TotalRejections returns how many activations were refused across all
// names, including those whose name was empty or never seen before.
func (s *Server) TotalRejections() uint64 { return s.rejects.Load() }

// NewServer returns a Server with no models. An Option that is nil, or
// that sets something impossible, is refused with an error wrapping
// ErrConfig.
func NewServer(opts ...Option) (*Server, error) {
	o := options{logger: logs.Default(), historyLen: 256, maxJump: defaultMaxVersionJump}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: NewServer: nil Option", ErrConfig)
		}
		opt(&o)
	}
	if o.logger == nil {
		return nil, fmt.Errorf("%w: WithLogger(nil)", ErrConfig)
	}
	if len(o.errs) > 0 {
		return nil, o.errs[0]
	}
	var err error
	if o.load, err = newLoader(o.load.LoadOptions); err != nil {
		return nil, err
	}
	if o.badAdmit {
		return nil, fmt.Errorf("%w: WithAdmission(nil)", ErrConfig)
	}
	if o.historyLen < 1 {
		return nil, fmt.Errorf("%w: WithHistory(%d): must be at least 1", ErrConfig, o.historyLen)
	}
	if o.nonFinite > PassNonFinite {
		return nil, fmt.Errorf("%w: unknown NonFinitePolicy %d", ErrConfig, o.nonFinite)
	}
	if err := checkProbes(o.valid.Probes, o.nonFinite); err != nil {
		return nil, err
	}
	switch {
	case o.valid.Samples == 0:
		o.valid.Samples = defaultSamples
	case o.valid.Samples < 0:
		o.valid.Samples = 0
	}
	return &Server{o: o, slots: map[string]*slot{}}, nil
}

// checkProbes refuses a probe holding a value that policy p refuses: the
// Server would refuse to score such a record, while validation hands it
// to every candidate as it is, so a model that answers NaN for a NaN
// would be refused at every activation, for a record no traffic can
// bring.
func checkProbes(probes map[string][]Record, p NonFinitePolicy) error {
	if p == PassNonFinite {
		return nil
	}
	for name, rs := range probes {
		for i := range rs {
			if err := checkFinite(rs[i].Features, p); err != nil {
				return fmt.Errorf("%w: WithValidation: probe %d of %q: %w, which the NonFinite policy refuses", ErrConfig, i, name, err)
			}
		}
	}
	return nil
}

// Activation is one entry of a slot's history.
type Activation struct {
	// Model is the version that became live, or that was retired.
	Model ModelRef `json:"model"`
	// Kind is EventActivated, EventRolledBack or EventRetired; in JSON,
	// its name ("activated").
	Kind EventKind `json:"kind"`
	// At is when it happened.
	At time.Time `json:"at"`
}

// slot is the hot-swappable home of one model name.
type slot struct {
	s       *Server
	name    string
	cur     atomic.Pointer[live]
	mu      sync.Mutex // serialises swaps and guards history and lastErr
	history []Activation
	rejects atomic.Uint64
	lastErr error
	samples samples // recent records, to validate new versions on
	// high is the highest version ever live in the slot: Version 0
	// numbers above it, so a number is never given to two models even
	// after a rollback or a retirement. Written under mu.
	high atomic.Uint64
}

// live is one loaded version with its reference count and stats.
//
// Its references (see counters) are the slot's own, held while the
// version is live, and one per record of each call in flight. The
// release that gives back the last one marks the version dead and closes
// it, unless a call that loaded the version before it was swapped out
// acquires it in between: that call then uses it (it started before the
// swap), and closes it when it returns. A dead version is never acquired
// again.
type live struct {
	s     *Server
	ref   ModelRef
	m     Model
	bp    BatchPredictor // m, when it is one
	in    *inputs        // the model's named inputs, for binding named records
	binds bindings       // per record Layout
	since time.Time
	stats counters
	// nonFinite is set while the batches scored hold NaN or ±Inf, so
	// that ScoreBatch checks their rows one by one without first summing
	// the whole batch; a hint for speed, never for an answer.
	nonFinite atomic.Bool
}

func newLive(s *Server, ref ModelRef, m Model, in *inputs) *live {
	l := &live{s: s, ref: ref, m: m, in: in, since: time.Now()}
	l.bp, _ = m.(BatchPredictor)
	l.stats.init()
	return l
}

// release gives back k references to l, and, if they were the last,
// lets go of its model, closing it unless another version still holds
// the same instance.
func (l *live) release(k uint64) {
	if l.stats.release(k) {
		l.s.disown(l.m, l.ref)
	}
}

// disown lets go of one holder's reference to m (see owned) and closes m
// if it was the last.
func (s *Server) disown(m Model, ref ModelRef) {
	if s.owned.drop(m) {
		closeModel(m, ref, s.o.logger)
	}
}

func closeModel(m Model, ref ModelRef, logger *slog.Logger) {
	if c, ok := m.(Closer); ok {
		if err := c.Close(); err != nil {
			logger.Warn("model close failed", "model", ref.Name, "version", ref.Version, "id", ref.ID, "err", err)
		}
	}
}

// acquire returns the live version with k references taken, counted as
// k calls, and the number of the last of them (see counters.acquire), or
// nil.
func (sl *slot) acquire(k uint64) (*live, uint64) {
	for {
		l := sl.cur.Load()
		if l == nil {
			return nil, 0
		}
		if n, ok := l.stats.acquire(k); ok {
			return l, n
		}
		// l is closed: the slot already points elsewhere, so look again.
	}
}

// isClosed reports whether Close has been called.
func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) slot(name string, create bool) (*slot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && create {
		return nil, ErrClosed
	}
	sl := s.slots[name]
	if sl == nil && create {
		sl = &slot{s: s, name: name}
		s.slots[name] = sl
	}
	return sl, nil
}

// rejectSlot returns the slot where a rejection of name is recorded,
// creating it within the maxRejectedNames bound, or nil.
func (s *Server) rejectSlot(name string) *slot {
	if name == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[name]; sl != nil {
		return sl
	}
	if s.closed || s.rejectSlots >= maxRejectedNames {
		return nil
	}
	s.rejectSlots++
	sl := &slot{s: s, name: name}
	s.slots[name] = sl
	return sl
}

// maxNameBytes is the longest model name a Server takes, the same as
// the models topic's (wire.MaxNameBytes).
const maxNameBytes = 255

// checkName refuses, as a rejection, a name longer than maxNameBytes.
// The rejection is counted by TotalRejections but kept by no name, and
// the ref it reports carries the name cut short.
func (s *Server) checkName(ref ModelRef) error {
	if len(ref.Name) <= maxNameBytes {
		return nil
	}
	short := clipName(ref)
	err := &ModelError{load: true, Model: short, Err: fmt.Errorf("%w: a name of %d bytes, more than %d", ErrInvalidDescriptor, len(ref.Name), maxNameBytes)}
	s.rejects.Add(1)
	s.event(ModelEvent{Kind: EventRejected, Model: short, Err: err, Time: time.Now()})
	return err
}

// clipName cuts a name longer than maxNameBytes to its first 32 bytes
// and "...", for errors and logs.
func clipName(ref ModelRef) ModelRef {
	if len(ref.Name) > maxNameBytes {
		ref.Name = strings.ToValidUTF8(ref.Name[:32], "") + "..."
	}
	return ref
}

// ActivateOption modifies one activation.
type ActivateOption func(*activateOptions)

type activateOptions struct {
	rollback bool
	highest  uint64
}

// parseActivate applies opts, refusing a nil one with ErrConfig.
func parseActivate(opts []ActivateOption) (activateOptions, error) {
	var ao activateOptions
	for _, o := range opts {
		if o == nil {
			return ao, fmt.Errorf("%w: nil ActivateOption", ErrConfig)
		}
		o(&ao)
	}
	return ao, nil
}

// AllowRollback lets an activation install a version that is not newer
// than the live one. The activation is recorded as EventRolledBack.
func AllowRollback() ActivateOption { return func(o *activateOptions) { o.rollback = true } }

// HighestVersion tells the Server that versions of the name up to v
// already name models elsewhere, such as in a registry, so that once this
// activation succeeds Version 0 numbers above v as well as above every
// version the Server has made live. A restarted Server that restores an
// older version (package registry's Restore) learns the highest stored
// one this way. v is refused, failing the activation with an error
// wrapping ErrInvalidDescriptor, when it is the maximum uint64 or more
// than the version-jump bound ([WithMaxVersionJump]) past the version
// activated.
func HighestVersion(v uint64) ActivateOption {
	return func(o *activateOptions) { o.highest = max(o.highest, v) }
}

// Activate admits ([WithAdmission]), resolves, loads, warms up and
// validates ([WithValidation]) the model d describes, then makes it the
// live version of d.Name.
//
// d.Version 0 means "the next version": one more than the highest
// version of d.Name this Server has made live, counted when the swap
// happens, or 1 for the first. A number is never reused: after a
// rollback from v3 to v1, or a retirement, the next version is v4, since
// v2 and v3 already named other models. That numbering is local to this
// Server and starts afresh with it, unless an activation says what it
// does not know ([HighestVersion]); a fleet that must agree on numbers takes them
// from the models topic or the registry, which number a message without
// a version the same way on every instance.
//
// It refuses, with an error wrapping ErrStaleVersion, a version that is
// not newer than the live one unless AllowRollback is given. Any failure
// leaves the live version serving and is reported as an EventRejected
// model event and a log line. Activate returns the ModelRef now live,
// with its assigned version.
//
// A name longer than 255 bytes, the models topic's limit, is refused
// before anything else with ErrInvalidDescriptor; such a rejection is
// counted by TotalRejections but not kept under the name. A nil
// ActivateOption refuses the activation with ErrConfig.
func (s *Server) Activate(ctx context.Context, d Descriptor, opts ...ActivateOption) (ModelRef, error) {
	ref := d.Ref()
	if err := s.checkName(ref); err != nil {
		return clipName(ref), err
	}
	if _, err := parseActivate(opts); err != nil {
		s.reject(ref, err)
		return ref, err
	}
	if s.isClosed() { // before any fetch or load: nothing would go live
		s.reject(ref, ErrClosed)
		return ref, ErrClosed
	}
	if d.Name != "" && d.Version != 0 {
		if err := s.checkVersion(d.Name, d.Version, opts); err != nil {
			s.reject(ref, err)
			return ref, err
		}
	}
	if len(s.o.admitters) > 0 {
		if err := s.admit(ctx, &d, opts); err != nil {
			s.reject(d.Ref(), err)
			return d.Ref(), err
		}
	}
	rd, err := resolve(ctx, d, s.o.load)
	if err != nil {
		s.reject(ref, err)
		return ref, err
	}
	ref = rd.Ref()
	m, err := loadResolved(ctx, rd)
	if err != nil {
		s.reject(ref, err)
		return ref, err
	}
	s.event(ModelEvent{Kind: EventLoaded, Model: ref, Time: time.Now()})
	d.SHA256 = rd.SHA256
	return s.activate(ctx, ref, m, &d, opts)
}

// ActivateModel makes an already loaded model the live version of
// ref.Name, under the same rules as Activate, Version 0 included. On
// error the Server closes m (if it is a [Closer]); on success the Server
// owns m and closes it once it is replaced and drained. One instance may
// be given more than once, as a later version or under another name: it
// is closed once, when no version made of it is live or in flight, and a
// refused offer of an instance that is live does not close it. It
// returns the ModelRef now live, with its assigned version.
func (s *Server) ActivateModel(ctx context.Context, ref ModelRef, m Model, opts ...ActivateOption) (ModelRef, error) {
	return s.activate(ctx, ref, m, nil, opts)
}

// activate installs m; d is the admitted Descriptor, given to the
// Committers, or nil for ActivateModel.
func (s *Server) activate(ctx context.Context, ref ModelRef, m Model, d *Descriptor, opts []ActivateOption) (ModelRef, error) {
	// This call holds m until it fails, or until the live version made
	// of m takes its place as holder.
	s.owned.hold(m)
	fail := func(err error) (ModelRef, error) {
		s.disown(m, ref)
		s.reject(ref, err)
		return ref, err
	}
	ao, err := parseActivate(opts)
	if err != nil {
		return fail(err)
	}
	if ref.Name == "" {
		return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("%w: empty name", ErrInvalidDescriptor)})
	}
	if err := s.checkName(ref); err != nil {
		s.disown(m, clipName(ref))
		return clipName(ref), err
	}
	if m == nil {
		return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("%w: nil model", ErrInvalidDescriptor)})
	}
	if s.isClosed() { // before the warm-up and validation; checked again at the swap
		return fail(ErrClosed)
	}
	in, err := safeInputs(m, ref)
	if err != nil {
		return fail(&ModelError{load: true, Model: ref, Err: err})
	}
	if fields := s.o.streams[ref.Name]; fields != nil {
		if err := in.check(fields); err != nil {
			return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("the stream's declared fields cannot feed the model: %w", err)})
		}
	}
	if err := safeWarm(ctx, m, ref); err != nil {
		return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("warm up: %w", err)})
	}
	sl, err := s.slot(ref.Name, true)
	if err != nil {
		return fail(err)
	}
	l := newLive(s, ref, m, in)
	if err := s.validate(ctx, sl, l); err != nil {
		return fail(&ModelError{load: true, Model: ref, Err: err})
	}
	sl.mu.Lock()
	old := sl.cur.Load()
	if ref.Version == 0 {
		ref.Version = sl.high.Load() + 1
	}
	if old != nil && ref.Version <= old.ref.Version && !ao.rollback {
		sl.mu.Unlock()
		return fail(&VersionError{Name: ref.Name, Live: old.ref.Version, Offered: ref.Version})
	}
	if err := s.checkJump(ref, sl.high.Load()); err != nil {
		sl.mu.Unlock()
		return fail(err)
	}
	if h := ao.highest; h == math.MaxUint64 || (h > ref.Version && h-ref.Version > s.o.maxJump) {
		sl.mu.Unlock()
		return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("%w: highest version %d is more than %d past v%d", ErrInvalidDescriptor, h, s.o.maxJump, ref.Version)})
	}
	// Closed is checked before the Committers, so that nothing is
	// recorded for a model that a closing Server will not make live.
	if s.isClosed() {
		sl.mu.Unlock()
		return fail(ErrClosed)
	}
	if d != nil {
		cd := *d
		cd.Version = ref.Version
		for _, a := range s.o.admitters {
			c, ok := a.(Committer)
			if !ok {
				continue
			}
			if err := s.commit(ctx, c, cd); err != nil {
				sl.mu.Unlock()
				return fail(&ModelError{load: true, Model: ref, Err: fmt.Errorf("%w: commit: %w", ErrNotAdmitted, err)})
			}
		}
	}
	l.ref = ref
	// The instant it goes live, taken under the lock like a retirement's:
	// the activation began before warm-up and validation, and another
	// swap or a retirement of the name may have happened meanwhile.
	l.since = time.Now()
	sl.cur.Store(l)
	if h := max(ref.Version, ao.highest); h > sl.high.Load() {
		sl.high.Store(h)
	}
	kind := EventActivated
	if ao.rollback && old != nil && ref.Version <= old.ref.Version {
		kind = EventRolledBack
	}
	sl.remember(Activation{Model: ref, Kind: kind, At: l.since})
	sl.mu.Unlock()
	var prev ModelRef
	if old != nil {
		prev = old.ref
		old.release(1)
	}
	s.event(ModelEvent{Kind: kind, Model: ref, Previous: prev, Time: l.since})
	return ref, nil
}

// admit runs the Admitters on d, filling d.SHA256 from inline bytes
// first.
func (s *Server) admit(ctx context.Context, d *Descriptor, opts []ActivateOption) error {
	if len(d.Bytes) > 0 && d.SHA256 == "" {
		d.SHA256 = ContentID(d.Bytes)
	}
	ao, _ := parseActivate(opts) // checked by Activate
	if ao.rollback {
		ctx = context.WithValue(ctx, rollbackKey{}, true)
	}
	for _, a := range s.o.admitters {
		if err := s.admitBy(ctx, a, *d); err != nil {
			return &ModelError{load: true, Model: d.Ref(), Err: fmt.Errorf("%w: %w", ErrNotAdmitted, err)}
		}
	}
	return nil
}

// admitBy asks a to admit d. An Admitter is the user's code, or a policy
// judging hostile input, called from Activate's caller, which may be a
// model feed's partition goroutine, where a panic ends the process: a
// panic refuses d instead, and is logged with its stack.
func (s *Server) admitBy(ctx context.Context, a Admitter, d Descriptor) (err error) {
	defer s.recoverAdmission(&err, "Admitter", d)
	return a.Admit(ctx, d)
}

// commit asks c to record d, as admitBy asks an Admitter. It runs while
// the name's swaps are serialised: a panic that unwound from here would
// also leave the name locked, and its next activation waiting for ever.
func (s *Server) commit(ctx context.Context, c Committer, d Descriptor) (err error) {
	defer s.recoverAdmission(&err, "Committer", d)
	return c.Commit(ctx, d)
}

// recoverAdmission turns a panic in an Admitter or a Committer (what)
// into *err.
func (s *Server) recoverAdmission(err *error, what string, d Descriptor) {
	if p := recover(); p != nil {
		s.o.logger.Error("recovered a panic in an "+what, "model", d.Name, "version", d.Version, "panic", p, "stack", string(debug.Stack()))
		*err = fmt.Errorf("the %s panicked: %v", what, p)
	}
}

func (s *Server) checkVersion(name string, v uint64, opts []ActivateOption) error {
	ao, _ := parseActivate(opts) // checked by Activate
	var old *live
	var high uint64
	if sl, _ := s.slot(name, false); sl != nil {
		old = sl.cur.Load()
		high = sl.high.Load()
	}
	// Absurd versions are refused before any fetch, rollback or not.
	if err := s.checkJump(ModelRef{Name: name, Version: v}, high); err != nil {
		return err
	}
	if ao.rollback {
		return nil
	}
	if old != nil && v <= old.ref.Version {
		return &VersionError{Name: name, Live: old.ref.Version, Offered: v}
	}
	return nil
}

// checkJump refuses the maximum version, and a version more than
// maxJump past base, the highest version the slot has made live (or 0).
func (s *Server) checkJump(ref ModelRef, base uint64) error {
	if ref.Version == math.MaxUint64 || (ref.Version > base && ref.Version-base > s.o.maxJump) {
		return &ModelError{load: true, Model: ref, Err: fmt.Errorf("%w: version %d is more than %d past v%d", ErrInvalidDescriptor, ref.Version, s.o.maxJump, base)}
	}
	return nil
}

func (sl *slot) remember(a Activation) {
	sl.history = append(sl.history, a)
	if n := len(sl.history) - sl.s.o.historyLen; n > 0 {
		sl.history = slices.Delete(sl.history, 0, n)
	}
}

// Retire stops serving name. Calls already running finish; later calls
// fail with ErrNoModel until a new version is activated. Retiring a name
// with no live model does nothing.
func (s *Server) Retire(name string) { s.retire(name, true) }

// retire takes name's live version out of service and releases it; with
// report, as a retirement: in the history and as an EventRetired.
func (s *Server) retire(name string, report bool) {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return
	}
	sl.mu.Lock()
	old := sl.cur.Swap(nil)
	// One instant, taken under the lock, for the history and the event:
	// a recorder of events then agrees with History, and the retirement
	// is ordered before any activation that follows it.
	at := time.Now()
	if old != nil && report {
		sl.remember(Activation{Model: old.ref, Kind: EventRetired, At: at})
	}
	sl.mu.Unlock()
	if old != nil {
		old.release(1)
		if report {
			s.event(ModelEvent{Kind: EventRetired, Model: old.ref, Time: at})
		}
	}
}

// Close shuts the Server down: it stops serving every model, and each
// is closed as its in-flight calls drain. It is a shutdown, not a
// retirement: the hooks hear no EventRetired and the History keeps what
// was live, so that a registry Follower's history, and an audit trail,
// say what this instance served until it stopped, and package registry's
// Restore serves it again at the next start. Later calls fail with
// ErrClosed, and later activations too, before anything is fetched or
// loaded. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	names := make([]string, 0, len(s.slots))
	for n := range s.slots {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		s.retire(n, false)
	}
	return nil
}

// Current returns the version of name that is live now. It is the one
// question "what is live?"; [Server.Models] adds the statistics of every
// live version, and [Server.History] what was live before.
func (s *Server) Current(name string) (ModelRef, bool) {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return ModelRef{}, false
	}
	if l := sl.cur.Load(); l != nil {
		return l.ref, true
	}
	return ModelRef{}, false
}

// NextVersion returns the version Activate gives a Descriptor of name
// with Version 0, if nothing else is activated first: one more than the
// highest version of name this Server has made live or learnt of
// through [HighestVersion], so never a number given before, even after a
// rollback or a retirement; 1 for a name it never served.
func (s *Server) NextVersion(name string) uint64 {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return 1
	}
	return sl.high.Load() + 1
}

// Models returns every live version with its statistics, sorted by
// name.
func (s *Server) Models() []Stats {
	s.mu.Lock()
	sls := make([]*slot, 0, len(s.slots))
	for _, sl := range s.slots {
		sls = append(sls, sl)
	}
	s.mu.Unlock()
	out := make([]Stats, 0, len(sls))
	for _, sl := range sls {
		if l := sl.cur.Load(); l != nil {
			out = append(out, l.stats.snapshot(l.ref, l.since))
		}
	}
	slices.SortFunc(out, func(a, b Stats) int {
		switch {
		case a.Model.Name < b.Model.Name:
			return -1
		case a.Model.Name > b.Model.Name:
			return 1
		}
		return 0
	})
	return out
}

// History returns the remembered activations of name, oldest first.
func (s *Server) History(name string) []Activation {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return slices.Clone(sl.history)
}

// Model returns a Scorer for name that always scores with the version
// live at the moment each call starts, and stamps that exact version in
// the Result's provenance. It can be taken before any version is live;
// calls then fail with ErrNoModel, and once the Server is closed with
// ErrClosed.
func (s *Server) Model(name string) Scorer {
	sl, err := s.slot(name, true)
	if err != nil {
		return ScorerFunc(func(context.Context, Record) (Result, error) {
			return Result{}, ErrClosed
		})
	}
	return (*slotScorer)(sl)
}

// monoBase anchors the monotonic clock readings that time Predict calls.
var monoBase = time.Now()

// slotScorer is the Scorer view of a slot.
type slotScorer slot

// Score implements Scorer.
func (ss *slotScorer) Score(ctx context.Context, r Record) (res Result, err error) {
	sl := (*slot)(ss)
	l, n := sl.acquire(1)
	if l == nil {
		return Result{}, sl.noModel()
	}
	// Deferred, so that a panic in the model or a hook, recovered by a
	// caller (package speculative does), still lets the version close.
	defer l.release(1)
	if err := ctx.Err(); err != nil {
		// Done before the call: answer as the Scorer contract says, even
		// for a model that would ignore its context.
		return l.refused(err)
	}
	feats := r.Features
	var buf *[]float64
	if r.Layout != nil {
		var err error
		if feats, buf, err = l.named(&r); err != nil {
			return l.refused(err)
		}
	}
	if p := sl.s.o.nonFinite; p != PassNonFinite && !allFinite(feats) {
		if err := checkFinite(feats, p); err != nil {
			l.in.put(buf)
			return l.refused(l.in.nameInput(err))
		}
	}
	// Timing is sampled (see Stats); the hooks, when there are any, are
	// given every call's duration.
	hooks := sl.s.o.hooks.scored
	timed := timeCalls(n, 1, len(hooks) > 0)
	var start time.Duration
	if timed {
		// A monotonic clock read; time.Now would also read the wall clock.
		start = time.Since(monoBase)
	}
	// The model's answer goes straight into the result: a local copied
	// into a Result built at the return cost 6ns a call, a tenth of
	// what the Server adds (BenchmarkServerOverhead).
	res.Prediction, err = l.m.Predict(ctx, feats)
	if timed {
		took := time.Since(monoBase) - start
		l.stats.time(took, 1)
		for _, h := range hooks {
			h.OnScored(l.ref, took, err)
		}
	}
	l.in.put(buf)
	if err != nil {
		l.stats.errs.Add(1)
		return l.failed(err)
	}
	if n&sampleMask == 0 && sl.s.o.valid.Samples > 0 {
		sl.samples.add(&r, sl.s.o.valid.Samples)
	}
	res.Provenance.Model = l.ref
	return res, nil
}

// noModel is the error of a call that found no live version: ErrClosed
// once the Server is closed (Close takes every version out of service,
// also from the Scorers taken before it), else ErrNoModel.
func (sl *slot) noModel() error {
	if sl.s.isClosed() {
		return ErrClosed
	}
	return fmt.Errorf("%w: %q", ErrNoModel, sl.name)
}

// refused is Score's answer to a record refused before the model: not a
// call to it, so not counted in its Invocations.
func (l *live) refused(err error) (Result, error) {
	l.stats.skip(1)
	return l.failed(err)
}

// failed is Score's answer when l could not score a record: a Result
// naming l, and err in a *ModelError.
func (l *live) failed(err error) (Result, error) {
	return Result{Provenance: Provenance{Model: l.ref}}, &ModelError{Model: l.ref, Err: err}
}

// Ref returns the live version, or a ModelRef with only the name.
func (ss *slotScorer) Ref() ModelRef {
	if l := ss.cur.Load(); l != nil {
		return l.ref
	}
	return ModelRef{Name: ss.name}
}

// nameInput gives a *NonFiniteError the model's name for its input, so
// that the message of a named record, whose fields may be in another
// order, says which field was not finite.
func (in *inputs) nameInput(err error) error {
	if nf, ok := err.(*NonFiniteError); ok && nf.Index < len(in.names) {
		nf.name = in.names[nf.Index].Name
	}
	return err
}

// checkFinite returns a *NonFiniteError for the first value of fs that
// policy p refuses, or nil. Its callers call it only for a row whose sum
// allFinite found not finite, so it looks at each value without summing
// them again: f-f is 0 for a finite f, and NaN for NaN and ±Inf.
func checkFinite(fs []float64, p NonFinitePolicy) error {
	for i, f := range fs {
		if f-f == 0 || p == AllowMissing && f != f {
			continue
		}
		return &NonFiniteError{Index: i, Value: f}
	}
	return nil
}

// allFinite reports whether the values of fs sum to a finite number,
// which they do when none is NaN or ±Inf, unless their sum overflows: a
// NaN or an infinity, once in a sum, stays (as NaN or ±Inf; +Inf and
// -Inf make NaN). So true means every value is finite, and false that
// checkFinite must look at each value. s-s is 0 for a finite s and NaN
// otherwise. Eight independent sums (four, then one, for what is left)
// and no branch per value: it is the Server's largest per-record cost in
// Score (in a batch, scanBatch sums the whole batch the same way, and
// allFinite checks each row only when that sum is not finite), and one
// addition per value costs less than summing x-x, which
// takes two (BenchmarkServerOverheadBatch: 19.6 to 15.8 cpu-ns per
// record at batch 8), than a branch-free OR of the exponent bits, which
// takes three integer operations (2.2 times the time at 30 and at 200
// values), or than math.IsNaN and math.IsInf on each value (5 times):
// BenchmarkFiniteCheck. SIMD would take assembly, and an SSE2 version
// (x-x ORed two values a step) was slower at 30 values, faster only for
// wide rows (0.65 times the time at 200).
func allFinite(fs []float64) bool {
	var a, b, c, d, e, f, g, h float64
	for len(fs) >= 8 {
		x := fs[:8:8]
		a += x[0]
		b += x[1]
		c += x[2]
		d += x[3]
		e += x[4]
		f += x[5]
		g += x[6]
		h += x[7]
		fs = fs[8:]
	}
	if len(fs) >= 4 {
		x := fs[:4:4]
		a += x[0]
		b += x[1]
		c += x[2]
		d += x[3]
		fs = fs[4:]
	}
	for _, x := range fs {
		e += x
	}
	s := (a + b) + (c + d) + (e + f) + (g + h)
	return s-s == 0
}

// scanBatch reports whether any record of rs is named (has a Layout)
// and, when sum is set, whether the features of all of rs sum to a
// finite number, which they do when none is NaN or ±Inf, unless the sum
// overflows. finite means that every feature of every record is
// finite, and so is every row gathered from them (a named record's row
// holds its own numbers and category codes); otherwise each row must be
// checked. It sums as allFinite does, but the lanes run on from one
// record to the next and are added together once per batch, not once
// per record.
func scanBatch(rs []Record, sum bool) (named, finite bool) {
	if !sum {
		for i := range rs {
			if rs[i].Layout != nil {
				return true, false
			}
		}
		return false, false
	}
	var a, b, c, d, e, f, g, h float64
	for i := range rs {
		r := &rs[i]
		if r.Layout != nil {
			named = true
		}
		fs := r.Features
		for len(fs) >= 8 {
			x := fs[:8:8]
			a += x[0]
			b += x[1]
			c += x[2]
			d += x[3]
			e += x[4]
			f += x[5]
			g += x[6]
			h += x[7]
			fs = fs[8:]
		}
		if len(fs) >= 4 {
			x := fs[:4:4]
			a += x[0]
			b += x[1]
			c += x[2]
			d += x[3]
			fs = fs[4:]
		}
		// The last 0 to 3 values go to three lanes, so that no lane
		// takes more than four additions a record of 30 values.
		switch len(fs) {
		case 3:
			h += fs[2]
			fallthrough
		case 2:
			g += fs[1]
			fallthrough
		case 1:
			f += fs[0]
		}
	}
	s := (a + b) + (c + d) + (e + f) + (g + h)
	return named, s-s == 0
}

func (s *Server) reject(ref ModelRef, err error) {
	if sl := s.rejectSlot(ref.Name); sl != nil {
		sl.rejects.Add(1)
		sl.mu.Lock()
		sl.lastErr = err
		sl.mu.Unlock()
	}
	s.rejects.Add(1)
	s.event(ModelEvent{Kind: EventRejected, Model: ref, Err: err, Time: time.Now()})
}

func (s *Server) event(e ModelEvent) {
	attrs := []any{"model", e.Model.Name, "version", e.Model.Version, "id", e.Model.ID, "format", e.Model.Format}
	switch e.Kind {
	case EventRejected:
		s.o.logger.Warn("model rejected", append(attrs, "err", e.Err)...)
	case EventLoaded:
		s.o.logger.Debug("model loaded", attrs...)
	default:
		if e.Previous.Name != "" {
			attrs = append(attrs, "previous_version", e.Previous.Version)
		}
		s.o.logger.Info("model "+e.Kind.String(), attrs...)
	}
	for _, h := range s.o.hooks.events {
		s.tell(h, e)
	}
}

// tell calls h with e. The event has happened (the version is live, or
// retired) when the hooks hear of it: a hook that panics is recovered
// and logged with its stack, so that the hooks after it still hear of e
// and the panic does not unwind into Activate's caller, which may be a
// goroutine of a model feed, where it would end the process.
func (s *Server) tell(h HookModelEvent, e ModelEvent) {
	defer func() {
		if p := recover(); p != nil {
			s.o.logger.Error("recovered a panic in a model event hook", "model", e.Model.Name, "version", e.Model.Version, "event", e.Kind.String(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h.OnModelEvent(e)
}

// named returns the features a named record feeds l's model: gathered
// into a pooled buffer (returned to the pool with in.put after Predict)
// when the model names its inputs, or the record's own when it does not.
func (l *live) named(r *Record) ([]float64, *[]float64, error) {
	if n := r.Layout.Len(); len(r.Features) != n || (r.Text != nil && len(r.Text) != n) {
		// The record disagrees with its own layout; no model is involved.
		return nil, nil, fmt.Errorf("%w: the record has %d features and %d texts for a layout of %d fields", ErrFeatureCount, len(r.Features), len(r.Text), n)
	}
	b := l.binds.bind(l.in, r.Layout)
	if b.err != nil {
		return nil, nil, b.err
	}
	if b.idx == nil {
		return r.Features, nil, checkText(r)
	}
	buf := l.in.bufs.Get().(*[]float64)
	if err := b.gather(l.in, *buf, r); err != nil {
		l.in.put(buf)
		return nil, nil, err
	}
	return *buf, buf, nil
}

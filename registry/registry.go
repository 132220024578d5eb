package registry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/modelstream/modelstream/internal/contentid"
	"github.com/modelstream/modelstream/serving"
)

// Version is the metadata of one stored version. It is kept forever,
// even after retention drops the bytes.
type Version struct {
	// Descriptor is the Descriptor that was put, without its Bytes:
	// its Version is the one assigned, its SHA256 the content ID, and
	// Descriptor.Ref names the version.
	Descriptor serving.Descriptor
	// Size is the length of the model bytes, or 0 when only a Location
	// was stored.
	Size int64
	// Stored is when the store first stored this version.
	Stored time.Time
	// HasBytes says the store holds the bytes; Pruned says retention
	// dropped them.
	HasBytes, Pruned bool
}

// record is how a Version is stored: its JSON is the storage layout, so
// that stores written before keep reading.
type record struct {
	// Model names the version: name, version, content ID and format.
	Model serving.ModelRef `json:"model"`
	// Description, Location, Created, Parent, Labels and Signature are
	// copied from the Descriptor that was put.
	Description string            `json:"description,omitempty"`
	Location    string            `json:"location,omitempty"`
	Created     time.Time         `json:"created"`
	Parent      string            `json:"parent,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Signature   []byte            `json:"signature,omitempty"`
	Size        int64             `json:"size"`
	Stored      time.Time         `json:"stored"`
	HasBytes    bool              `json:"has_bytes"`
	Pruned      bool              `json:"pruned,omitempty"`
}

// descriptor returns the Descriptor of v without its bytes.
func (v record) descriptor() serving.Descriptor {
	return serving.Descriptor{
		Name: v.Model.Name, Format: v.Model.Format, Version: v.Model.Version,
		Description: v.Description, Location: v.Location, SHA256: v.Model.ID,
		Created: v.Created, Parent: v.Parent, Labels: maps.Clone(v.Labels),
		Signature: slices.Clone(v.Signature),
	}
}

// version returns the Version v stores.
func (v record) version() Version {
	return Version{Descriptor: v.descriptor(), Size: v.Size, Stored: v.Stored, HasBytes: v.HasBytes, Pruned: v.Pruned}
}

// Latest is the reserved alias that always resolves to the highest
// stored version.
const Latest = "latest"

// Sentinel errors. Errors returned by the stores wrap them; test with
// errors.Is. The module's shared sentinels cover the rest: a bad argument
// (an empty or reserved alias, an activation without a name, kind or
// time, no version left to assign) or Option wraps serving.ErrConfig, a
// Descriptor that lacks what Put needs serving.ErrInvalidDescriptor, a
// Storage written with another layout serving.ErrCorruptState, and a
// closed Registry serving.ErrClosed.
var (
	// ErrNotFound means the name, version or alias is not stored.
	ErrNotFound = errors.New("registry: not found")
	// ErrVersionConflict means a Put named a stored version with
	// different content. The error is a *ConflictError.
	ErrVersionConflict = errors.New("registry: version conflict")
	// ErrPruned means retention dropped the bytes of a version.
	ErrPruned = errors.New("registry: bytes pruned by retention")
	// ErrNotActive means no version of the name was active at the time
	// asked.
	ErrNotActive = errors.New("registry: no active version")
)

// ConflictError details an ErrVersionConflict.
type ConflictError struct {
	// Stored and Offered are the stored version and the refused one:
	// the same name and version, with different content IDs or formats.
	Stored, Offered serving.ModelRef
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("registry: version conflict: %s@v%d is stored with content %s (%s), refused different content %s (%s)",
		e.Stored.Name, e.Stored.Version, short(e.Stored.ID), e.Stored.Format, short(e.Offered.ID), e.Offered.Format)
}

// Is reports whether target is ErrVersionConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrVersionConflict }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func notFound(name string, version uint64) error {
	if version == 0 {
		return fmt.Errorf("%w: model %q", ErrNotFound, name)
	}
	return fmt.Errorf("%w: %s@v%d", ErrNotFound, name, version)
}

// Option configures a Registry.
type Option func(*options)

type options struct {
	retain int
	now    func() time.Time
}

// Retain keeps the bytes of only the n highest versions of each name,
// overriding the default of 0, which keeps every version's bytes.
// Versions an alias points at, and the version currently active
// according to the activation history, keep their bytes too. Metadata
// is always kept. Pruning happens during Put.
func Retain(n int) Option { return func(o *options) { o.retain = n } }

// withClock sets the clock used for Version.Stored; tests use it.
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func applyOptions(opts []Option) (options, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retain < 0 {
		return o, fmt.Errorf("%w: registry: Retain(%d): must be 0 (keep all) or positive", serving.ErrConfig, o.retain)
	}
	if o.now == nil {
		return o, fmt.Errorf("%w: registry: nil clock", serving.ErrConfig)
	}
	return o, nil
}

// prepare validates d for Put and returns its metadata with the content
// ID computed. Version, Stored and the byte flags are set by the store.
func prepare(d serving.Descriptor) (record, error) {
	if d.Name == "" {
		return record{}, fmt.Errorf("%w: descriptor has no name", serving.ErrInvalidDescriptor)
	}
	if d.Format == "" {
		return record{}, fmt.Errorf("%w: %s has no format", serving.ErrInvalidDescriptor, d.Name)
	}
	id := d.SHA256
	if len(d.Bytes) > 0 {
		id = serving.ContentID(d.Bytes)
		if d.SHA256 != "" && d.SHA256 != id {
			return record{}, fmt.Errorf("registry: put %s: %w", d.Name, &serving.ChecksumError{Want: d.SHA256, Got: id})
		}
	} else if d.Location == "" || d.SHA256 == "" {
		return record{}, fmt.Errorf("%w: %s has no bytes, and no location with a sha256", serving.ErrInvalidDescriptor, d.Name)
	} else if !contentid.Valid(d.SHA256) {
		return record{}, fmt.Errorf("%w: %s: sha256 %q is not 64 lowercase hex digits", serving.ErrInvalidDescriptor, d.Name, d.SHA256)
	}
	v := record{
		Model:       serving.ModelRef{Name: d.Name, Version: d.Version, ID: id, Format: d.Format},
		Description: d.Description, Location: d.Location, Created: d.Created,
		Parent: d.Parent, Labels: maps.Clone(d.Labels), Signature: slices.Clone(d.Signature),
		Size: int64(len(d.Bytes)), HasBytes: len(d.Bytes) > 0,
	}
	return v, nil
}

// nextVersion returns the version after last, or a serving.ErrConfig error when
// last is the largest uint64 and no next version exists.
func nextVersion(name string, last uint64) (uint64, error) {
	if last == math.MaxUint64 {
		return 0, fmt.Errorf("%w: registry: %s: version %d is the last one; no version can be assigned after it", serving.ErrConfig, name, last)
	}
	return last + 1, nil
}

// sameContent reports whether an offered version equals a stored one for
// the purpose of idempotent puts.
func sameContent(stored, offered record) bool {
	return stored.Model.ID == offered.Model.ID && stored.Model.Format == offered.Model.Format
}

// validKind reports whether k may appear in an activation history.
func validKind(k serving.EventKind) bool {
	return k == serving.EventActivated || k == serving.EventRolledBack || k == serving.EventRetired
}

func checkActivation(a serving.Activation) error {
	if a.Model.Name == "" {
		return fmt.Errorf("%w: registry: activation has no model name", serving.ErrConfig)
	}
	if !validKind(a.Kind) {
		return fmt.Errorf("%w: registry: activation kind %v: want activated, rolled_back or retired", serving.ErrConfig, a.Kind)
	}
	if a.At.IsZero() {
		return fmt.Errorf("%w: registry: activation of %s has no time", serving.ErrConfig, a.Model)
	}
	if a.At.Before(minNano) || a.At.After(maxNano) {
		return fmt.Errorf("%w: registry: activation of %s at %v: outside the years 1678 to 2262", serving.ErrConfig, a.Model, a.At)
	}
	return nil
}

// The instants representable as int64 Unix nanoseconds, the precision
// of the history.
var (
	minNano = time.Unix(0, math.MinInt64)
	maxNano = time.Unix(0, math.MaxInt64)
)

// clampNanos returns t in Unix nanoseconds, clamped to the int64 range,
// so that a query for any instant (the zero Time included) is defined.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNano):
		return math.MinInt64
	case t.After(maxNano):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func normActivation(a serving.Activation) serving.Activation {
	a.At = time.Unix(0, a.At.UnixNano()).UTC() // nanosecond precision, no monotonic reading
	return a
}

func sameActivation(x, y serving.Activation) bool {
	return x.Kind == y.Kind && x.Model.Version == y.Model.Version && x.Model.ID == y.Model.ID && x.At.Equal(y.At)
}

// activeIn returns the model active at t in a time-ordered history.
func activeIn(name string, h []serving.Activation, t time.Time) (serving.ModelRef, error) {
	tn := clampNanos(t)
	// i is the number of entries at or before t.
	i := sort.Search(len(h), func(i int) bool { return h[i].At.UnixNano() > tn })
	if i == 0 {
		return serving.ModelRef{}, fmt.Errorf("%w: %q at %s: no activation at or before that time", ErrNotActive, name, t.UTC().Format(time.RFC3339Nano))
	}
	return activeRef(name, h[i-1], t)
}

func activeRef(name string, a serving.Activation, t time.Time) (serving.ModelRef, error) {
	if a.Kind == serving.EventRetired {
		return serving.ModelRef{}, fmt.Errorf("%w: %q at %s: %s retired at %s", ErrNotActive, name, t.UTC().Format(time.RFC3339Nano), a.Model, a.At.Format(time.RFC3339Nano))
	}
	return a.Model, nil
}

// activeNow returns the version the history says is active now, or 0.
func activeNow(h []serving.Activation) uint64 {
	if len(h) == 0 || h[len(h)-1].Kind == serving.EventRetired {
		return 0
	}
	return h[len(h)-1].Model.Version
}

// keepSet returns the versions whose bytes retention keeps, given all
// stored versions (ascending), the alias targets and the active version.
// The caller handles retain 0 (keep all).
func keepSet(retain int, versions []uint64, aliases map[string]uint64, active uint64) map[uint64]bool {
	keep := make(map[uint64]bool, retain+len(aliases)+1)
	for i := len(versions) - 1; i >= 0 && len(versions)-i <= retain; i-- {
		keep[versions[i]] = true
	}
	for _, v := range aliases {
		keep[v] = true
	}
	if active != 0 {
		keep[active] = true
	}
	return keep
}

func checkAlias(alias string) error {
	if alias == "" {
		return fmt.Errorf("%w: registry: empty alias", serving.ErrConfig)
	}
	if alias == Latest {
		return fmt.Errorf("%w: registry: alias %q is reserved", serving.ErrConfig, Latest)
	}
	return nil
}

package governance

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/modelstream/modelstream/internal/logs"
	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
)

// Option configures a Verifier.
type Option func(*vopts)

type vopts struct {
	keys   []ed25519.PublicKey
	signed bool // RequireSignature
	audit  *Audit
	store  *registry.Registry
	// nilStore is ReplayFrom(nil): a replay guard meant to be seeded
	// that would silently start empty.
	nilStore bool
	// nilAudit is WithAudit(nil): events meant for an Audit, likely one
	// whose NewAudit error was dropped, that would go to the default.
	nilAudit bool
}

// TrustKeys adds public keys whose signatures the Verifier accepts. The
// default trusts no key, so every signed model fails with
// ErrUntrustedKey.
func TrustKeys(keys ...ed25519.PublicKey) Option {
	return func(o *vopts) { o.keys = append(o.keys, keys...) }
}

// RequireSignature makes the Verifier reject unsigned models with
// ErrUnsigned. Without it (the default), an unsigned model is accepted,
// and counted as such, but a signed one must still verify: a bad or
// untrusted signature is always rejected. It needs at least one key
// ([TrustKeys]).
func RequireSignature() Option { return func(o *vopts) { o.signed = true } }

// WithAudit sends the Verifier's received, verified and rejected events
// to a, overriding the default of an Audit of its own that logs the
// rejections alone (see NewVerifier). a must not be nil.
func WithAudit(a *Audit) Option { return func(o *vopts) { o.audit, o.nilAudit = a, a == nil } }

// ReplayFrom seeds the replay check from store: the first time the
// Verifier meets a name, the latest version stored for it is taken as
// the last one that went live. Without it (the default) the replay check
// starts empty in each process, which is right when the feed re-reads
// the models topic from the beginning, and too lenient when it resumes
// from stored offsets. If the store cannot be read, Verify fails closed,
// with ErrReplay wrapping the store's error. store must not be nil.
func ReplayFrom(store *registry.Registry) Option {
	return func(o *vopts) { o.store, o.nilStore = store, store == nil }
}

// Verifier checks models before they are served: their bytes against
// their SHA256, their signature against trusted keys and the policy, and
// their version against replays. Every check failure wraps its reason,
// logged and audited, and counted in Stats.
//
// A Verifier is a serving.Admitter: give it to the Server once, with
// serving.WithAdmission(v), and every path that activates a model goes
// through it.
//
// A Verifier is safe for concurrent use.
type Verifier struct {
	keys   map[kid]ed25519.PublicKey
	signed bool // RequireSignature
	audit  *Audit
	own    bool // audit is NewVerifier's default, which only logs
	store  *registry.Registry

	mu   sync.Mutex
	last map[string]serving.ModelRef // last live per name (bounded by the names that went live)

	verified, unsigned atomic.Uint64
	rejected           [6]atomic.Uint64 // indexed like reasons[:6]
}

// NewVerifier returns a Verifier. Its defaults: no key is trusted
// (TrustKeys), so every signed model fails with ErrUntrustedKey, and an
// unsigned one is accepted (RequireSignature refuses it); the replay guard
// remembers in memory only (ReplayFrom seeds it from a registry); and its
// events go to an Audit of its own that logs through slog.Default(), as
// it is when NewVerifier is called, at level Warn and above: so the
// rejections (but not those of Admit, which the Server logs itself, with
// the Verifier's error), and not the received and verified events of every model
// (WithAudit, with an Audit from NewAudit and AuditLogger, to log them
// all, elsewhere or nowhere).
// A nil option, a key of the wrong size, RequireSignature without a key,
// WithAudit(nil) or ReplayFrom(nil) fails with serving.ErrConfig.
func NewVerifier(opts ...Option) (*Verifier, error) {
	var o vopts
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: governance: NewVerifier: nil Option", serving.ErrConfig)
		}
		opt(&o)
	}
	if o.nilStore {
		return nil, fmt.Errorf("%w: governance: ReplayFrom(nil)", serving.ErrConfig)
	}
	if o.nilAudit {
		return nil, fmt.Errorf("%w: governance: WithAudit(nil)", serving.ErrConfig)
	}
	v := &Verifier{keys: map[kid]ed25519.PublicKey{}, signed: o.signed, audit: o.audit, store: o.store, last: map[string]serving.ModelRef{}}
	for i, k := range o.keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: governance: TrustKeys: key %d has %d bytes, want %d", serving.ErrConfig, i, len(k), ed25519.PublicKeySize)
		}
		v.keys[kidOf(k)] = k
	}
	if v.signed && len(v.keys) == 0 {
		return nil, fmt.Errorf("%w: governance: RequireSignature but no key is trusted (TrustKeys)", serving.ErrConfig)
	}
	if v.audit == nil {
		a, err := NewAudit(AuditLogger(logs.Default()))
		if err != nil {
			return nil, err
		}
		v.audit, v.own = a, true
	}
	return v, nil
}

// Verify checks d, in this order:
//
//  1. d has a name, a format and a version > 0 (or, unsigned, 0: "the
//     next version" of [serving.Server.Activate], which the Server asks
//     about before it numbers it), and bytes or a SHA256
//     (serving.ErrInvalidDescriptor);
//  2. when d has bytes, they hash to d.SHA256 (serving.ErrChecksum);
//  3. when d has a signature, it is well-formed (ErrBadSignature), made
//     by a trusted key (ErrUntrustedKey), and valid for d's name,
//     version, format, sha256 and labels (ErrBadSignature; see
//     SigningPayload for v1 signatures); when it has none,
//     the policy allows that (ErrUnsigned);
//  4. d's version is not older than the last one that went live under
//     d.Name (ErrReplay; see OnModelEvent), and not that same version
//     with other content. The same version with the same content is not
//     a replay: it is the at-least-once redelivery of an accepted
//     message, and passes.
//
// It returns nil or an error that wraps the reason (see [Reason]). A model with only a Location (no
// bytes) has its signature checked over d.SHA256; the Server's own
// checksum check then binds the fetched bytes to it. ctx bounds the
// replay lookup in the store, if any.
func (v *Verifier) Verify(ctx context.Context, d serving.Descriptor) error {
	return v.check(ctx, d, false)
}

// check is Verify; admitting says a Server asked, through Admit.
func (v *Verifier) check(ctx context.Context, d serving.Descriptor, admitting bool) error {
	v.audit.received(ctx, d)
	keyID, err := v.verify(ctx, d)
	if err != nil {
		v.count(err)
		v.refused(ctx, d.Ref(), err, admitting)
		return err
	}
	v.audit.verified(ctx, d, keyID)
	return nil
}

// refused audits a refusal. A Server logs every model an Admitter
// refuses at Warn, with the error: when it asked, the Verifier's default
// Audit, which only logs, would log the same refusal a second time. An
// Audit given with WithAudit records every refusal.
func (v *Verifier) refused(ctx context.Context, ref serving.ModelRef, err error, admitting bool) {
	if admitting && v.own {
		return
	}
	v.audit.rejected(ctx, ref, err)
}

func (v *Verifier) verify(ctx context.Context, d serving.Descriptor) (string, error) {
	keyID, err := v.checkSignature(d)
	if err != nil {
		return "", err
	}
	if err := v.checkReplay(ctx, d.Ref()); err != nil {
		return "", err
	}
	v.verified.Add(1)
	if keyID == "" {
		v.unsigned.Add(1)
	}
	return keyID, nil
}

// checkSignature runs checks 1 to 3 of Verify, which have no side
// effects, and returns the signer's key ID ("" for an unsigned model).
func (v *Verifier) checkSignature(d serving.Descriptor) (string, error) {
	ref := d.Ref()
	reject := func(reason, detail error) (string, error) {
		return "", &rejectError{model: ref, reason: reason, err: detail}
	}
	if len(d.Signature) == 0 && d.Version == 0 && v.signed {
		return reject(ErrUnsigned, nil)
	}
	checked := d
	if len(d.Signature) == 0 && d.Version == 0 {
		// Version 0 is Server.Activate's "the next version": the Server
		// asks its Admitter before it numbers it. No signature can cover
		// it, but an unsigned model still gets checks 1 and 2.
		checked.Version = 1
	}
	payload, err := SigningPayload(checked)
	if err != nil {
		return "", err // a rejection: serving.ErrInvalidDescriptor or serving.ErrChecksum
	}
	var keyID string
	switch {
	case len(d.Signature) == 0 && v.signed:
		return reject(ErrUnsigned, nil)
	case len(d.Signature) == 0:
		// Accepted unsigned; counted below.
	case len(d.Signature) != SignatureSize:
		return reject(ErrBadSignature, fmt.Errorf("signature has %d bytes, want %d (key ID + ed25519)", len(d.Signature), SignatureSize))
	default:
		var id kid
		copy(id[:], d.Signature[:KeyIDSize])
		keyID = id.String()
		pub, ok := v.keys[id]
		if !ok {
			return reject(ErrUntrustedKey, fmt.Errorf("key %s", keyID))
		}
		sig := d.Signature[KeyIDSize:]
		if !ed25519.Verify(pub, payload, sig) {
			// A signature over the v1 layout, made before the labels
			// were covered, holds only while no label can change the
			// answer.
			v1, err := signingPayloadV1(d)
			if err != nil || !ed25519.Verify(pub, v1, sig) {
				return reject(ErrBadSignature, fmt.Errorf("does not verify under key %s", keyID))
			}
			if k := formatLabel(d); k != "" {
				return reject(ErrBadSignature, fmt.Errorf("a v1 signature by key %s does not cover label %q, which a format may read", keyID, k))
			}
		}
	}
	return keyID, nil
}

// checkReplay refuses a version older than the last one that went live
// under the same name, or the same version with other content. It
// records nothing: a version counts as seen only once it went live (see
// OnModelEvent), so a message that is admitted but never loads, however
// high its version, cannot make the good versions after it replays.
func (v *Verifier) checkReplay(ctx context.Context, ref serving.ModelRef) error {
	last, seen, err := v.mark(ctx, ref)
	if err != nil {
		return err
	}
	if seen && ref.Version != 0 { // 0, "the next version", is never a replay
		if ref.Version < last.Version || (ref.Version == last.Version && ref.ID != last.ID) {
			return &rejectError{model: ref, reason: ErrReplay, err: fmt.Errorf("last live is %s (id %s)", last, shortID(last.ID))}
		}
	}
	return nil
}

// mark returns the last version of ref.Name that went live, seeding it
// from the store (see ReplayFrom) the first time the name is met. A
// store that cannot be read fails closed, with ErrReplay.
//
// The store is read without the Verifier's lock held, so that a slow
// read of one name delays neither other names nor OnModelEvent.
func (v *Verifier) mark(ctx context.Context, ref serving.ModelRef) (last serving.ModelRef, seen bool, err error) {
	v.mu.Lock()
	last, seen = v.last[ref.Name]
	v.mu.Unlock()
	if seen || v.store == nil {
		return last, seen, nil
	}
	// Metadata only: the model's bytes, which Latest would read, are not
	// needed to judge a replay.
	vs, err := v.store.List(ctx, ref.Name)
	switch {
	case err == nil && len(vs) > 0:
		v.mu.Lock()
		defer v.mu.Unlock()
		// An activation recorded during the read wins unless it is
		// older than what the store held, as in OnModelEvent.
		last = vs[len(vs)-1].Descriptor.Ref()
		if cur, ok := v.last[ref.Name]; ok && cur.Version >= last.Version {
			last = cur
		}
		v.last[ref.Name] = last
		return last, true, nil
	case err == nil || errors.Is(err, registry.ErrNotFound):
		v.mu.Lock()
		defer v.mu.Unlock()
		last, seen = v.last[ref.Name]
		return last, seen, nil
	default:
		return last, false, &rejectError{model: ref, reason: ErrReplay, err: fmt.Errorf("cannot read the last stored version: %w", err)}
	}
}

// OnModelEvent implements serving.HookModelEvent: a version that went
// live (EventActivated) becomes the one later versions of its name are
// judged against for replay. A Server given the Verifier with
// serving.WithAdmission calls it on its own; a program that calls Verify
// without a Server reports its activations here. A rollback does not
// lower the mark.
func (v *Verifier) OnModelEvent(e serving.ModelEvent) {
	if e.Kind != serving.EventActivated || e.Model.Name == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if last, ok := v.last[e.Model.Name]; !ok || e.Model.Version >= last.Version {
		v.last[e.Model.Name] = e.Model
	}
}

var _ serving.HookModelEvent = (*Verifier)(nil)

func (v *Verifier) count(err error) {
	for i := range v.rejected {
		if errors.Is(err, reasons[i].err) {
			v.rejected[i].Add(1)
			return
		}
	}
}

// Stats counts a Verifier's decisions since it was made.
type Stats struct {
	// Verified counts accepted models, and Unsigned those of them that
	// had no signature (allowed by the policy).
	Verified, Unsigned uint64
	// The rejections, by reason.
	Invalid, Checksum, RejectedUnsigned, BadSignature, UntrustedKey, Replay uint64
}

// Stats returns the counts so far.
func (v *Verifier) Stats() Stats {
	r := func(i int) uint64 { return v.rejected[i].Load() }
	return Stats{
		Verified: v.verified.Load(), Unsigned: v.unsigned.Load(),
		Invalid: r(0), Checksum: r(1), RejectedUnsigned: r(2), BadSignature: r(3), UntrustedKey: r(4), Replay: r(5),
	}
}

// Admit implements serving.Admitter, so that a Server given
// serving.WithAdmission(v) applies the Verifier to every model it is
// asked to activate, whichever path asks: a direct Activate, the Kafka
// model feed, registry.Restore or registry.Rollback. It runs Verify's
// checks before anything is fetched: a Location model is judged by its
// declared SHA256, which its signature covers and which the Server then
// holds the fetched bytes to.
//
// An activation asked with serving.AllowRollback (see serving.IsRollback)
// skips the replay check, and the rolled-back version does not lower
// the mark that check keeps (see OnModelEvent): an operator's rollback
// to an older version that is still validly signed is not a replay, and
// the version it undoes stays the one a replay is judged against. With
// ReplayFrom, the mark is read from the store first, so that a
// registry.Restore after a restart, which the Server reports as an
// activation when nothing is live yet, does not lower it either.
func (v *Verifier) Admit(ctx context.Context, d serving.Descriptor) error {
	if !serving.IsRollback(ctx) {
		return v.check(ctx, d, true)
	}
	v.audit.received(ctx, d)
	keyID, err := v.checkSignature(d)
	if err == nil {
		_, _, err = v.mark(ctx, d.Ref())
	}
	if err != nil {
		v.count(err)
		v.refused(ctx, d.Ref(), err, true)
		return err
	}
	v.verified.Add(1)
	if keyID == "" {
		v.unsigned.Add(1)
	}
	v.audit.verified(ctx, d, keyID)
	return nil
}

// A Verifier is what a Server admits models through.
var _ serving.Admitter = (*Verifier)(nil)

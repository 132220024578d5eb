package governance

import (
	"errors"
	"fmt"

	"github.com/modelstream/modelstream/serving"
)

// Sentinel errors for rejected models. The error of a rejected model
// wraps its reason, which is one of them, or serving.ErrInvalidDescriptor
// (the descriptor lacks what verification needs: a name, a format, a
// version, and bytes or a sha256), or serving.ErrChecksum (the bytes do
// not hash to the Descriptor's SHA256, with a *serving.ChecksumError);
// test with errors.Is, or name the reason with [Reason]. Its text names
// the model as offered and the detail.
var (
	// ErrUnsigned means the model has no signature and the policy
	// requires one.
	ErrUnsigned = errors.New("governance: unsigned model")
	// ErrBadSignature means the signature is malformed, or does not
	// verify for the model's name, version, format and sha256 under the
	// key it names: the metadata was tampered with, or the signer used
	// another key than the one it claims.
	ErrBadSignature = errors.New("governance: bad signature")
	// ErrUntrustedKey means the signature names a key the Verifier does
	// not trust.
	ErrUntrustedKey = errors.New("governance: untrusted key")
	// ErrReplay means the version is older than the last one that went
	// live under the name (or it is that version with other content): an
	// old, validly signed model sent again.
	ErrReplay = errors.New("governance: replayed version")
)

// rejectError is the error of a rejected model: the model as offered,
// the reason (one of the sentinels above), and the detail, or nil.
type rejectError struct {
	model  serving.ModelRef
	reason error
	err    error
}

func (e *rejectError) Error() string {
	s := fmt.Sprintf("%v: %s", e.reason, e.model)
	if e.model.ID != "" {
		s += " (id " + shortID(e.model.ID) + ")"
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the reason and the detail, so errors.Is finds both.
func (e *rejectError) Unwrap() []error {
	if e.err == nil {
		return []error{e.reason}
	}
	return []error{e.reason, e.err}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// reasons lists the rejection reasons in the order of Stats' fields.
var reasons = []struct {
	err  error
	name string
}{
	{serving.ErrInvalidDescriptor, "invalid"},
	{serving.ErrChecksum, "checksum"},
	{ErrUnsigned, "unsigned"},
	{ErrBadSignature, "bad_signature"},
	{ErrUntrustedKey, "untrusted_key"},
	{ErrReplay, "replay"},
	// Reasons the Server gives, for audit records of its rejections.
	{serving.ErrStaleVersion, "stale_version"},
	{serving.ErrUnknownFormat, "unknown_format"},
	{serving.ErrCorruptModel, "corrupt_model"},
	{serving.ErrUnsupportedModel, "unsupported_model"},
	{serving.ErrFetch, "fetch"},
	{serving.ErrTooLarge, "too_large"},
	{serving.ErrClosed, "closed"},
}

// Reason returns a short stable name for why a model was rejected, for
// logs, metrics labels and audit records: "checksum", "unsigned",
// "bad_signature", "untrusted_key", "replay", "invalid", or, for errors
// from the serving.Server, "stale_version", "unknown_format",
// "corrupt_model", "unsupported_model", "fetch", "too_large" or
// "closed". Other errors give "other"; nil gives "".
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

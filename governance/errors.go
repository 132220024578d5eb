package governance

import (
	"errors"
	"fmt"

	"github.com/modelstream/modelstream/serving"
)

// Sentinel errors for rejected models. Verify returns a *RejectError
// whose Reason is one of them, or serving.ErrInvalidDescriptor (the
// descriptor lacks what verification needs: a name, a format, a version,
// and bytes or a sha256), or serving.ErrChecksum (the bytes do not hash
// to the Descriptor's SHA256); test with errors.Is.
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

// RejectError is the error of a rejected model. Reason is one of the
// sentinels above; Err, when set, carries details.
type RejectError struct {
	// Model names the model as offered.
	Model serving.ModelRef
	// Reason is the sentinel saying why.
	Reason error
	// Err is the detail, or nil.
	Err error
}

// Error implements error.
func (e *RejectError) Error() string {
	s := fmt.Sprintf("%v: %s", e.Reason, e.Model)
	if e.Model.ID != "" {
		s += " (id " + shortID(e.Model.ID) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason and the detail, so errors.Is finds both.
func (e *RejectError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
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

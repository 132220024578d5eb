package governance

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/modelstream/modelstream/internal/contentid"
	"github.com/modelstream/modelstream/serving"
)

// domain is the domain-separation prefix of every payload signed today.
// It keeps a model signature from being valid for any other message
// signed with the same key, and names the layout version: v2, which
// covers the labels. domainV1 is the prefix of the layout before it,
// which did not. SigningPayload documents both for other signers.
const (
	domain   = "modelstream/v2\n"
	domainV1 = "modelstream/v1\n"
)

// KeyIDSize is the length of a key ID, and SignatureSize the length of
// Descriptor.Signature as made by Sign: a key ID followed by an ed25519
// signature.
const (
	KeyIDSize     = 8
	SignatureSize = KeyIDSize + ed25519.SignatureSize
)

// kid identifies a public key: the first 8 bytes of the SHA-256 of the
// 32-byte ed25519 public key.
type kid [KeyIDSize]byte

func (k kid) String() string { return hex.EncodeToString(k[:]) }

func kidOf(pub ed25519.PublicKey) kid {
	sum := sha256.Sum256(pub)
	var id kid
	copy(id[:], sum[:KeyIDSize])
	return id
}

// KeyIDOf returns the ID of pub, in lowercase hex as audit events
// (Event.KeyID) and logs carry it: the first 8 bytes of the SHA-256 of
// the 32-byte ed25519 public key, the bytes that open a signature.
func KeyIDOf(pub ed25519.PublicKey) string { return kidOf(pub).String() }

// SigningPayload returns the exact bytes a model signature covers. The
// layout, all integers big-endian:
//
//	"modelstream/v2\n"            15 bytes, the domain-separation prefix
//	uint32 len(name), name        the model name, UTF-8
//	uint64 version                must be > 0
//	uint32 len(format), format    the format name
//	sha256                        32 raw bytes: the content ID, hex-decoded
//	uint32 number of labels
//	for each label, by key order:
//	  uint32 len(key), key
//	  uint32 len(value), value
//
// The sha256 is d.SHA256 when set (64 lowercase hex digits, the form of
// serving.ContentID), and the SHA-256 of d.Bytes otherwise; when both are
// present they must agree. Every label is covered, because a format may
// read its labels (leaves.transform turns a LightGBM model's output from
// a probability into a raw score): whatever can change an answer is
// signed. Description, Created, Parent and Location are not covered:
// they change no answer, and a Location's bytes are bound to the
// signature through the sha256, which the Server holds the fetched bytes
// to.
//
// Signatures made over the v1 layout (the same without the labels, and
// with the prefix "modelstream/v1\n") still verify, as long as the descriptor carries no
// label a format may read: a key with a dot, such as leaves.transform,
// is a format's (see serving.Descriptor's Labels). So a model signed
// before the labels were covered keeps working, and adding a label that
// changes its answer breaks its signature.
//
// Errors are rejections that wrap serving.ErrInvalidDescriptor or serving.ErrChecksum.
//
// Because every field is length-prefixed or fixed-size, no two different
// (name, version, format, sha256, labels) tuples have the same payload.
func SigningPayload(d serving.Descriptor) ([]byte, error) {
	p, err := payloadV1(d, domain)
	if err != nil {
		return nil, err
	}
	keys := slices.Sorted(maps.Keys(d.Labels))
	p = binary.BigEndian.AppendUint32(p, uint32(len(keys)))
	for _, k := range keys {
		v := d.Labels[k]
		p = binary.BigEndian.AppendUint32(p, uint32(len(k)))
		p = append(p, k...)
		p = binary.BigEndian.AppendUint32(p, uint32(len(v)))
		p = append(p, v...)
	}
	return p, nil
}

// signingPayloadV1 is the payload of the v1 layout, which covers no
// label.
func signingPayloadV1(d serving.Descriptor) ([]byte, error) { return payloadV1(d, domainV1) }

// payloadV1 lays out the fields both layouts share, after domain.
func payloadV1(d serving.Descriptor, domain string) ([]byte, error) {
	if d.Name == "" || d.Format == "" {
		return nil, invalid(d, "a name and a format are required")
	}
	if d.Version == 0 {
		return nil, invalid(d, "version 0 cannot be signed; sign the version that is published")
	}
	sum, err := contentHash(d)
	if err != nil {
		return nil, err
	}
	p := make([]byte, 0, len(domain)+4+len(d.Name)+8+4+len(d.Format)+sha256.Size+64)
	p = append(p, domain...)
	p = binary.BigEndian.AppendUint32(p, uint32(len(d.Name)))
	p = append(p, d.Name...)
	p = binary.BigEndian.AppendUint64(p, d.Version)
	p = binary.BigEndian.AppendUint32(p, uint32(len(d.Format)))
	p = append(p, d.Format...)
	return append(p, sum[:]...), nil
}

// formatLabel returns the first label of d that a format may read (a key
// with a dot), or "".
func formatLabel(d serving.Descriptor) string {
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		if strings.Contains(k, ".") {
			return k
		}
	}
	return ""
}

// contentHash returns the SHA-256 the signature covers, checking the
// bytes against d.SHA256 when both are present.
func contentHash(d serving.Descriptor) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(d.Bytes) > 0 {
		sum = sha256.Sum256(d.Bytes)
		if d.SHA256 != "" && d.SHA256 != hex.EncodeToString(sum[:]) {
			return sum, &rejectError{model: d.Ref(), reason: serving.ErrChecksum,
				err: &serving.ChecksumError{Want: d.SHA256, Got: hex.EncodeToString(sum[:])}}
		}
		return sum, nil
	}
	if d.SHA256 == "" {
		return sum, invalid(d, "neither bytes nor a sha256")
	}
	// Only the canonical spelling may carry a signature, or "ABC…" and
	// "abc…" would share one.
	if !contentid.Valid(d.SHA256) {
		return sum, invalid(d, fmt.Sprintf("sha256 %q is not 64 lowercase hex digits", d.SHA256))
	}
	hex.Decode(sum[:], []byte(d.SHA256)) // cannot fail: Valid held
	return sum, nil
}

func invalid(d serving.Descriptor, why string) error {
	return &rejectError{model: d.Ref(), reason: serving.ErrInvalidDescriptor, err: errors.New(why)}
}

// Sign returns d with its Signature set: the signer's key ID (KeyIDOf) followed by
// the ed25519 signature of SigningPayload(d), SignatureSize bytes in all.
// It also sets d.SHA256 when it was empty. d.Version must be the final,
// published version (not 0).
func Sign(priv ed25519.PrivateKey, d serving.Descriptor) (serving.Descriptor, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return d, fmt.Errorf("%w: governance: sign: private key has %d bytes, want %d", serving.ErrConfig, len(priv), ed25519.PrivateKeySize)
	}
	payload, err := SigningPayload(d)
	if err != nil {
		return d, err
	}
	if d.SHA256 == "" {
		d.SHA256 = serving.ContentID(d.Bytes)
	}
	id := kidOf(priv.Public().(ed25519.PublicKey))
	sig := make([]byte, 0, SignatureSize)
	sig = append(sig, id[:]...)
	d.Signature = append(sig, ed25519.Sign(priv, payload)...)
	return d, nil
}

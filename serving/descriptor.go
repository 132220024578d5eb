package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Descriptor is a model as data: everything needed to load, verify and
// trace one version of one model. It is what travels on the models topic
// (see serving/wire for the wire encoding) and what the registry stores.
type Descriptor struct {
	// Name is the model's name. Required.
	Name string
	// Format is the registered format that decodes Bytes, such as
	// "lightgbm", "xgboost", "sklearn", "onnx", "pmml",
	// "tensorflow-graphdef", "tensorflow-savedmodel" or "linear" (see
	// [Formats]). Required.
	Format string
	// Version is the model's version. Zero means "the next one": the
	// Server's Activate makes it one more than the highest version it
	// has made live for the name (never a number reused after a
	// rollback), a registry one more than the highest stored, and the model feed
	// numbers it from the models topic alone, identically on every
	// instance.
	Version uint64
	// Description is free text for humans.
	Description string
	// Bytes is the model itself, exactly as its format's own tools
	// write it. Empty when Location is set.
	Bytes []byte
	// Location is where to fetch the bytes when they are too large for
	// one message: a file:// or http(s):// URL. A Server fetches it only
	// from where [LoadOptions].AllowLocations allows, nowhere by default,
	// and only when SHA256 is set, unless [LoadOptions].AllowUnpinned.
	Location string
	// SHA256 is the lowercase hex SHA-256 of the bytes. When set, Load
	// refuses bytes that do not match. It becomes the model's content ID.
	SHA256 string
	// Created is when the model was produced.
	Created time.Time
	// Parent is the content ID of the model this one was derived from,
	// for lineage. Empty for a root model.
	Parent string
	// Labels carry metadata: feature names, training metrics, the
	// trainer's identity. A key with a dot belongs to a format, named by
	// its package ("leaves.transform", "xgboost.output",
	// "tensorflow.inputs"): the format reads it, and it may change the
	// model's answers, so signatures cover every label (see package
	// governance). Keys without a dot are free for users.
	Labels map[string]string
	// Signature is an ed25519 signature made by package governance.
	Signature []byte
}

// Ref returns the ModelRef of d. Its ID is d.SHA256 when set, and the
// SHA-256 of d.Bytes otherwise (empty if there are no bytes).
func (d Descriptor) Ref() ModelRef {
	id := d.SHA256
	if id == "" && len(d.Bytes) > 0 {
		id = ContentID(d.Bytes)
	}
	return ModelRef{Name: d.Name, Version: d.Version, ID: id, Format: d.Format}
}

// ContentID returns the lowercase hex SHA-256 of b, the content ID used
// throughout modelstream.
func ContentID(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package kafka

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
)

// The model message wire format. This block is the protocol: a JVM or
// Python trainer, or a shell with kcat, publishes a model by writing a
// message shaped like this, and every ModelFeed reads it.
//
//   - Key: the model name (UTF-8). Required.
//
//   - Value: the raw model bytes, exactly as the format's own tools write
//     them. Empty when the modelstream.location header is set.
//
//   - Headers, all optional except modelstream.format:
//
//     modelstream.format       format name, e.g. "linear", "lightgbm", "onnx" (required)
//     modelstream.version      decimal uint64 > 0; absent means "next" (see below)
//     modelstream.sha256       lowercase hex SHA-256 of the model bytes; verified on load
//     modelstream.created      RFC 3339 time, e.g. 2026-11-25T16:53:44.123Z
//     modelstream.location     file:// or http(s):// URL of the bytes when Value is empty
//     modelstream.parent       content ID (sha256) of the model this one derives from
//     modelstream.description  free text
//     modelstream.signature    base64 (standard, padded) ed25519 signature, see package governance
//     modelstream.label.<k>    one header per label k, its value the label's value
//
// Header names are case-sensitive. Headers outside the prefix, and
// unknown headers inside it, are ignored, so newer writers can add
// metadata without breaking older readers. A repeated header keeps its
// last value.
//
// A message without a version header decodes to Version 0, "unassigned".
// A [ModelFeed] then activates it as the live version plus one (1 for the
// first version of a name). On replay the result is the same in every
// instance as long as all messages for a name sit in one partition, which
// holds for a one-partition models topic, the recommended layout. Mixing
// tools whose partitioners differ (kcat and sarama hash keys differently)
// on a multi-partition topic breaks that order; give explicit versions
// there.
//
// Example, with kcat:
//
//	kcat -P -b 127.0.0.1:9092 -t models -k fraud \
//	    -H modelstream.format=linear -H modelstream.version=3 model.json
const (
	// HeaderPrefix starts every modelstream header name.
	HeaderPrefix = "modelstream."

	HeaderFormat      = HeaderPrefix + "format"      // format name (required)
	HeaderVersion     = HeaderPrefix + "version"     // decimal version, > 0
	HeaderSHA256      = HeaderPrefix + "sha256"      // hex SHA-256 of the model bytes
	HeaderCreated     = HeaderPrefix + "created"     // RFC 3339 creation time
	HeaderLocation    = HeaderPrefix + "location"    // URL of the bytes
	HeaderParent      = HeaderPrefix + "parent"      // parent content ID
	HeaderDescription = HeaderPrefix + "description" // free text
	HeaderSignature   = HeaderPrefix + "signature"   // base64 ed25519 signature
	HeaderLabelPrefix = HeaderPrefix + "label."      // one header per label
)

// DefaultMaxModelMessageBytes is the largest model value [EncodeModel]
// and [DecodeModel] accept unless told otherwise: 16 MiB. Brokers refuse
// messages above message.max.bytes (1 MiB by default) anyway; larger
// models travel by Location.
const DefaultMaxModelMessageBytes = 16 << 20

// Wire errors. A *WireError wraps one of them; test with errors.Is.
var (
	// ErrMissingName means the message has no key.
	ErrMissingName = errors.New("kafka: model message without a key (model name)")
	// ErrMissingFormat means the message has no modelstream.format header.
	ErrMissingFormat = errors.New("kafka: model message without " + HeaderFormat)
	// ErrBadVersion means the version header is not a decimal number
	// greater than zero.
	ErrBadVersion = errors.New("kafka: bad " + HeaderVersion)
	// ErrBadHeader means another modelstream header could not be parsed.
	ErrBadHeader = errors.New("kafka: bad model header")
	// ErrMissingModel means the message has neither a value nor a location.
	ErrMissingModel = errors.New("kafka: model message with neither bytes nor location")
	// ErrOversized means the model bytes exceed the limit. A *WireError
	// with this kind also matches serving.ErrTooLarge.
	ErrOversized = errors.New("kafka: model message too large")
)

// WireError is returned by [EncodeModel] and [DecodeModel]. Kind is one
// of the wire sentinels; Header names the offending header when there is
// one; Err is the underlying cause, if any.
type WireError struct {
	Kind   error
	Header string
	Err    error
}

// Error returns the kind, the header at fault and the cause.
func (e *WireError) Error() string {
	msg := e.Kind.Error()
	if e.Header != "" && e.Kind == ErrBadHeader {
		msg += " " + e.Header
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind, the cause, and serving.ErrTooLarge for an
// oversized message.
func (e *WireError) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Kind == ErrOversized {
		errs = append(errs, serving.ErrTooLarge)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ModelMessage is a model message in transport-neutral form: what goes
// into, and comes out of, a Kafka record.
type ModelMessage struct {
	Key     []byte                // the model name
	Value   []byte                // the model bytes, or empty
	Headers []sarama.RecordHeader // the metadata
}

// EncodeModel encodes d as a model message. d must have a Name, a Format,
// and Bytes or a Location. Bytes are not copied. max limits len(d.Bytes);
// zero or less means [DefaultMaxModelMessageBytes]. Labels are written in
// key order so that encoding is deterministic.
func EncodeModel(d serving.Descriptor, max int) (ModelMessage, error) {
	if max <= 0 {
		max = DefaultMaxModelMessageBytes
	}
	if d.Name == "" {
		return ModelMessage{}, &WireError{Kind: ErrMissingName}
	}
	if d.Format == "" {
		return ModelMessage{}, &WireError{Kind: ErrMissingFormat}
	}
	if len(d.Bytes) == 0 && d.Location == "" {
		return ModelMessage{}, &WireError{Kind: ErrMissingModel}
	}
	if len(d.Bytes) > max {
		return ModelMessage{}, &WireError{Kind: ErrOversized, Err: fmt.Errorf("%d bytes, limit %d", len(d.Bytes), max)}
	}
	h := []sarama.RecordHeader{hdr(HeaderFormat, d.Format)}
	add := func(k, v string) {
		if v != "" {
			h = append(h, hdr(k, v))
		}
	}
	if d.Version > 0 {
		add(HeaderVersion, strconv.FormatUint(d.Version, 10))
	}
	sha := d.SHA256
	if sha == "" && len(d.Bytes) > 0 {
		sha = serving.ContentID(d.Bytes)
	}
	add(HeaderSHA256, sha)
	if !d.Created.IsZero() {
		add(HeaderCreated, d.Created.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderLocation, d.Location)
	add(HeaderParent, d.Parent)
	add(HeaderDescription, d.Description)
	if len(d.Signature) > 0 {
		add(HeaderSignature, base64.StdEncoding.EncodeToString(d.Signature))
	}
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		h = append(h, hdr(HeaderLabelPrefix+k, d.Labels[k]))
	}
	return ModelMessage{Key: []byte(d.Name), Value: d.Bytes, Headers: h}, nil
}

func hdr(k, v string) sarama.RecordHeader {
	return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}
}

// DecodeModel decodes a model message into a Descriptor. The Descriptor's
// Bytes alias m.Value. max limits len(m.Value); zero or less means
// [DefaultMaxModelMessageBytes]. The error is a *WireError.
//
// DecodeModel checks the message's shape only: whether the format is
// registered, the bytes match the sha256 and the model loads is for
// serving.Server.Activate to decide.
func DecodeModel(m ModelMessage, max int) (serving.Descriptor, error) {
	if max <= 0 {
		max = DefaultMaxModelMessageBytes
	}
	var d serving.Descriptor
	if len(m.Key) == 0 {
		return d, &WireError{Kind: ErrMissingName}
	}
	d.Name = string(m.Key)
	if len(m.Value) > max {
		return d, &WireError{Kind: ErrOversized, Err: fmt.Errorf("%d bytes, limit %d", len(m.Value), max)}
	}
	d.Bytes = m.Value
	for _, h := range m.Headers {
		k, v := string(h.Key), string(h.Value)
		if !strings.HasPrefix(k, HeaderPrefix) {
			continue
		}
		switch k {
		case HeaderFormat:
			d.Format = v
		case HeaderVersion:
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil || n == 0 {
				if err == nil {
					err = errors.New("version 0 is reserved for \"unassigned\": omit the header instead")
				}
				return d, &WireError{Kind: ErrBadVersion, Header: k, Err: err}
			}
			d.Version = n
		case HeaderSHA256:
			d.SHA256 = strings.ToLower(strings.TrimSpace(v))
		case HeaderCreated:
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
			if err != nil {
				return d, &WireError{Kind: ErrBadHeader, Header: k, Err: err}
			}
			d.Created = t
		case HeaderLocation:
			d.Location = v
		case HeaderParent:
			d.Parent = v
		case HeaderDescription:
			d.Description = v
		case HeaderSignature:
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil {
				return d, &WireError{Kind: ErrBadHeader, Header: k, Err: err}
			}
			d.Signature = sig
		default:
			if lk, ok := strings.CutPrefix(k, HeaderLabelPrefix); ok && lk != "" {
				if d.Labels == nil {
					d.Labels = map[string]string{}
				}
				d.Labels[lk] = v
			}
		}
	}
	if d.Format == "" {
		return d, &WireError{Kind: ErrMissingFormat}
	}
	if len(d.Bytes) == 0 && d.Location == "" {
		return d, &WireError{Kind: ErrMissingModel}
	}
	return d, nil
}

// fromConsumer converts sarama's consumed headers.
func fromConsumer(msg *sarama.ConsumerMessage) ModelMessage {
	h := make([]sarama.RecordHeader, 0, len(msg.Headers))
	for _, x := range msg.Headers {
		if x != nil {
			h = append(h, *x)
		}
	}
	return ModelMessage{Key: msg.Key, Value: msg.Value, Headers: h}
}

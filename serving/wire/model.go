package wire

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Prefix starts every modelstream header name.
const Prefix = "modelstream."

// The model message headers; see the package documentation.
const (
	HeaderFormat      = Prefix + "format"
	HeaderVersion     = Prefix + "version"
	HeaderSHA256      = Prefix + "sha256"
	HeaderCreated     = Prefix + "created"
	HeaderLocation    = Prefix + "location"
	HeaderParent      = Prefix + "parent"
	HeaderDescription = Prefix + "description"
	HeaderSignature   = Prefix + "signature"
	HeaderLabelPrefix = Prefix + "label."
)

// DefaultMaxModelBytes is the largest model value [EncodeModel] and
// [DecodeModel] accept unless told otherwise: 16 MiB. Brokers refuse
// messages above message.max.bytes (1 MiB by default) anyway; larger
// models travel by location.
const DefaultMaxModelBytes = 16 << 20

// Header is one record header. It has the fields of sarama.RecordHeader,
// which converts to and from it with a type conversion.
type Header struct {
	Key   []byte
	Value []byte
}

// Message is a Kafka record in client-neutral form.
type Message struct {
	Key     []byte
	Value   []byte
	Headers []Header
}

// Model message errors. An *Error wraps one of them; test with
// errors.Is.
var (
	// ErrMissingName means the message has no key.
	ErrMissingName = errors.New("wire: model message without a key (model name)")
	// ErrMissingFormat means the message has no modelstream.format header.
	ErrMissingFormat = errors.New("wire: model message without " + HeaderFormat)
	// ErrBadVersion means the version header is not a decimal number
	// greater than zero.
	ErrBadVersion = errors.New("wire: bad " + HeaderVersion)
	// ErrBadHeader means another modelstream header could not be parsed.
	ErrBadHeader = errors.New("wire: bad model header")
	// ErrMissingModel means the message has neither a value nor a location.
	ErrMissingModel = errors.New("wire: model message with neither bytes nor location")
	// ErrOversized means the model bytes exceed the limit. An *Error of
	// this kind also matches serving.ErrTooLarge.
	ErrOversized = errors.New("wire: model message too large")
)

// Error is returned by [EncodeModel] and [DecodeModel]. Kind is one of
// the model message errors; Header names the offending header when there
// is one; Err is the underlying cause, if any.
type Error struct {
	Kind   error
	Header string
	Err    error
}

// Error returns the kind, the header at fault and the cause.
func (e *Error) Error() string {
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
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Kind == ErrOversized {
		errs = append(errs, serving.ErrTooLarge)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// EncodeModel encodes d as a model message. d must have a Name, a Format,
// and Bytes or a Location. Bytes are not copied. max limits len(d.Bytes);
// zero or less means [DefaultMaxModelBytes]. The sha256 header is
// computed from Bytes when d.SHA256 is empty. A Version of 0 writes no
// version header ("next"). Labels are written in key order, so encoding
// is deterministic. The error is an *Error.
func EncodeModel(d serving.Descriptor, max int) (Message, error) {
	if max <= 0 {
		max = DefaultMaxModelBytes
	}
	switch {
	case d.Name == "":
		return Message{}, &Error{Kind: ErrMissingName}
	case d.Format == "":
		return Message{}, &Error{Kind: ErrMissingFormat}
	case len(d.Bytes) == 0 && d.Location == "":
		return Message{}, &Error{Kind: ErrMissingModel}
	case len(d.Bytes) > max:
		return Message{}, &Error{Kind: ErrOversized, Err: fmt.Errorf("%d bytes, limit %d", len(d.Bytes), max)}
	}
	h := make([]Header, 0, 4+len(d.Labels))
	add := func(k, v string) {
		if v != "" {
			h = append(h, header(k, v))
		}
	}
	add(HeaderFormat, d.Format)
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
		h = append(h, header(HeaderLabelPrefix+k, d.Labels[k]))
	}
	return Message{Key: []byte(d.Name), Value: d.Bytes, Headers: h}, nil
}

func header(k, v string) Header { return Header{Key: []byte(k), Value: []byte(v)} }

// DecodeModel decodes a model message into a Descriptor whose Bytes
// alias m.Value. A message without a version header decodes to Version 0:
// its reader numbers it (see the package documentation). max limits
// len(m.Value); zero or less means [DefaultMaxModelBytes]. The error is
// an *Error.
//
// DecodeModel checks the message's shape only: whether the format is
// registered, the bytes match the sha256 and the model loads is for
// serving.Server.Activate to decide.
func DecodeModel(m Message, max int) (serving.Descriptor, error) {
	if max <= 0 {
		max = DefaultMaxModelBytes
	}
	var d serving.Descriptor
	if len(m.Key) == 0 {
		return d, &Error{Kind: ErrMissingName}
	}
	d.Name = string(m.Key)
	if len(m.Value) > max {
		return d, &Error{Kind: ErrOversized, Err: fmt.Errorf("%d bytes, limit %d", len(m.Value), max)}
	}
	d.Bytes = m.Value
	for _, h := range m.Headers {
		k, v := string(h.Key), string(h.Value)
		if !strings.HasPrefix(k, Prefix) {
			continue
		}
		switch k {
		case HeaderFormat:
			d.Format = v
		case HeaderVersion:
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil || n == 0 {
				if err == nil {
					err = errors.New("version 0 is reserved for \"next\": omit the header instead")
				}
				return d, &Error{Kind: ErrBadVersion, Header: k, Err: err}
			}
			d.Version = n
		case HeaderSHA256:
			d.SHA256 = strings.ToLower(strings.TrimSpace(v))
		case HeaderCreated:
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
			if err != nil {
				return d, &Error{Kind: ErrBadHeader, Header: k, Err: err}
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
				return d, &Error{Kind: ErrBadHeader, Header: k, Err: err}
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
		return d, &Error{Kind: ErrMissingFormat}
	}
	if len(d.Bytes) == 0 && d.Location == "" {
		return d, &Error{Kind: ErrMissingModel}
	}
	return d, nil
}

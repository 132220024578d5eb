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
	"unicode/utf8"

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

// MaxNameBytes is the longest model name [EncodeModel] and [DecodeModel]
// accept, in bytes. A name is also valid UTF-8. Whoever writes to the
// models topic chooses names, and a reader keeps some per name (the
// Server's rejections, metrics labels, the feed's version numbering), so
// a name is bounded like everything else in a message.
const MaxNameBytes = 255

// checkName returns an *Error when name cannot be a model name.
func checkName(name string) error {
	switch {
	case name == "":
		return malformed("key", "no model name")
	case len(name) > MaxNameBytes:
		return malformed("key", "model name of %d bytes, more than %d", len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return malformed("key", "model name is not valid UTF-8")
	}
	return nil
}

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

// ErrMalformed means a record does not decode as what it should be (a
// model message, a score, its provenance headers or dead-letter
// headers), or a value cannot be encoded as one (a Descriptor without a
// name, a NaN score). Every such error wraps it, and its text names the
// part at fault and the cause: "wire: malformed score: ...". A model
// message or dead letter at fault is an [*Error], which names the
// header. A model too large for the limit is an *Error wrapping
// serving.ErrTooLarge instead.
var ErrMalformed = errors.New("wire: malformed")

// Error is returned by [EncodeModel], [DecodeModel] and
// [ParseDeadLetter]. Header names the offending header, or is "key" or
// "value" when the message's key or value is at fault; Err is the cause.
// It wraps ErrMalformed, or serving.ErrTooLarge for an oversized model.
type Error struct {
	Header string
	Err    error
}

// Error returns "wire: malformed model message" (or "dead letter"), the
// header at fault and the cause.
func (e *Error) Error() string {
	msg := ErrMalformed.Error() + " model message"
	switch {
	case errors.Is(e.Err, serving.ErrTooLarge):
		msg = "wire: model message too large"
	case strings.HasPrefix(e.Header, dlqPrefix):
		msg = ErrMalformed.Error() + " dead letter"
	}
	if e.Header != "" {
		msg += ": " + e.Header
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns ErrMalformed, unless the message is oversized, and the
// cause.
func (e *Error) Unwrap() []error {
	if errors.Is(e.Err, serving.ErrTooLarge) {
		return []error{e.Err}
	}
	return []error{ErrMalformed, e.Err}
}

func malformed(header, format string, args ...any) *Error {
	return &Error{Header: header, Err: fmt.Errorf(format, args...)}
}

func oversized(n, max int) *Error {
	return &Error{Header: "value", Err: fmt.Errorf("%w: %d bytes, limit %d", serving.ErrTooLarge, n, max)}
}

// EncodeModel encodes d as a model message. d must have a Name, a Format,
// and Bytes or a Location. Bytes are not copied. max limits len(d.Bytes);
// zero or less means [DefaultMaxModelBytes]. The sha256 header is
// computed from Bytes when d.SHA256 is empty. A Version of 0 writes no
// version header ("next"). Labels are written in key order, so encoding
// is deterministic; a label with an empty name is refused, as DecodeModel
// refuses its header, and so is a Created time outside the years 0 to
// 9999 (in UTC), which RFC 3339 cannot write. The error is an *Error.
func EncodeModel(d serving.Descriptor, max int) (Message, error) {
	if max <= 0 {
		max = DefaultMaxModelBytes
	}
	if err := checkName(d.Name); err != nil {
		return Message{}, err
	}
	switch {
	case d.Format == "":
		return Message{}, malformed(HeaderFormat, "no format")
	case len(d.Bytes) == 0 && d.Location == "":
		return Message{}, malformed("value", "neither bytes nor a location")
	case len(d.Bytes) > max:
		return Message{}, oversized(len(d.Bytes), max)
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
		c := d.Created.UTC()
		if y := c.Year(); y < 0 || y > 9999 {
			// time.Format writes such a year, but no RFC 3339 reader
			// (DecodeModel included) parses it.
			return Message{}, malformed(HeaderCreated, "year %d: RFC 3339 writes years 0 to 9999", y)
		}
		add(HeaderCreated, c.Format(time.RFC3339Nano))
	}
	add(HeaderLocation, d.Location)
	add(HeaderParent, d.Parent)
	add(HeaderDescription, d.Description)
	if len(d.Signature) > 0 {
		add(HeaderSignature, base64.StdEncoding.EncodeToString(d.Signature))
	}
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		if k == "" {
			return Message{}, malformed(HeaderLabelPrefix, "a label with an empty name")
		}
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
// DecodeModel checks the message's shape only (a name of at most
// [MaxNameBytes] bytes of UTF-8, a format, bytes or a location, well-formed
// headers, every label named): whether the format is
// registered, the bytes match the sha256 and the model loads is for
// serving.Server.Activate to decide.
func DecodeModel(m Message, max int) (serving.Descriptor, error) {
	if max <= 0 {
		max = DefaultMaxModelBytes
	}
	var d serving.Descriptor
	if err := checkName(string(m.Key)); err != nil {
		return d, err
	}
	d.Name = string(m.Key)
	if len(m.Value) > max {
		return d, oversized(len(m.Value), max)
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
				return d, &Error{Header: k, Err: err}
			}
			d.Version = n
		case HeaderSHA256:
			d.SHA256 = strings.ToLower(strings.TrimSpace(v))
		case HeaderCreated:
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
			if err != nil {
				return d, &Error{Header: k, Err: err}
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
				return d, &Error{Header: k, Err: err}
			}
			d.Signature = sig
		default:
			if lk, ok := strings.CutPrefix(k, HeaderLabelPrefix); ok {
				if lk == "" {
					return d, malformed(k, "a label with an empty name")
				}
				if d.Labels == nil {
					d.Labels = map[string]string{}
				}
				d.Labels[lk] = v
			}
		}
	}
	if d.Format == "" {
		return d, malformed(HeaderFormat, "missing")
	}
	if len(d.Bytes) == 0 && d.Location == "" {
		return d, malformed("value", "neither bytes nor a location")
	}
	return d, nil
}

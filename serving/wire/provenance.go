package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/modelstream/modelstream/serving"
)

// The provenance headers of an output record; see "Provenance headers"
// in the package documentation. [HeaderProvenance] names the model that
// scored; the other three carry a speculative combinator's decision.
const (
	HeaderProvenance = Prefix + "provenance"
	HeaderCombinator = Prefix + "combinator"
	HeaderVariant    = Prefix + "variant"
	HeaderDecision   = Prefix + "decision"
)

// The legacy provenance headers, which writers wrote before
// [HeaderProvenance] existed: the name and content ID of the model that
// scored, beside [HeaderVersion] and [HeaderFormat]. [ProvenanceOf]
// still reads them, for the records already on topics; nothing here
// writes them any more.
const (
	HeaderModel = Prefix + "model"
	HeaderID    = Prefix + "id"
)

// ErrNoProvenance means a record carries no provenance. Provenance that
// is there but does not decode, or headers and a value that disagree,
// are [ErrMalformed] ("wire: malformed provenance: ...").
var ErrNoProvenance = errors.New("wire: no provenance")

// Score is a score record: the prediction, what computed it, and where
// its input came from. Its JSON is the value of the record in the default
// encoding, [ScoreJSON]; see [ScoreEncoding] for the compact one.
//
// Like serving.Result, a Score embeds the serving.Prediction, so a
// reader writes s.Value and s.Label; in JSON it is the object
// "prediction". Its Prediction and Provenance are a Result's two parts:
// serving.Result{Prediction: s.Prediction, Provenance: s.Provenance}
// is the Result that was scored, and wire.Score{Prediction:
// r.Prediction, Provenance: r.Provenance} starts a Score from a Result r.
type Score struct {
	serving.Prediction `json:"prediction"`
	Provenance         serving.Provenance `json:"provenance"`
	// Key is the input record's key as text; empty if it had none, or
	// if it is not valid UTF-8.
	Key string `json:"key,omitempty"`
	// KeyBase64 is the input record's key when it is not valid UTF-8,
	// which a JSON string cannot carry unchanged (encoding/json writes
	// U+FFFD for each invalid byte, so distinct keys would come out
	// alike). In JSON it is the standard base64 of the key's bytes.
	// [Score.SetKey] sets one of Key and KeyBase64, and
	// [Score.InputKey] reads them back.
	KeyBase64 []byte `json:"key_base64,omitempty"`
	// Topic, Partition and Offset locate the input record.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// SetKey sets the input record's key: Key when key is valid UTF-8,
// KeyBase64 otherwise.
func (s *Score) SetKey(key []byte) {
	if utf8.Valid(key) {
		s.Key, s.KeyBase64 = string(key), nil
		return
	}
	s.Key, s.KeyBase64 = "", key
}

// InputKey returns the input record's key as bytes, from KeyBase64 when
// it is set and from Key otherwise; nil if it had none.
func (s Score) InputKey() []byte {
	if s.KeyBase64 != nil {
		return s.KeyBase64
	}
	if s.Key == "" {
		return nil
	}
	return []byte(s.Key)
}

// ProvenanceHeaders encodes p as headers, in the order of the table in
// the package documentation: modelstream.provenance, then the decision's
// headers when p has a Decision. A p that names no model (an empty
// p.Model.Name) has no modelstream.provenance header, so that
// [ProvenanceOf] finds no provenance in them. It is a pure function of p.
func ProvenanceHeaders(p serving.Provenance) []Header {
	h := make([]Header, 0, 4)
	if p.Model.Name != "" {
		h = append(h, Header{Key: []byte(HeaderProvenance), Value: appendRef(nil, p.Model)})
	}
	if d := p.Decision; d != nil {
		h = append(h, header(HeaderCombinator, d.Combinator))
		if d.Variant != "" {
			h = append(h, header(HeaderVariant, d.Variant))
		}
		if b, err := json.Marshal(d); err == nil { // a serving.Decision always marshals
			h = append(h, Header{Key: []byte(HeaderDecision), Value: b})
		}
	}
	return h
}

// appendRef appends the value of modelstream.provenance for r to b:
// name/version/id/format, the text fields percent-encoded.
func appendRef(b []byte, r serving.ModelRef) []byte {
	b = appendEscaped(b, r.Name)
	b = append(b, '/')
	b = strconv.AppendUint(b, r.Version, 10)
	b = append(b, '/')
	b = appendEscaped(b, r.ID)
	b = append(b, '/')
	return appendEscaped(b, r.Format)
}

// appendEscaped appends s to b with every byte but RFC 3986's
// unreserved characters written as %XX, in uppercase hex.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// unreserved reports whether c is one of RFC 3986's unreserved
// characters, which a provenance field carries unescaped.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// parseRef decodes the value of modelstream.provenance, as the package
// documentation describes it.
func parseRef(v []byte) (serving.ModelRef, error) {
	var r serving.ModelRef
	var f [4][]byte
	for i := range f {
		end := bytes.IndexByte(v, '/')
		if end < 0 {
			if i < len(f)-1 {
				return r, fmt.Errorf("%d fields, want name/version/id/format", i+1)
			}
			end = len(v)
		}
		f[i] = v[:end]
		if end < len(v) {
			v = v[end+1:]
		} else {
			v = nil
		}
	}
	var err error
	if r.Name, err = unescape(f[0]); err != nil {
		return r, fmt.Errorf("name: %w", err)
	}
	if r.Name == "" {
		return r, errors.New("no model name")
	}
	if r.Version, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
		return r, fmt.Errorf("version %q is not a decimal uint64", f[1])
	}
	if r.ID, err = unescape(f[2]); err != nil {
		return r, fmt.Errorf("id: %w", err)
	}
	if r.Format, err = unescape(f[3]); err != nil {
		return r, fmt.Errorf("format: %w", err)
	}
	return r, nil
}

// unescape decodes a percent-encoded provenance field: %XX, in either
// case, is the byte XX, and any other byte is itself, which is what
// url.PathUnescape reads ("+" stays "+"); a "%" without two hex digits
// after it is an error.
func unescape(f []byte) (string, error) {
	if bytes.IndexByte(f, '%') < 0 {
		return string(f), nil
	}
	s, err := url.PathUnescape(string(f))
	if err != nil {
		return "", fmt.Errorf("%q: %% without two hex digits", f)
	}
	return s, nil
}

// parseProvenanceHeaders decodes the provenance headers among hs and
// ignores all others. It reads the model from modelstream.provenance, or
// from the legacy headers when a record has no modelstream.provenance;
// when it has both, they must name the same model. It fails with
// ErrNoProvenance when there is neither, and with ErrMalformed when a
// header does not parse. Without modelstream.decision the Decision is
// nil, even if modelstream.combinator is present.
func parseProvenanceHeaders(hs []Header) (serving.Provenance, error) {
	var p serving.Provenance
	var legacy serving.ModelRef
	var haveRef, haveModel, haveVersion bool
	for _, h := range hs {
		if !bytes.HasPrefix(h.Key, []byte(Prefix)) {
			continue
		}
		switch string(h.Key) {
		case HeaderProvenance:
			r, err := parseRef(h.Value)
			if err != nil {
				return p, fmt.Errorf("%w provenance: %s: %v", ErrMalformed, HeaderProvenance, err)
			}
			p.Model, haveRef = r, true
		case HeaderModel:
			legacy.Name, haveModel = string(h.Value), true
		case HeaderVersion:
			v, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				return p, fmt.Errorf("%w provenance: %s %q", ErrMalformed, HeaderVersion, h.Value)
			}
			legacy.Version, haveVersion = v, true
		case HeaderID:
			legacy.ID = string(h.Value)
		case HeaderFormat:
			legacy.Format = string(h.Value)
		case HeaderDecision:
			var d serving.Decision
			if err := json.Unmarshal(h.Value, &d); err != nil {
				return p, fmt.Errorf("%w provenance: %s: %v", ErrMalformed, HeaderDecision, err)
			}
			p.Decision = &d
		}
	}
	switch {
	case haveRef && haveModel && !(haveVersion && sameModel(p.Model, legacy)):
		return p, fmt.Errorf("%w provenance: %s says %s (id %s), %s and %s say %s (id %s)", ErrMalformed,
			HeaderProvenance, p.Model, short(p.Model.ID), HeaderModel, HeaderVersion, legacyRef(legacy, haveVersion), short(legacy.ID))
	case haveRef:
		return p, nil
	case !haveModel || legacy.Name == "":
		return p, ErrNoProvenance
	case !haveVersion:
		return p, fmt.Errorf("%w provenance: %s without %s", ErrMalformed, HeaderModel, HeaderVersion)
	}
	p.Model = legacy
	return p, nil
}

// legacyRef names the model of the legacy headers in an error.
func legacyRef(r serving.ModelRef, haveVersion bool) string {
	if !haveVersion {
		return strconv.Quote(r.Name) + " without a version"
	}
	return r.String()
}

// parseProvenance returns the provenance field of an output record's
// JSON value (a [Score], or a marshalled serving.Result).
func parseProvenance(value []byte) (serving.Provenance, error) {
	var v struct {
		Provenance *serving.Provenance `json:"provenance"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return serving.Provenance{}, fmt.Errorf("%w provenance: %v", ErrMalformed, err)
	}
	if v.Provenance == nil || v.Provenance.Model.Name == "" {
		return serving.Provenance{}, ErrNoProvenance
	}
	return *v.Provenance, nil
}

// ProvenanceOf returns what scored an output record, from its headers
// and its JSON value; either may be nil. Headers are read first, since
// they need no parse of the value; headers other than the provenance
// headers are ignored. The model is read from modelstream.provenance, or,
// in a record written before that header existed, from the legacy
// headers (modelstream.model and the others); a record with both must
// name the same model in both. A header that does not parse, or a
// modelstream.model without modelstream.version, is ErrMalformed.
// Without modelstream.decision the headers give a nil Decision, even if
// modelstream.combinator is present. When headers and value both carry
// provenance, their models must agree, or one of them was altered:
// ErrMalformed again. A value that is not a score (not JSON, or without
// "provenance") does not contradict headers that answer: so a score in
// the compact encoding ([ScoreCompact]), or written as Avro, is traced by
// its headers alone. Without either, ErrNoProvenance.
func ProvenanceOf(headers []Header, value []byte) (serving.Provenance, error) {
	hp, herr := parseProvenanceHeaders(headers)
	if herr != nil && !errors.Is(herr, ErrNoProvenance) {
		return hp, herr
	}
	if len(value) == 0 {
		return hp, herr
	}
	vp, verr := parseProvenance(value)
	switch {
	case errors.Is(herr, ErrNoProvenance):
		return vp, verr
	case verr != nil:
		return hp, nil
	case !sameModel(hp.Model, vp.Model):
		return hp, fmt.Errorf("%w provenance: headers say %s (id %s), value says %s (id %s)", ErrMalformed, hp.Model, short(hp.Model.ID), vp.Model, short(vp.Model.ID))
	}
	if hp.Decision == nil {
		hp.Decision = vp.Decision // the value carries the full decision
	}
	return hp, nil
}

func sameModel(a, b serving.ModelRef) bool {
	return a.Name == b.Name && a.Version == b.Version &&
		(a.ID == "" || b.ID == "" || a.ID == b.ID) &&
		(a.Format == "" || b.Format == "" || a.Format == b.Format)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/modelstream/modelstream/serving"
)

// The provenance headers of an output record; see the package
// documentation. [HeaderVersion] and [HeaderFormat] name the version and
// format of the model that scored.
const (
	HeaderModel      = Prefix + "model"
	HeaderID         = Prefix + "id"
	HeaderCombinator = Prefix + "combinator"
	HeaderVariant    = Prefix + "variant"
	HeaderDecision   = Prefix + "decision"
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
// the package documentation. It is a pure function of p.
func ProvenanceHeaders(p serving.Provenance) []Header {
	h := make([]Header, 0, 7)
	h = append(h, header(HeaderModel, p.Model.Name), header(HeaderVersion, strconv.FormatUint(p.Model.Version, 10)))
	if p.Model.ID != "" {
		h = append(h, header(HeaderID, p.Model.ID))
	}
	if p.Model.Format != "" {
		h = append(h, header(HeaderFormat, p.Model.Format))
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

// parseProvenanceHeaders decodes the provenance headers among hs and
// ignores all others. It fails with ErrNoProvenance when there is no
// modelstream.model header, and with ErrMalformed when a header does
// not parse. Without modelstream.decision the Decision is nil, even if
// modelstream.combinator is present.
func parseProvenanceHeaders(hs []Header) (serving.Provenance, error) {
	var p serving.Provenance
	var haveModel, haveVersion bool
	for _, h := range hs {
		if !bytes.HasPrefix(h.Key, []byte(Prefix)) {
			continue
		}
		switch string(h.Key) {
		case HeaderModel:
			p.Model.Name, haveModel = string(h.Value), true
		case HeaderVersion:
			v, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				return p, fmt.Errorf("%w provenance: %s %q", ErrMalformed, HeaderVersion, h.Value)
			}
			p.Model.Version, haveVersion = v, true
		case HeaderID:
			p.Model.ID = string(h.Value)
		case HeaderFormat:
			p.Model.Format = string(h.Value)
		case HeaderDecision:
			var d serving.Decision
			if err := json.Unmarshal(h.Value, &d); err != nil {
				return p, fmt.Errorf("%w provenance: %s: %v", ErrMalformed, HeaderDecision, err)
			}
			p.Decision = &d
		}
	}
	if !haveModel || p.Model.Name == "" {
		return p, ErrNoProvenance
	}
	if !haveVersion {
		return p, fmt.Errorf("%w provenance: %s without %s", ErrMalformed, HeaderModel, HeaderVersion)
	}
	return p, nil
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
// headers are ignored. A modelstream.model header without
// modelstream.version, or a header that does not parse, is
// ErrMalformed. Without modelstream.decision the headers give a nil
// Decision, even if modelstream.combinator is present. When both carry
// provenance, their models must agree, or one of them was altered:
// ErrMalformed again. A
// value that is not a score (not JSON, or without "provenance") does not
// contradict headers that answer: so a score in the compact encoding
// ([ScoreCompact]), or written as Avro, is traced by its headers alone.
// Without either, ErrNoProvenance.
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

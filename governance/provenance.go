package governance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
)

// Header is one Kafka record header. It has the same fields as
// sarama.RecordHeader, so a sarama adapter converts with
// sarama.RecordHeader(h) and this package needs no Kafka client.
type Header struct {
	Key   []byte
	Value []byte
}

// The provenance headers of an output record. They share the
// "modelstream." prefix of the model message headers in serving/kafka,
// and mean the same thing there: HeaderVersion and HeaderFormat name the
// version and format of the model that scored.
//
//	modelstream.model        name of the model whose output is the prediction
//	modelstream.version      its version, decimal
//	modelstream.id           its content ID (lowercase hex SHA-256); omitted if unknown
//	modelstream.format       its format; omitted if unknown
//	modelstream.combinator   the speculative combinator that decided, if any
//	modelstream.variant      the variant a router chose, if any
//	modelstream.decision     the whole serving.Decision as JSON, if any
//
// The first two are always written. A consumer that only needs "which
// model" reads them without parsing the value; the decision header
// carries every candidate asked, with its version, latency and status.
const (
	HeaderPrefix     = "modelstream."
	HeaderModel      = HeaderPrefix + "model"
	HeaderVersion    = HeaderPrefix + "version"
	HeaderID         = HeaderPrefix + "id"
	HeaderFormat     = HeaderPrefix + "format"
	HeaderCombinator = HeaderPrefix + "combinator"
	HeaderVariant    = HeaderPrefix + "variant"
	HeaderDecision   = HeaderPrefix + "decision"
)

// ProvenanceField is the top-level field of an output record's JSON value
// that holds its provenance. The provenance JSON is serving.Provenance
// marshalled as is:
//
//	{"model":{"name":"fraud","version":3,"id":"9f2c…","format":"linear"},
//	 "decision":{"combinator":"budget","decider":"first","winner":0,
//	   "candidates":[{"model":{"name":"fraud","version":3,…},"latency_ns":41000,"status":"ok",
//	                  "prediction":{"value":0.93}},
//	                 {"model":{"name":"fraud-big","version":7,…},"latency_ns":20000000,"status":"late"}]}}
//
// "decision" is absent when a single model scored. "model" names the
// model whose output is the prediction: the winner of a decision.
// Marshalling a serving.Result gives a value of this shape.
const ProvenanceField = "provenance"

// Sentinel errors of provenance decoding.
var (
	// ErrNoProvenance means a record carries no provenance.
	ErrNoProvenance = errors.New("governance: no provenance")
	// ErrBadProvenance means a record's provenance is malformed, or its
	// headers and its value disagree.
	ErrBadProvenance = errors.New("governance: malformed provenance")
)

// ProvenanceHeaders encodes p as headers, in the order listed at
// [HeaderModel]. It is a pure function of p.
func ProvenanceHeaders(p serving.Provenance) []Header {
	h := make([]Header, 0, 7)
	add := func(k, v string) { h = append(h, Header{Key: []byte(k), Value: []byte(v)}) }
	add(HeaderModel, p.Model.Name)
	add(HeaderVersion, strconv.FormatUint(p.Model.Version, 10))
	if p.Model.ID != "" {
		add(HeaderID, p.Model.ID)
	}
	if p.Model.Format != "" {
		add(HeaderFormat, p.Model.Format)
	}
	if d := p.Decision; d != nil {
		add(HeaderCombinator, d.Combinator)
		if d.Variant != "" {
			add(HeaderVariant, d.Variant)
		}
		if b, err := json.Marshal(d); err == nil { // serving.Decision always marshals
			h = append(h, Header{Key: []byte(HeaderDecision), Value: b})
		}
	}
	return h
}

// ParseProvenanceHeaders decodes the provenance headers among hs, and
// ignores all others. It fails with ErrNoProvenance when there is no
// HeaderModel, and with ErrBadProvenance when a header does not parse.
// Without HeaderDecision the Decision is nil, even if HeaderCombinator is
// present (an encoder that writes only the short headers).
func ParseProvenanceHeaders(hs []Header) (serving.Provenance, error) {
	var p serving.Provenance
	var haveModel, haveVersion bool
	for _, h := range hs {
		if !bytes.HasPrefix(h.Key, []byte(HeaderPrefix)) {
			continue
		}
		switch string(h.Key) {
		case HeaderModel:
			p.Model.Name, haveModel = string(h.Value), true
		case HeaderVersion:
			v, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				return p, fmt.Errorf("%w: %s %q", ErrBadProvenance, HeaderVersion, h.Value)
			}
			p.Model.Version, haveVersion = v, true
		case HeaderID:
			p.Model.ID = string(h.Value)
		case HeaderFormat:
			p.Model.Format = string(h.Value)
		case HeaderDecision:
			var d serving.Decision
			if err := json.Unmarshal(h.Value, &d); err != nil {
				return p, fmt.Errorf("%w: %s: %v", ErrBadProvenance, HeaderDecision, err)
			}
			p.Decision = &d
		}
	}
	if !haveModel || p.Model.Name == "" {
		return p, ErrNoProvenance
	}
	if !haveVersion {
		return p, fmt.Errorf("%w: %s without %s", ErrBadProvenance, HeaderModel, HeaderVersion)
	}
	return p, nil
}

// MarshalProvenance returns the JSON of p described at [ProvenanceField].
func MarshalProvenance(p serving.Provenance) ([]byte, error) { return json.Marshal(p) }

// ParseProvenance decodes an output record's JSON value and returns the
// provenance in its ProvenanceField. It fails with ErrNoProvenance when
// the field is absent or names no model, and with ErrBadProvenance when
// the value is not JSON or the field is malformed.
func ParseProvenance(value []byte) (serving.Provenance, error) {
	var v struct {
		Provenance *serving.Provenance `json:"provenance"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return serving.Provenance{}, fmt.Errorf("%w: %v", ErrBadProvenance, err)
	}
	if v.Provenance == nil || v.Provenance.Model.Name == "" {
		return serving.Provenance{}, ErrNoProvenance
	}
	return *v.Provenance, nil
}

// ProvenanceOf returns what scored an output record, from its headers
// and its JSON value. Headers are read first, since they need no parse
// of the value; when both carry provenance, their models must agree
// (ErrBadProvenance otherwise: one of them was altered). Either may be
// nil.
func ProvenanceOf(headers []Header, value []byte) (serving.Provenance, error) {
	hp, herr := ParseProvenanceHeaders(headers)
	if herr != nil && !errors.Is(herr, ErrNoProvenance) {
		return hp, herr
	}
	if len(value) == 0 {
		return hp, herr
	}
	vp, verr := ParseProvenance(value)
	switch {
	case errors.Is(herr, ErrNoProvenance):
		return vp, verr
	case verr != nil:
		// The headers answered; a value that is not ours (not JSON,
		// or without the field) does not contradict them.
		return hp, nil
	case !sameModel(hp.Model, vp.Model):
		return hp, fmt.Errorf("%w: headers say %s (id %s), value says %s (id %s)", ErrBadProvenance, hp.Model, shortID(hp.Model.ID), vp.Model, shortID(vp.Model.ID))
	}
	// The value carries the full decision even if the headers did not.
	if hp.Decision == nil {
		hp.Decision = vp.Decision
	}
	return hp, nil
}

func sameModel(a, b serving.ModelRef) bool {
	return a.Name == b.Name && a.Version == b.Version &&
		(a.ID == "" || b.ID == "" || a.ID == b.ID) &&
		(a.Format == "" || b.Format == "" || a.Format == b.Format)
}

// Which answers which model version, and which content ID, scored an
// output record, from its headers and/or its JSON value; see
// [ProvenanceOf]. For a speculative decision it is the model whose
// output was returned. This is the exact answer: the provenance was
// stamped by the code that ran the model, with the version that ran.
func Which(headers []Header, value []byte) (serving.ModelRef, error) {
	p, err := ProvenanceOf(headers, value)
	return p.Model, err
}

// WhichAt answers, for a record that carries no provenance, which
// version of name was active at time t, from the registry's activation
// history (*registry.Registry.At).
//
// It is weaker than [Which], and can be wrong:
//   - Under speculative execution several models are live at once, and
//     which one answered a given record depends on latencies and on the
//     combinator's decision; the history names only the version of one
//     name that was installed, not who won.
//   - A swap is atomic per call, not per timestamp: a record whose call
//     started just before a swap is scored by the old version even if it
//     finished after the new one was activated.
//   - The record's timestamp and the activation times come from
//     different clocks (producer, broker, serving host), and several
//     instances swap at slightly different moments as each reads the
//     models topic. Near a swap, skew of a few milliseconds picks the
//     wrong version.
//   - A history recorded by one instance says nothing certain about
//     another instance that scored the record.
//
// Use it for records from before provenance was stamped, or to bound an
// answer, never to audit a disputed score.
func WhichAt(ctx context.Context, store *registry.Registry, name string, t time.Time) (serving.ModelRef, error) {
	ref, err := store.At(ctx, name, t)
	if err != nil {
		return ref, fmt.Errorf("governance: which %q at %s: %w", name, t.UTC().Format(time.RFC3339Nano), err)
	}
	return ref, nil
}

package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/modelstream/modelstream/serving"
)

// ScoreEncoding is how the value of a score record is encoded; see
// "Scores" in the package documentation. Both encodings are JSON of the
// shape of [Score]; [DecodeScore] reads either.
type ScoreEncoding uint8

const (
	// ScoreJSON is the whole [Score] as JSON, provenance and input key
	// included, so that the value stands alone. It is the default.
	ScoreJSON ScoreEncoding = iota
	// ScoreCompact is the [Score] as JSON without "provenance" and
	// "key", which the record carries already: the provenance in its
	// headers, the input's key as its own key. A score of a single
	// model with a 64-digit ID then takes a third to a half of the bytes
	// of ScoreJSON (74 of 238 for a bare value, 139 of 303 with a label
	// and confidence of 16 digits).
	ScoreCompact
)

// AppendScore appends the value of a score record for s, in encoding e,
// to b. A prediction with a NaN or infinite number, which JSON cannot
// carry, is ErrMalformed; so is an unknown encoding.
func (e ScoreEncoding) AppendScore(b []byte, s *Score) ([]byte, error) {
	switch e {
	case ScoreJSON:
		v, err := json.Marshal(s)
		if err != nil {
			return b, fmt.Errorf("%w score: %v", ErrMalformed, err)
		}
		return append(b, v...), nil
	case ScoreCompact:
		p, err := json.Marshal(s.Prediction)
		if err != nil {
			return b, fmt.Errorf("%w score: %v", ErrMalformed, err)
		}
		b = append(b, `{"prediction":`...)
		b = append(b, p...)
		return appendOrigin(b, s.Topic, s.Partition, s.Offset), nil
	}
	return b, fmt.Errorf("%w score: unknown encoding %d", ErrMalformed, e)
}

// appendOrigin appends the end of a ScoreCompact value, after its
// prediction: the input's topic, partition and offset, and the closing
// brace.
func appendOrigin(b []byte, topic string, partition int32, offset int64) []byte {
	b = append(b, `,"topic":`...)
	if plainTopic(topic) {
		b = append(b, '"')
		b = append(b, topic...)
		b = append(b, '"')
	} else {
		t, _ := json.Marshal(topic) // a string always marshals
		b = append(b, t...)
	}
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, offset, 10)
	return append(b, '}')
}

func plainTopic(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// score is Score as read from JSON, with the provenance optional.
type score struct {
	Prediction *serving.Prediction `json:"prediction"`
	Provenance *serving.Provenance `json:"provenance"`
	Key        *string             `json:"key"`
	KeyBase64  []byte              `json:"key_base64"`
	Topic      string              `json:"topic"`
	Partition  int32               `json:"partition"`
	Offset     int64               `json:"offset"`
}

// DecodeScore decodes a score record of either [ScoreEncoding]: its
// value, with what the value leaves out taken from the record. The
// provenance is the value's when it has one and the headers' otherwise
// (as [ProvenanceOf] reads them, so headers and value must agree), and
// the input key is the value's "key" or "key_base64" when it has one and
// the record's key otherwise.
//
// A value that is not JSON of the shape of [Score], or has no
// "prediction", is ErrMalformed ("wire: malformed score: ..."); so is one
// framed for a Schema Registry (a zero magic byte, as
// serving/kafka/confluent writes Avro scores): decode it with its schema,
// as serving/kafka/confluent's ScoreDecoder does for both score schemas.
// A record with provenance in neither place is ErrNoProvenance, and one
// whose headers and value disagree is ErrMalformed ("wire: malformed
// provenance: ...").
func DecodeScore(m Message) (Score, error) {
	if len(m.Value) > 0 && m.Value[0] == 0 {
		return Score{}, fmt.Errorf("%w score: a Schema Registry frame (magic byte 0), not JSON: decode it with its schema", ErrMalformed)
	}
	var v score
	if err := json.Unmarshal(m.Value, &v); err != nil {
		return Score{}, fmt.Errorf("%w score: %v", ErrMalformed, err)
	}
	if v.Prediction == nil {
		return Score{}, fmt.Errorf(`%w score: no "prediction"`, ErrMalformed)
	}
	s := Score{Prediction: *v.Prediction, KeyBase64: v.KeyBase64, Topic: v.Topic, Partition: v.Partition, Offset: v.Offset}
	switch {
	case v.Key != nil:
		s.Key = *v.Key
	case v.KeyBase64 == nil && m.Key != nil:
		s.SetKey(m.Key)
	}
	hp, err := parseProvenanceHeaders(m.Headers)
	switch {
	case err != nil && !errors.Is(err, ErrNoProvenance):
		return Score{}, err
	case v.Provenance == nil || v.Provenance.Model.Name == "":
		if err != nil {
			return Score{}, fmt.Errorf("wire: decode score: %w in the value nor the headers", ErrNoProvenance)
		}
		s.Provenance = hp
	case err == nil && !sameModel(hp.Model, v.Provenance.Model):
		return Score{}, fmt.Errorf("%w provenance: headers say %s (id %s), value says %s (id %s)", ErrMalformed, hp.Model, short(hp.Model.ID), v.Provenance.Model, short(v.Provenance.Model.ID))
	default:
		s.Provenance = *v.Provenance
	}
	return s, nil
}

package wire

import (
	"fmt"
	"strconv"
)

// The dead-letter headers; see the package documentation.
const (
	HeaderDLQReason    = dlqPrefix + "reason"
	HeaderDLQStage     = dlqPrefix + "stage"
	HeaderDLQTopic     = dlqPrefix + "topic"
	HeaderDLQPartition = dlqPrefix + "partition"
	HeaderDLQOffset    = dlqPrefix + "offset"
	HeaderDLQTruncated = dlqPrefix + "truncated"
)

// dlqPrefix begins the name of every dead-letter header.
const dlqPrefix = Prefix + "dlq."

// The dead-letter stages: where the record failed.
const (
	StageDecode = "decode" // its value could not be decoded into a record
	StageScore  = "score"  // scoring failed, or the score could not be written
)

// DeadLetter is what the dead-letter headers say about a failed record.
type DeadLetter struct {
	// Topic, Partition and Offset locate the input record.
	Topic     string
	Partition int32
	Offset    int64
	// Stage is StageDecode or StageScore.
	Stage string
	// Reason is the error's text.
	Reason string
	// Truncated is the size in bytes of what of the input was left out
	// of the dead letter because it would not fit the producer's limit:
	// its value, its headers (names and values) and, if need be, its
	// key. It is 0 when the dead letter carries all of the input.
	Truncated int
}

// Headers encodes d as dead-letter headers, in the order of the table in
// the package documentation. The writer appends them to the input's own
// headers.
func (d DeadLetter) Headers() []Header {
	h := make([]Header, 5, 6)
	h[0] = header(HeaderDLQReason, d.Reason)
	h[1] = header(HeaderDLQStage, d.Stage)
	h[2] = header(HeaderDLQTopic, d.Topic)
	h[3] = header(HeaderDLQPartition, strconv.FormatInt(int64(d.Partition), 10))
	h[4] = header(HeaderDLQOffset, strconv.FormatInt(d.Offset, 10))
	if d.Truncated > 0 {
		h = append(h, header(HeaderDLQTruncated, strconv.Itoa(d.Truncated)))
	}
	return h
}

// ParseDeadLetter decodes the dead-letter headers among hs and ignores
// all others. It fails with an *Error naming the header, wrapping
// ErrMalformed, when modelstream.dlq.stage is missing or a number does
// not parse or is negative.
func ParseDeadLetter(hs []Header) (DeadLetter, error) {
	var d DeadLetter
	for _, h := range hs {
		var err error
		switch k, v := string(h.Key), string(h.Value); k {
		case HeaderDLQReason:
			d.Reason = v
		case HeaderDLQStage:
			d.Stage = v
		case HeaderDLQTopic:
			d.Topic = v
		case HeaderDLQPartition:
			var p int64
			p, err = parseCount(v, 32)
			d.Partition = int32(p)
		case HeaderDLQOffset:
			d.Offset, err = parseCount(v, 64)
		case HeaderDLQTruncated:
			var n int64
			n, err = parseCount(v, strconv.IntSize)
			d.Truncated = int(n)
		}
		if err != nil {
			return d, &Error{Header: string(h.Key), Err: err}
		}
	}
	if d.Stage == "" {
		return d, malformed(HeaderDLQStage, "missing: not a dead letter")
	}
	return d, nil
}

// parseCount parses a decimal integer of bits bits that is not
// negative: a partition, offset or size.
func parseCount(v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err == nil && n < 0 {
		err = fmt.Errorf("%d is negative", n)
	}
	return n, err
}

// HeaderAuditKind carries the event kind of a record on the audit topic
// (see package governance/govkafka), for consumers that filter without
// parsing the value.
const HeaderAuditKind = Prefix + "audit.kind"

package onnx

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A call that finds every instance busy waits, and gives up when its
// context ends.
func TestPredictWaitsForAnInstanceUntilContextEnds(t *testing.T) {
	m := &Model{sem: make(chan struct{}, 1)}
	m.sem <- struct{}{} // the only instance is busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := m.Predict(ctx, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if len(m.sem) != 1 {
		t.Fatalf("a cancelled wait took or released a token: %d in use", len(m.sem))
	}
}

func TestSoftmaxAgrees(t *testing.T) {
	cases := []struct {
		opset   int64
		axis    int64
		hasAxis bool
		shape   []int
		want    bool
	}{
		// Opset 13: along one axis, default -1.
		{13, 0, false, []int{1, 3}, true},
		{13, 1, true, []int{4, 3}, true},
		{13, -1, true, []int{4, 3}, true},
		{13, 0, true, []int{4, 3}, false},
		{13, 2, true, []int{3, 4, 5}, true}, // the last axis: blocks of 5 both ways
		{13, 0, false, []int{3, 4, 5}, false},
		{13, 1, true, []int{3, 4, 1}, true}, // trailing 1: contiguous, 4 = prod([4 1])
		{13, 0, false, []int{5}, false},     // gorgonnx: blocks of 1
		{13, 0, false, []int{1}, true},
		// Opset 11: flatten at axis, default 1.
		{11, 0, false, []int{3, 4, 5}, true},
		{11, 2, true, []int{3, 4, 5}, true},
		{11, 0, true, []int{4, 3}, false}, // 2-D input: gorgonnx never flattens
		{11, -1, true, []int{3, 4, 5}, false},
		{11, -1, true, []int{4, 3}, true},
		{11, 4, true, []int{3, 4, 5}, false},
	}
	for _, c := range cases {
		got := softmaxAgrees(c.opset, softmaxNode{axis: c.axis, hasAxis: c.hasAxis}, c.shape)
		if got != c.want {
			t.Errorf("opset %d axis %d (given %v) shape %v: agrees = %v, want %v", c.opset, c.axis, c.hasAxis, c.shape, got, c.want)
		}
	}
}

// readVarints is the one reader of packed integer fields (attribute ints,
// tensor dims and integer data): it reads each varint, and a varint cut
// short is errTruncated, wherever it is.
func TestReadVarints(t *testing.T) {
	var got []uint64
	err := readVarints([]byte{0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(v uint64) { got = append(got, v) })
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 300 || int64(got[2]) != -1 {
		t.Errorf("readVarints = %v, %v; want [1 300 -1]", got, err)
	}
	if err := readVarints([]byte{0x01, 0x80}, func(uint64) {}); !errors.Is(err, errTruncated) {
		t.Errorf("a cut varint: %v, want errTruncated", err)
	}
	// A divisor whose packed int64_data is cut short: the load-time walk
	// says so rather than reading what precedes the cut.
	divisor := []byte{0x10, 0x07, 0x3a, 0x02, 0x02, 0x80, 0x42, 0x01, 'd'} // data_type 7, int64_data [2, cut], name "d"
	if _, _, err := tensorKind(divisor); !errors.Is(err, errTruncated) {
		t.Errorf("tensorKind of a cut int64_data: %v, want errTruncated", err)
	}
	if _, _, err := tensorConst(divisor); !errors.Is(err, errTruncated) {
		t.Errorf("tensorConst of a cut int64_data: %v, want errTruncated", err)
	}
}

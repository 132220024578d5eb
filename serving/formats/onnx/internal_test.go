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

package main

import (
	"context"
	"testing"
)

// TestQuickstart runs the demo small and fast on the embedded broker.
func TestQuickstart(t *testing.T) {
	if err := run(context.Background(), "", "", 3000, 5000, false); err != nil {
		t.Fatal(err)
	}
}

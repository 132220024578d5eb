package pmml

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestOversizedDocument lowers the size limit so the test needs no
// quarter-gigabyte document.
func TestOversizedDocument(t *testing.T) {
	defer func(n int) { maxDocumentBytes = n }(maxDocumentBytes)
	maxDocumentBytes = 1000
	doc := "<PMML>" + strings.Repeat(" ", 1000) + "</PMML>"
	_, err := Parse([]byte(doc))
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("err = %v, want corrupt: over the limit", err)
	}
}

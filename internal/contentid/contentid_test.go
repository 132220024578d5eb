package contentid_test

import (
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/contentid"
	"github.com/modelstream/modelstream/serving"
)

func TestValid(t *testing.T) {
	id := serving.ContentID([]byte("model"))
	if !contentid.Valid(id) {
		t.Errorf("Valid(ContentID(model)) = false for %q", id)
	}
	for _, bad := range []string{
		"",
		id[:63],
		id + "0",
		strings.ToUpper(id),
		id[:10] + "A" + id[11:],
		id[:63] + "g",
		id[:63] + "/",
		id[:63] + ":",
		id[:63] + "`",
		" " + id[1:],
		id[:62] + "é",
	} {
		if contentid.Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}

package serving_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestStaleVersionSaysTheWayForward: the stale-version error, which a
// model feed logs for a message whose version is not above the live one,
// tells the publisher what to send instead (a newer version, or none for
// the next), not only the Go option AllowRollback, which someone
// publishing with kcat cannot pass.
func TestStaleVersionSaysTheWayForward(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 2)); err != nil {
		t.Fatal(err)
	}
	_, err = srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))
	var ve *serving.VersionError
	if !errors.As(err, &ve) || !errors.Is(err, serving.ErrStaleVersion) {
		t.Fatalf("v1 after v2: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "newer version") || !strings.Contains(msg, "0 for the next") {
		t.Errorf("the error does not say what to publish instead: %s", msg)
	}
}

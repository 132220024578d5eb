package serving_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestNextVersionNeverReuses: NextVersion is what Activate gives a
// version-less Descriptor: 1 for a new name, and above every version
// made live or learnt through HighestVersion, also after a rollback and
// a retirement.
func TestNextVersionNeverReuses(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if n := srv.NextVersion("m"); n != 1 {
		t.Fatalf("new name: NextVersion %d, want 1", n)
	}
	for _, v := range []uint64{1, 3} {
		if _, err := srv.Activate(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("m", v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.AllowRollback(), serving.HighestVersion(5)); err != nil {
		t.Fatal(err)
	}
	srv.Retire("m")
	if n := srv.NextVersion("m"); n != 6 {
		t.Fatalf("after v3, a rollback to v1 knowing of v5, and a retirement: NextVersion %d, want 6", n)
	}
	ref, err := srv.Activate(ctx, servingtest.Spec{Value: 6}.Descriptor("m", 0))
	if err != nil || ref.Version != 6 {
		t.Fatalf("version-less activation: %v, %v; want v6, as NextVersion said", ref, err)
	}
}

package kafkafeed_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestNumberingAfterARestoredRollbackNeverReuses: an instance stores
// fraud v1 to v3 from the topic, is rolled back to v1, and restarts: the
// restored v1 is live, and the feed resumes after v3. A version-less
// message then gets v4, as on an instance that read the whole topic, and
// goes live. Before, the feed numbered it from the live v1 alone: it got
// v2, a number that already named another model, and the Sync refused it
// as a version conflict, so the new model never went live there.
func TestNumberingAfterARestoredRollbackNeverReuses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	path := filepath.Join(t.TempDir(), "registry.db")
	never := func() bool { return false }

	a := startFeedRun(t, c, path, never)
	for v := uint64(1); v <= 3; v++ {
		publish(float64(v), v)
		if e := a.next(t); e.Outcome != kafka.Activated || e.Model.Version != v {
			t.Fatalf("first run, v%d: %v %v (%v)", v, e.Model, e.Outcome, e.Err)
		}
	}
	if _, err := registry.Rollback(ctx, a.store, a.srv, "fraud", 1); err != nil {
		t.Fatal(err)
	}
	a.stop()

	b := startFeedRun(t, c, path, never)
	defer b.stop()
	if ref, _ := b.srv.Current("fraud"); ref.Version != 1 {
		t.Fatalf("restored %v, want the rolled-back fraud@v1", ref)
	}
	publish(4, 0)
	e := b.next(t)
	if e.Outcome != kafka.Activated || e.Model.Version != 4 {
		t.Fatalf("version-less message: %v %v (%v), want fraud@v4 activated", e.Model, e.Outcome, e.Err)
	}
	res, err := b.srv.Model("fraud").Score(ctx, serving.Record{})
	if err != nil || res.Value != 4 {
		t.Fatalf("score = %v, %v; want the new model's 4", res, err)
	}
	want := servingtest.Spec{Value: 4}.Descriptor("fraud", 0)
	d, err := b.store.Get(ctx, "fraud", 4)
	if err != nil || d.SHA256 != serving.ContentID(want.Bytes) {
		t.Fatalf("stored v4 is %v (%v), not the new model", d.Ref(), err)
	}
}

// TestNumberingAfterARestartWithNothingRestoredNeverReuses: a restarted
// instance that restores nothing (no history recorded, or the name was
// retired) and resumes after fraud v1 and v2 numbers a version-less
// message v3, above the versions its store holds, as an instance that
// read the whole topic does. Before, its Server knew no version of the
// name, so the message got v1, and the Sync refused it as a version
// conflict with the stored v1.
func TestNumberingAfterARestartWithNothingRestoredNeverReuses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	path := filepath.Join(t.TempDir(), "registry.db")
	never := func() bool { return false }

	a := startFeedRun(t, c, path, never)
	for v := uint64(1); v <= 2; v++ {
		publish(float64(v), v)
		if e := a.next(t); e.Outcome != kafka.Activated || e.Model.Version != v {
			t.Fatalf("first run, v%d: %v %v (%v)", v, e.Model, e.Outcome, e.Err)
		}
	}
	a.stop()

	b := startFeedRun(t, c, path, never)
	defer b.stop()
	if ref, live := b.srv.Current("fraud"); live {
		t.Fatalf("restored %v with no history recorded", ref)
	}
	publish(3, 0)
	if e := b.next(t); e.Outcome != kafka.Activated || e.Model.Version != 3 {
		t.Fatalf("version-less message: %v %v (%v), want fraud@v3 activated", e.Model, e.Outcome, e.Err)
	}
}

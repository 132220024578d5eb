package training

import (
	"context"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// TestStatsCountARecordOnceItsTriggersRan: Stats counts a record once
// what it triggered has run, so that a caller who waits for Records to
// reach n, then stops the trainer, has every version those n records
// published (examples/retrain does so). Records was counted before the
// triggers: while record 5's publication (EveryRecords(5)) was under
// way, Stats showed 5 records and 0 versions, and a stop then cancelled
// the publication.
func TestStatsCountARecordOnceItsTriggersRan(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	pub := PublisherFunc(func(context.Context, serving.Descriptor) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	l, _ := NewLearner(Logistic, 3)
	src := make(chanSource)
	tr, err := NewTrainer("m", l, src, pub, EveryRecords(5), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	for _, s := range conceptStream(5, 1<<30, 3) {
		src <- s
	}
	<-entered
	if st := tr.Stats(); st.Records != 4 || st.Published != 0 {
		t.Errorf("while record 5's publication is under way, Stats shows %d records and %d versions published; want 4 and 0", st.Records, st.Published)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().Records < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := tr.Stats(); st.Records != 5 || st.Published != 1 {
		t.Errorf("after record 5's publication, Stats shows %d records and %d versions published; want 5 and 1", st.Records, st.Published)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

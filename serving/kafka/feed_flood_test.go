package kafka_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestFeedNumberingMemoryIsBounded: the feed remembers, per model name,
// the highest version met on the topic so that version-less messages are
// numbered alike by every instance. 200,000 messages under new names of
// the longest allowed length must keep it to a few MiB (it kept every
// name: about 20 MiB at 2^16 names of 255 bytes), and numbering still
// works for names it remembers.
func TestFeedNumberingMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 names")
	}
	f := kafka.NumberingFeed(slog.New(slog.DiscardHandler))
	pad := strings.Repeat("x", wire.MaxNameBytes-12)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	f.Number("kept", 0, 0)
	for i := range 200_000 {
		f.Number(fmt.Sprintf("%s%012d", pad, i), 0, 0)
	}
	grew := int64(heap()) - int64(before)
	t.Logf("200,000 names of %d bytes: heap %+d bytes", wire.MaxNameBytes, grew)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d bytes, want at most 4 MiB", grew)
	}
	if v := f.Number("kept", 0, 0); v != 2 {
		t.Errorf("second version-less message of a remembered name numbered %d, want 2", v)
	}
	if v := f.Number("new-after-the-cap", 0, 5); v != 6 {
		t.Errorf("a name past the cap numbered %d, want live+1 = 6", v)
	}
	runtime.KeepAlive(f)
}

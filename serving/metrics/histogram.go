package metrics

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bucketIndex maps a duration in nanoseconds to its histogram bucket
// without converting it to float seconds. Bucket i counts the durations
// d with d.Seconds() <= bounds[i], exactly as a prometheus.Histogram
// observing d.Seconds() would; the last bucket, len(bounds), is +Inf.
type bucketIndex struct {
	// bounds are the finite upper bounds in seconds, as configured.
	bounds []float64
	// thr[i] is the largest duration in nanoseconds whose Seconds() is
	// at most bounds[i].
	thr []int64
	// span[L] is the range of buckets a non-negative duration n with
	// bits.Len64(n) == L can land in: a duration's power-of-two octave
	// narrows the search to a bucket or two with the default bounds.
	span [64]struct{ lo, hi int32 }
}

func newBucketIndex(bounds []float64) bucketIndex {
	b := bucketIndex{bounds: bounds, thr: make([]int64, len(bounds))}
	for i, s := range bounds {
		b.thr[i] = maxNanosAtMost(s)
	}
	for l := range b.span {
		var lo, hi int64
		if l > 0 {
			lo, hi = 1<<(l-1), 1<<l-1
		}
		b.span[l].lo = int32(b.first(lo, 0, len(b.thr)))
		b.span[l].hi = int32(b.first(hi, 0, len(b.thr)))
	}
	return b
}

// of returns the bucket of a duration of n nanoseconds.
func (b *bucketIndex) of(n int64) int {
	if n < 0 {
		return b.first(n, 0, len(b.thr))
	}
	sp := b.span[bits.Len64(uint64(n))&63]
	return b.first(n, int(sp.lo), int(sp.hi))
}

// ofShort returns the bucket of a duration of n nanoseconds, 0 <= n
// <= fastMax: of without its branch for negative durations, short
// enough to inline.
func (b *bucketIndex) ofShort(n int64) int {
	sp := b.span[bits.Len64(uint64(n))&63]
	return b.first(n, int(sp.lo), int(sp.hi))
}

// first returns the first i in [lo, hi] with n <= thr[i], where hi may
// be len(thr); the caller knows the answer lies in that range.
func (b *bucketIndex) first(n int64, lo, hi int) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n <= b.thr[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// maxNanosAtMost returns the largest n with time.Duration(n).Seconds()
// <= s, found by bisection since Seconds is monotonic; math.MinInt64 when
// no duration fits, which only a bound under -292 years gives.
func maxNanosAtMost(s float64) int64 {
	// Bisect over the int64 range mapped in order onto uint64.
	fits := func(u uint64) bool { return time.Duration(int64(u^1<<63)).Seconds() <= s }
	lo, hi := uint64(0), uint64(math.MaxUint64)
	switch {
	case !fits(lo):
		return math.MinInt64
	case fits(hi):
		return math.MaxInt64
	}
	for hi-lo > 1 { // fits(lo) && !fits(hi)
		m := lo + (hi-lo)/2
		if fits(m) {
			lo = m
		} else {
			hi = m
		}
	}
	return int64(lo ^ 1<<63)
}

// cacheLinePad is how many 8-byte words to leave before and after the
// cells of a series, so that two versions scored on different cores do
// not share a cache line (two lines: adjacent-line prefetch).
const cacheLinePad = 16

// A cell packs a count and a sum of nanoseconds in one word, so that an
// observation is a single atomic addition of countOne|n.
const (
	sumBits  = 44
	countOne = 1 << sumBits
	sumMask  = countOne - 1
	// fastMax is the longest duration, about 67ms, added to a cell; a
	// longer or negative one takes the locked slow path.
	fastMax = 1<<26 - 1
	// flushBits are set in a cell once its count reaches 2^19 or its
	// sum 2^43ns: the cell is then moved to the wide counters before
	// either field overflows. After the bit is set every adder sees it
	// and waits for the flush, so an overflow would need more than
	// 2^43/fastMax (131072) goroutines adding to one cell at once.
	flushBits = 1<<63 | 1<<(sumBits-1)
)

// defaultStripes is how many copies of its cells a series keeps. A call
// adds to the copy picked by the low bits of its duration, which vary
// from call to call, so that cores scoring one version at once mostly
// add to different cache lines instead of taking turns on one. A power
// of two.
const defaultStripes = 8

// stripeOf picks the stripe of a call of n nanoseconds, folding in
// higher bits for clocks coarser than a nanosecond; mask is the number
// of stripes minus one.
func stripeOf(n int64, mask int) int {
	x := uint64(n)
	x ^= x>>4 ^ x>>8
	return int(x) & mask
}

// scoreSeries are the score counts of one model version: per stripe, a
// histogram row per status, each cell a count and a sum. An observation
// is one atomic addition to one cell, whatever its status. A scrape sums
// the cells: the bucket counts, the histogram count and sum and the ok
// and error counts are consistent with each other in every scrape, and
// each only grows (the sum, for non-negative durations).
type scoreSeries struct {
	// cells hold stripes copies, stride cells apart, of the ok row then
	// the error row, each one cell per bound then +Inf; a cell is
	// count<<sumBits | sum of nanoseconds.
	cells   []atomic.Uint64
	width   int // cells in a row
	stride  int // 2*width rounded up to a cache line
	stripes int

	// mu guards the wide counters, which hold what was flushed from the
	// cells and the slow-path observations, and makes a scrape and a
	// flush exclude each other.
	mu        sync.Mutex
	wideCount []uint64 // the ok row then the error row
	wideSum   int64    // nanoseconds; wraps after 292 years of model time

	name    string
	version string
	created time.Time
}

func newScoreSeries(name, version string, buckets, stripes int) *scoreSeries {
	width := buckets + 1
	stride := (2*width + 7) &^ 7
	n := stripes * stride
	backing := make([]atomic.Uint64, cacheLinePad+n+cacheLinePad)
	return &scoreSeries{cells: backing[cacheLinePad : cacheLinePad+n : cacheLinePad+n], width: width, stride: stride,
		stripes: stripes, wideCount: make([]uint64, 2*width), name: name, version: version, created: time.Now()}
}

// add records a call of n nanoseconds, 0 <= n <= fastMax, in cell c:
// stripeOf(n) times stride, plus the bucket, plus width for an error.
func (s *scoreSeries) add(c int, n int64) {
	if s.cells[c].Add(countOne|uint64(n))&flushBits != 0 {
		s.flush(c)
	}
}

// addSlow records a call of n nanoseconds of any length in row cell i.
func (s *scoreSeries) addSlow(i int, n int64) {
	s.mu.Lock()
	s.wideCount[i]++
	s.wideSum += n
	s.mu.Unlock()
}

// flush moves cell c to the wide counters if it is still due.
func (s *scoreSeries) flush(c int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cells[c].Load()&flushBits == 0 {
		return // another adder flushed it
	}
	v := s.cells[c].Swap(0)
	s.wideCount[c%s.stride] += v >> sumBits
	s.wideSum += int64(v & sumMask)
}

// collect sends the histogram and the two scores_total samples.
func (s *scoreSeries) collect(ch chan<- prometheus.Metric, m *Metrics) {
	counts := make([]uint64, 2*s.width)
	s.mu.Lock()
	sum := s.wideSum
	copy(counts, s.wideCount)
	for st := range s.stripes {
		row := s.cells[st*s.stride : st*s.stride+2*s.width]
		for i := range row {
			v := row[i].Load()
			counts[i] += v >> sumBits
			sum += int64(v & sumMask)
		}
	}
	s.mu.Unlock()
	bounds := m.bounds.bounds
	cum := make(map[float64]uint64, len(bounds))
	var ok, failed uint64
	for i := 0; i < s.width; i++ {
		ok += counts[i]
		failed += counts[s.width+i]
		if i < len(bounds) {
			cum[bounds[i]] = ok + failed
		}
	}
	ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(m.durationDesc, ok+failed, float64(sum)/1e9, cum, s.created, s.name, s.version)
	ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(m.scoresDesc, prometheus.CounterValue, float64(ok), s.created, s.name, s.version, "ok")
	ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(m.scoresDesc, prometheus.CounterValue, float64(failed), s.created, s.name, s.version, "error")
}

// smallSet is how many series a seriesSet scans in order before it looks
// them up in a map: comparing a version and a name (usually the same
// string pointer) is several times cheaper than hashing the name.
const smallSet = 8

type seriesEntry struct {
	k refKey
	s *scoreSeries
}

// seriesSet is an immutable snapshot of the live series, replaced as a
// whole (copy on write) when a series is added or dropped.
type seriesSet struct {
	list  []seriesEntry
	byRef map[refKey]*scoreSeries // nil while len(list) <= smallSet
}

func newSeriesSet(list []seriesEntry) *seriesSet {
	ss := &seriesSet{list: list}
	if len(list) > smallSet {
		ss.byRef = make(map[refKey]*scoreSeries, len(list))
		for _, e := range list {
			ss.byRef[e.k] = e.s
		}
	}
	return ss
}

// get returns the series of a version, or nil.
func (ss *seriesSet) get(name string, version uint64) *scoreSeries {
	if ss.byRef != nil {
		return ss.byRef[refKey{name, version}]
	}
	for i := range ss.list {
		if e := &ss.list[i]; e.k.version == version && e.k.name == name {
			return e.s
		}
	}
	return nil
}

// with returns a copy of ss with s added under k, which it lacks.
func (ss *seriesSet) with(k refKey, s *scoreSeries) *seriesSet {
	list := make([]seriesEntry, 0, len(ss.list)+1)
	return newSeriesSet(append(append(list, ss.list...), seriesEntry{k, s}))
}

// without returns a copy of ss without k.
func (ss *seriesSet) without(k refKey) *seriesSet {
	list := make([]seriesEntry, 0, len(ss.list))
	for _, e := range ss.list {
		if e.k != k {
			list = append(list, e)
		}
	}
	return newSeriesSet(list)
}

package tensorflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// ustarBlock is a 512-byte ustar header; archive/tar's Writer will not
// write the PAX records of a sparse file, so the test writes them itself.
func ustarBlock(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", size))
	copy(h[136:], "00000000000\x00")
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

func pad512(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }

// sparseEntry is a PAX (GNU 1.0) sparse file of size logical bytes, all
// a hole: about 1.5 KB in the archive.
func sparseEntry(name string, size int64) []byte {
	var pax []byte
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", strconv.FormatInt(size, 10)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec)
		for n != len(rec)+len(strconv.Itoa(n)) {
			n = len(rec) + len(strconv.Itoa(n))
		}
		pax = append(pax, strconv.Itoa(n)+rec...)
	}
	b := append(ustarBlock("PaxHeaders/x", 'x', int64(len(pax))), pad512(pax)...)
	sparseMap := pad512([]byte("1\n" + strconv.FormatInt(size, 10) + "\n0\n")) // one empty data region at the end
	b = append(b, ustarBlock("sparse", '0', int64(len(sparseMap)))...)
	return append(b, sparseMap...)
}

// TestSavedModelSparseEntries: the holes of sparse tar entries count
// against MaxArchiveBytes like any other byte Load keeps. 32 shards of
// 1 MiB of holes each, in a 65 KB archive, exceed a 4 MiB bound; they
// were all read into memory, as the archive's size counted only the
// bytes the archive stores (with the default bound, 4096 such entries
// would ask for 1 TiB).
func TestSavedModelSparseEntries(t *testing.T) {
	f, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(4 << 20))
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := range 32 {
		b = append(b, sparseEntry(fmt.Sprintf("variables/variables.data-%05d-of-00032", i), 1<<20)...)
	}
	b = append(b, make([]byte, 1024)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = f.Load(context.Background(), serving.Descriptor{Bytes: b})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, serving.ErrTooLarge) || !bytes.Contains([]byte(fmt.Sprint(err)), []byte("MaxArchiveBytes")) {
		t.Errorf("%d-byte archive of 32 MiB of holes: %v", len(b), err)
	}
	// Reading every hole would keep 32 MiB. The race detector's shadow
	// allocations double the count (8.5 MiB without, 17 MiB under -race).
	bound := uint64(12 << 20)
	if raceEnabled {
		bound = 24 << 20
	}
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("Load allocated %d KiB (bound %d MiB)", got>>10, bound>>20)
	if got > bound {
		t.Errorf("%d-byte archive: Load allocated %d MiB, bound %d MiB", len(b), got>>20, bound>>20)
	}
}

// TestSavedModelLimitOnEntryBoundary: an archive over MaxArchiveBytes is
// refused when the bound falls just after an entry, where the cut looks
// like the end of the archive; it was read as an archive of the entries
// before the cut.
func TestSavedModelLimitOnEntryBoundary(t *testing.T) {
	pb, index, data := halfPlusTwo(t)
	b := archive(t, modelFiles(pb, index, data)...)
	first := int64(512 + (len(pb)+511)/512*512) // saved_model.pb, header and padded data
	f, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(first - 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Load(context.Background(), serving.Descriptor{Bytes: b})
	if !errors.Is(err, serving.ErrTooLarge) {
		t.Errorf("a %d-byte archive under MaxArchiveBytes(%d): %v", len(b), first-1, err)
	}
}

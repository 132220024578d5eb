package tensorflow_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// callsModel is a SavedModel whose serving_default output is an AddN
// (an op this package does not run) of its input and of one call of
// function fn per name in calls; lib is the graph's function library.
// Loading it inlines every call before the AddN is refused.
func callsModel(t testing.TB, fn string, calls []string, lib ...*tfpb.FunctionDef) []byte {
	gd := &tfpb.GraphDef{Library: &tfpb.FunctionDefLibrary{Function: lib}}
	gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "x", Op: "Placeholder", Attr: attrs{"dtype": aType(f32), "shape": aShape(-1, 1)}})
	sum := &tfpb.NodeDef{Name: "sum", Op: "AddN", Input: []string{"x"}, Attr: attrs{"T": aType(f32)}}
	for _, c := range calls {
		gd.Node = append(gd.Node, &tfpb.NodeDef{Name: c, Op: "StatefulPartitionedCall",
			Attr: attrs{"f": {Value: &tfpb.AttrValue_Func{Func: &tfpb.NameAttrList{Name: fn}}}}})
		sum.Input = append(sum.Input, c)
	}
	gd.Node = append(gd.Node, sum)
	sig := &tfpb.SignatureDef{
		Inputs:  map[string]*tfpb.TensorInfo{"x": {Name: "x:0", Dtype: f32}},
		Outputs: map[string]*tfpb.TensorInfo{"y": {Name: "sum:0", Dtype: f32}},
	}
	sm := &tfpb.SavedModel{MetaGraphs: []*tfpb.MetaGraphDef{{GraphDef: gd, SignatureDef: map[string]*tfpb.SignatureDef{"serving_default": sig}}}}
	return archive(t, entry{name: "saved_model.pb", data: marshal(t, sm)})
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestSavedModelInlinedConstantsAreShared: a function whose body holds a
// 1 MiB constant, called 64 times on the signature's path, inlines 64
// nodes that share that constant. Each inlined node was a deep copy of
// the body's (67 MiB allocated here), and a few thousand calls of a
// constant that a gzipped archive sends in a few kilobytes would
// exhaust memory before MaxElements is ever checked.
func TestSavedModelInlinedConstantsAreShared(t *testing.T) {
	big := &tfpb.FunctionDef{
		Signature: &tfpb.OpDef{Name: "big", OutputArg: []*tfpb.OpDef_ArgDef{{Name: "out", Type: f32}}},
		NodeDef: []*tfpb.NodeDef{{Name: "c", Op: "Const", Attr: attrs{"dtype": aType(f32), "value": {Value: &tfpb.AttrValue_Tensor{Tensor: &tfpb.TensorProto{
			Dtype: f32, TensorShape: shapeProto([]int64{1 << 18}), TensorContent: make([]byte, 4<<18)}}}}}},
		Ret: map[string]string{"out": "c:output:0"},
	}
	var calls []string
	for i := range 64 {
		calls = append(calls, "call"+string(rune('A'+i/26))+string(rune('a'+i%26)))
	}
	b := callsModel(t, "big", calls, big)
	// MaxElements refuses the first of the 64 constants when the graph
	// is compiled, which is after every call has been inlined.
	format, err := tensorflow.NewSavedModel(tensorflow.MaxElements(1 << 16))
	if err != nil {
		t.Fatal(err)
	}
	got := allocated(func() { _, err = format.Load(t.Context(), serving.Descriptor{Bytes: b}) })
	if !errors.Is(err, serving.ErrCorruptModel) || !errors.Is(err, serving.ErrTooLarge) {
		t.Fatalf("load: %v, want a corrupt model error wrapping ErrTooLarge", err)
	}
	if got > 16<<20 {
		t.Fatalf("inlining 64 calls of a 1 MiB constant allocated %d MiB", got>>20)
	}
}

// TestSavedModelInlinedNamesAreBounded: each inlined node is named after
// the call that inlines it, so names grow with the nesting of calls: a
// function whose one node, named with 64 KiB, calls the function again
// made 32 levels of names of up to 2 MiB, 33 MiB in all, from a
// saved_model.pb of 64 KiB (a few hundred bytes gzipped); two such nodes
// per level fill MaxNodes with names of megabytes each. The names and
// inputs of the inlined graph count against MaxArchiveBytes.
func TestSavedModelInlinedNamesAreBounded(t *testing.T) {
	long := strings.Repeat("n", 64<<10)
	rec := &tfpb.FunctionDef{
		Signature: &tfpb.OpDef{Name: "rec", OutputArg: []*tfpb.OpDef_ArgDef{{Name: "out", Type: f32}}},
		NodeDef: []*tfpb.NodeDef{{Name: long, Op: "StatefulPartitionedCall",
			Attr: attrs{"f": {Value: &tfpb.AttrValue_Func{Func: &tfpb.NameAttrList{Name: "rec"}}}}}},
		Ret: map[string]string{"out": long + ":output:0"},
	}
	format, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	b := gz(t, callsModel(t, "rec", []string{"call"}, rec))
	got := allocated(func() {
		_, err = format.Load(t.Context(), serving.Descriptor{Bytes: b})
	})
	// The error names a node of a long name: only its start is shown.
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	var fe *serving.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, serving.ErrCorruptModel) || !errors.Is(err, serving.ErrTooLarge) || !strings.Contains(err.Error(), "MaxArchiveBytes") {
		t.Fatalf("want a corrupt-model error wrapping ErrTooLarge that names MaxArchiveBytes, got %s", msg)
	}
	if got > 8<<20 {
		t.Fatalf("inlining a %d-byte archive allocated %d MiB", len(b), got>>20)
	}
}

// TestSavedModelVariableReadsAreBounded: a checkpoint value was checked
// (its CRC-32C) and turned into a constant once per variable node that
// reads it, and only compiling, afterwards, counted the constants
// against MaxElements: 8,192 variable nodes sharing one 64 MiB value
// made Load checksum 512 GiB (over a minute of a core; 65,536 nodes over
// a 256 MiB value, from an archive that gzips to a few hundred KB, most
// of an hour). Each value now counts against MaxElements as it is read,
// before its bytes are checked, so that the bound stops the reads. Here
// the one value over the bound also has a wrong CRC-32C: it must be
// refused for its size, without its bytes being read.
func TestSavedModelVariableReadsAreBounded(t *testing.T) {
	const elems = 1 << 17
	value := make([]byte, 4*elems)
	w := &tableWriter{}
	w.block(kv{"", marshal(t, &tfpb.BundleHeaderProto{NumShards: 1})})
	w.block(kv{"big", marshal(t, &tfpb.BundleEntryProto{Dtype: f32, Shape: shapeProto([]int64{elems}), Size: int64(len(value)), Crc32C: maskCRC(crc32.Checksum(value, castagnoliTable) + 1)})})
	gd := &tfpb.GraphDef{}
	gd.Node = append(gd.Node,
		&tfpb.NodeDef{Name: "x", Op: "Placeholder", Attr: attrs{"dtype": aType(f32), "shape": aShape(-1, 1)}},
		&tfpb.NodeDef{Name: "v", Op: "VariableV2", Attr: attrs{"dtype": aType(f32), "shape": aShape(elems), "shared_name": aStr("big")}},
		&tfpb.NodeDef{Name: "sum", Op: "AddN", Input: []string{"x", "v"}, Attr: attrs{"T": aType(f32)}})
	sig := &tfpb.SignatureDef{
		Inputs:  map[string]*tfpb.TensorInfo{"x": {Name: "x:0", Dtype: f32}},
		Outputs: map[string]*tfpb.TensorInfo{"y": {Name: "sum:0", Dtype: f32}},
	}
	pb := marshal(t, &tfpb.SavedModel{MetaGraphs: []*tfpb.MetaGraphDef{{GraphDef: gd, SignatureDef: map[string]*tfpb.SignatureDef{"serving_default": sig}}}})
	b := bundleArchive(t, pb, w.finish(), map[string][]byte{"variables.data-00000-of-00001": value})
	format, err := tensorflow.NewSavedModel(tensorflow.MaxElements(1 << 16))
	if err != nil {
		t.Fatal(err)
	}
	_, err = format.Load(t.Context(), serving.Descriptor{Bytes: b})
	if !errors.Is(err, serving.ErrTooLarge) || strings.Contains(err.Error(), "CRC") {
		t.Fatalf("load: %v, want ErrTooLarge before the value's CRC-32C is checked", err)
	}
}

// identityCalls is a SavedModel whose graph chains n calls of an
// identity function on its input x and has n Identity nodes read the
// end of the chain; with cycle, a call also reads its own output, and n
// more nodes read it. The signature's output is the chain's end.
func identityCalls(t testing.TB, n int, cycle bool) []byte {
	id := &tfpb.FunctionDef{
		Signature: &tfpb.OpDef{Name: "id", InputArg: []*tfpb.OpDef_ArgDef{{Name: "a", Type: f32}}, OutputArg: []*tfpb.OpDef_ArgDef{{Name: "out", Type: f32}}},
		Ret:       map[string]string{"out": "a"},
	}
	call := func(name, in string) *tfpb.NodeDef {
		return &tfpb.NodeDef{Name: name, Op: "StatefulPartitionedCall", Input: []string{in},
			Attr: attrs{"f": {Value: &tfpb.AttrValue_Func{Func: &tfpb.NameAttrList{Name: "id"}}}}}
	}
	gd := &tfpb.GraphDef{Library: &tfpb.FunctionDefLibrary{Function: []*tfpb.FunctionDef{id}}}
	gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "x", Op: "Placeholder", Attr: attrs{"dtype": aType(f32), "shape": aShape(-1, 1)}})
	prev := "x"
	for i := range n {
		gd.Node = append(gd.Node, call("c"+strconv.Itoa(i), prev))
		prev = "c" + strconv.Itoa(i)
	}
	for i := range n {
		gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "r" + strconv.Itoa(i), Op: "Identity", Input: []string{prev}})
	}
	out := prev
	if cycle {
		gd.Node = append(gd.Node, call("loop", "loop"))
		for i := range n {
			gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "l" + strconv.Itoa(i), Op: "Identity", Input: []string{"loop"}})
		}
		out = "loop"
	}
	gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "y", Op: "Relu", Input: []string{out}, Attr: attrs{"T": aType(f32)}})
	sig := &tfpb.SignatureDef{
		Inputs:  map[string]*tfpb.TensorInfo{"x": {Name: "x:0", Dtype: f32}},
		Outputs: map[string]*tfpb.TensorInfo{"y": {Name: "y:0", Dtype: f32}},
	}
	sm := &tfpb.SavedModel{MetaGraphs: []*tfpb.MetaGraphDef{{GraphDef: gd, SignatureDef: map[string]*tfpb.SignatureDef{"serving_default": sig}}}}
	return archive(t, entry{name: "saved_model.pb", data: marshal(t, sm)})
}

// TestSavedModelCallChainsResolveOnce: each read of a call's output
// followed the chain of calls it returns, so a chain of n calls read by
// n nodes took n² steps: 3 s for n = 4,000, 53 s for n = 16,000, a few
// minutes at MaxNodes, stalling the feed. A chain is now walked once.
// The deadline guards against that stall; the load takes a fraction of
// a second. A cycle of calls is refused as a graph reading a tensor no
// node computes.
func TestSavedModelCallChainsResolveOnce(t *testing.T) {
	const n = 16_000
	guard := 10 * time.Second
	if raceEnabled {
		guard = 60 * time.Second // the fixed load takes about 5 s under -race, the quadratic one many minutes
	}
	for _, cycle := range []bool{false, true} {
		b := identityCalls(t, n, cycle)
		type loaded struct {
			m   serving.Model
			err error
		}
		done := make(chan loaded, 1)
		go func() {
			m, err := loadSavedModel(t, b, nil)
			done <- loaded{m, err}
		}()
		select {
		case l := <-done:
			if cycle {
				wantLoadError(t, l.err, serving.ErrCorruptModel, "cycle of function calls")
				continue
			}
			if l.err != nil {
				t.Fatal(l.err)
			}
			if p, err := l.m.Predict(t.Context(), []float64{-3}); err != nil || p.Value != 0 {
				t.Fatalf("relu(id^%d(-3)) = %v, %v; want 0", n, p.Value, err)
			}
		case <-time.After(guard):
			t.Fatalf("loading a chain of %d calls read by %d nodes (cycle %v) takes over %v", n, n, cycle, guard)
		}
	}
}

// TestSavedModelOutputIsAnInput: a signature whose output is the tensor
// one of its inputs feeds (through an inlined identity function here)
// serves the input back. The output was resolved after the readers of
// the inputs had been redirected to the feeds, so it still read the
// graph's own placeholder, and Load refused it as unfed.
func TestSavedModelOutputIsAnInput(t *testing.T) {
	b := identityCalls(t, 3, false)
	var sm tfpb.SavedModel
	// Serve c2, the end of the chain, rather than Relu(c2).
	pb := func() []byte {
		ar := readTar(t, b)
		if err := proto.Unmarshal(ar["saved_model.pb"], &sm); err != nil {
			t.Fatal(err)
		}
		sm.GetMetaGraphs()[0].GetSignatureDef()["serving_default"].GetOutputs()["y"].Name = "c2:0"
		return marshal(t, &sm)
	}()
	m, err := loadSavedModel(t, archive(t, entry{name: "saved_model.pb", data: pb}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := m.Predict(t.Context(), []float64{-3}); err != nil || p.Value != -3 {
		t.Fatalf("id(id(id(-3))) = %v, %v", p.Value, err)
	}
}

// readTar returns the regular files of a tar archive by name.
func readTar(t testing.TB, b []byte) map[string][]byte {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
}

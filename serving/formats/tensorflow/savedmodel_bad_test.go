package tensorflow_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// entry is one tar entry of a hand-made archive.
type entry struct {
	name string
	typ  byte // tar.TypeReg when zero
	link string
	data []byte
	size int64 // the header's size when data is nil
}

func archive(t testing.TB, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.data))}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.data == nil && e.size > 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.data == nil && e.size > 0 {
			chunk := make([]byte, 1<<16)
			for left := e.size; left > 0; left -= int64(len(chunk)) {
				if _, err := tw.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// halfPlusTwo returns the three files of the TF1 half_plus_two model.
func halfPlusTwo(t testing.TB) (pb, index, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "savedmodel", "half_plus_two_cpu", "00000123")
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read("saved_model.pb"), read("variables/variables.index"), read("variables/variables.data-00000-of-00001")
}

func modelFiles(pb, index, data []byte) []entry {
	return []entry{
		{name: "saved_model.pb", data: pb},
		{name: "variables/", typ: tar.TypeDir},
		{name: "variables/variables.index", data: index},
		{name: "variables/variables.data-00000-of-00001", data: data},
	}
}

// editGraph decodes saved_model.pb, applies edit to its MetaGraphDef and
// encodes it again.
func editGraph(t testing.TB, pb []byte, edit func(mg *tfpb.MetaGraphDef)) []byte {
	t.Helper()
	var sm tfpb.SavedModel
	if err := proto.Unmarshal(pb, &sm); err != nil {
		t.Fatal(err)
	}
	edit(sm.GetMetaGraphs()[0])
	b, err := proto.Marshal(&sm)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func node(mg *tfpb.MetaGraphDef, name string) *tfpb.NodeDef {
	for _, n := range mg.GetGraphDef().GetNode() {
		if n.GetName() == name {
			return n
		}
	}
	panic("no node " + name)
}

// TestSavedModelHostileArchives checks that every kind of hostile or
// damaged archive is refused with a typed error naming the problem.
func TestSavedModelHostileArchives(t *testing.T) {
	pb, index, data := halfPlusTwo(t)
	good := modelFiles(pb, index, data)
	with := func(es ...entry) []byte { return archive(t, append(append([]entry(nil), good...), es...)...) }
	small, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		b      []byte
		format serving.Format
		kind   error
		words  []string
	}{
		{name: "not a tar", b: []byte("hello, world"), kind: serving.ErrCorruptModel},
		{name: "empty", b: nil, kind: serving.ErrCorruptModel},
		{name: "bad gzip", b: []byte{0x1f, 0x8b, 1, 2, 3}, kind: serving.ErrCorruptModel, words: []string{"gzip"}},
		{name: "no saved_model.pb", b: archive(t, good[1:]...), kind: serving.ErrCorruptModel, words: []string{"no saved_model.pb"}},
		{name: "parent dir", b: with(entry{name: "../etc/passwd", data: []byte("x")}), kind: serving.ErrCorruptModel, words: []string{".."}},
		{name: "parent in the middle", b: with(entry{name: "variables/../../x", data: []byte("x")}), kind: serving.ErrCorruptModel, words: []string{".."}},
		{name: "absolute", b: with(entry{name: "/etc/passwd", data: []byte("x")}), kind: serving.ErrCorruptModel, words: []string{"not a relative path"}},
		{name: "symlink", b: with(entry{name: "assets/link", typ: tar.TypeSymlink, link: "/etc/passwd"}), kind: serving.ErrCorruptModel, words: []string{"link", "/etc/passwd"}},
		{name: "symlinked index", b: archive(t, good[0], good[1], entry{name: "variables/variables.index", typ: tar.TypeSymlink, link: "../../x"}), kind: serving.ErrCorruptModel, words: []string{"link"}},
		{name: "hardlink", b: with(entry{name: "hard", typ: tar.TypeLink, link: "saved_model.pb"}), kind: serving.ErrCorruptModel, words: []string{"link"}},
		{name: "device", b: with(entry{name: "dev", typ: tar.TypeChar}), kind: serving.ErrCorruptModel, words: []string{"tar type"}},
		{name: "duplicate", b: with(entry{name: "variables/variables.index", data: index}), kind: serving.ErrCorruptModel, words: []string{"twice"}},
		{name: "duplicate after cleaning", b: with(entry{name: "./saved_model.pb", data: pb}), kind: serving.ErrCorruptModel, words: []string{"twice"}},
		{name: "two models", b: with(entry{name: "2/saved_model.pb", data: pb}), kind: serving.ErrCorruptModel, words: []string{"2 saved_model.pb"}},
		{name: "bomb in a kept entry", b: gz(t, archive(t, entry{name: "saved_model.pb", size: 2 << 20})), format: small, kind: serving.ErrTooLarge, words: []string{"MaxArchiveBytes"}},
		{name: "bomb in a skipped entry", b: gz(t, with(entry{name: "assets/big", size: 2 << 20})), format: small, kind: serving.ErrTooLarge, words: []string{"MaxArchiveBytes"}},
		{name: "many entries", b: archive(t, manyEntries(1<<12+1)...), kind: serving.ErrCorruptModel, words: []string{"entries"}},
		{name: "not a SavedModel", b: archive(t, entry{name: "saved_model.pb", data: []byte{0xff, 0xff, 0xff}}), kind: serving.ErrCorruptModel, words: []string{"not a SavedModel"}},
		{name: "no variables", b: archive(t, good[0]), kind: serving.ErrCorruptModel, words: []string{"no variables/variables.index"}},
		{name: "no data shard", b: archive(t, good[:3]...), kind: serving.ErrCorruptModel, words: []string{"variables.data-00000-of-00001", "lacks"}},
	}
	_, err = mustFormat(t, "").Load(context.Background(), serving.Descriptor{Bytes: archive(t, entry{name: "1/saved_model.pbtxt", data: []byte("meta_graphs {}")})})
	if !errors.Is(err, serving.ErrUnsupportedModel) || !strings.Contains(err.Error(), "text format") {
		t.Errorf("saved_model.pbtxt: %v", err)
	}
	for _, c := range cases {
		f := c.format
		if f == nil {
			f = mustFormat(t, tensorflow.SavedModelFormatName)
		}
		_, err := f.Load(context.Background(), serving.Descriptor{Bytes: c.b})
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !errors.Is(err, c.kind) || !errors.Is(err, serving.ErrCorruptModel) {
			t.Errorf("%s: error does not wrap %v and ErrCorruptModel: %v", c.name, c.kind, err)
		}
		var fe *serving.FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: no *serving.FormatError: %v", c.name, err)
		}
		for _, w := range c.words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error does not mention %q: %v", c.name, w, err)
			}
		}
	}
}

func manyEntries(n int) []entry {
	es := make([]entry, n)
	for i := range es {
		es[i] = entry{name: "assets/" + strings.Repeat("x", 1+i%50) + "/" + string(rune('a'+i%26)) + "/" + itoa(i)}
	}
	return es
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

func mustFormat(t testing.TB, name string) serving.Format {
	t.Helper()
	f, err := tensorflow.NewSavedModel()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSavedModelCorruptCheckpoint damages the checkpoint of half_plus_two
// in every way its reader checks: each is refused as corrupt.
func TestSavedModelCorruptCheckpoint(t *testing.T) {
	pb, index, data := halfPlusTwo(t)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		return c
	}
	// The index's data block starts at 0; the footer's last 8 bytes are
	// the magic number.
	cases := []struct {
		name        string
		index, data []byte
		words       []string
	}{
		{"short index", index[:20], data, []string{"shorter than a table footer"}},
		{"bad magic", flip(index, len(index)-1), data, []string{"magic"}},
		{"block byte flipped", flip(index, 10), data, []string{"CRC-32C"}},
		{"block handle out of range", withIndexHandle(index, 1<<40, 10), data, []string{"outside"}},
		{"huge block", withIndexHandle(index, 0, 1<<62), data, []string{"outside"}},
		{"data flipped", index, flip(data, 0), []string{"CRC-32C mismatch"}},
		{"data truncated", index, data[:8], []string{"outside"}},
		{"data empty", index, []byte{}, []string{"outside"}},
	}
	for _, c := range cases {
		_, err := loadSavedModel(t, archive(t, modelFiles(pb, c.index, c.data)...), nil)
		wantLoadError(t, err, serving.ErrCorruptModel, c.words...)
	}
}

// withIndexHandle rewrites the footer of a table so that its index block
// handle reads (off, size).
func withIndexHandle(index []byte, off, size uint64) []byte {
	c := bytes.Clone(index)
	foot := c[len(c)-48:]
	_, n1 := binary.Uvarint(foot)
	_, n2 := binary.Uvarint(foot[n1:])
	h := binary.AppendUvarint(nil, off)
	h = binary.AppendUvarint(h, size)
	copy(foot[n1+n2:40], make([]byte, 40-n1-n2))
	copy(foot[n1+n2:40], h)
	return c
}

// TestSavedModelGraphErrors edits the graph of half_plus_two: an
// unsupported op on the signature's path is refused naming it (while
// the save and restore ops off the path never are), a variable the
// checkpoint lacks is refused as corrupt, and a variable whose type
// differs from its checkpoint value too.
func TestSavedModelGraphErrors(t *testing.T) {
	pb, index, data := halfPlusTwo(t)
	load := func(edit func(mg *tfpb.MetaGraphDef)) error {
		_, err := loadSavedModel(t, archive(t, modelFiles(editGraph(t, pb, edit), index, data)...), nil)
		return err
	}
	err := load(func(mg *tfpb.MetaGraphDef) { node(mg, "Mul").Op = "Atan2" })
	wantLoadError(t, err, serving.ErrUnsupportedModel, "Atan2", `"Mul"`)

	err = load(func(mg *tfpb.MetaGraphDef) {
		names := node(mg, "save/RestoreV2/tensor_names").GetAttr()["value"].GetTensor()
		for i, s := range names.StringVal {
			if string(s) == "a" {
				names.StringVal[i] = []byte("missing")
			}
		}
	})
	wantLoadError(t, err, serving.ErrCorruptModel, `no variable "missing"`, `"a"`)

	err = load(func(mg *tfpb.MetaGraphDef) {
		node(mg, "a").GetAttr()["dtype"] = &tfpb.AttrValue{Value: &tfpb.AttrValue_Type{Type: tfpb.DataType_DT_DOUBLE}}
	})
	wantLoadError(t, err, serving.ErrCorruptModel, "DT_DOUBLE", "DT_FLOAT")

	err = load(func(mg *tfpb.MetaGraphDef) {
		mg.GetSignatureDef()["serving_default"].GetInputs()["x"].Name = "nowhere:0"
	})
	wantLoadError(t, err, serving.ErrCorruptModel, `"nowhere:0"`)

	// A signature output read from a placeholder the signature does not
	// feed: TensorFlow would ask for a feed.
	err = load(func(mg *tfpb.MetaGraphDef) {
		mg.GetSignatureDef()["serving_default"].GetOutputs()["y"].Name = "Mul_2:0"
	})
	wantLoadError(t, err, serving.ErrUnsupportedModel)
}

// TestSavedModelRecursiveFunction gives the TF2 model a function that
// calls itself: inlining stops at a fixed depth with a corrupt-model
// error instead of looping.
func TestSavedModelRecursiveFunction(t *testing.T) {
	dir := filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu", "00000123")
	pb, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	pb = editGraph(t, pb, func(mg *tfpb.MetaGraphDef) {
		for _, fn := range mg.GetGraphDef().GetLibrary().GetFunction() {
			if !strings.HasPrefix(fn.GetSignature().GetName(), "__inference_predict_") {
				continue
			}
			for _, n := range fn.GetNodeDef() {
				if n.GetName() == "Mul" {
					n.Op = "StatefulPartitionedCall"
					n.Input = []string{"x", "mul_readvariableop_resource", "add_readvariableop_resource"}
					n.Attr = map[string]*tfpb.AttrValue{"f": {Value: &tfpb.AttrValue_Func{Func: &tfpb.NameAttrList{Name: fn.GetSignature().GetName()}}}}
				}
				// A call's outputs are its list "output".
				for i, in := range n.GetInput() {
					if in == "Mul:z:0" {
						n.Input[i] = "Mul:output:0"
					}
				}
			}
		}
	})
	index, _ := os.ReadFile(filepath.Join(dir, "variables", "variables.index"))
	data, _ := os.ReadFile(filepath.Join(dir, "variables", "variables.data-00000-of-00001"))
	_, err = loadSavedModel(t, archive(t, modelFiles(pb, index, data)...), nil)
	wantLoadError(t, err, serving.ErrCorruptModel, "deeper than")
}

// TestSavedModelListOutput: a function on the signature's path that
// returns a list (number_attr or type_list_attr on an output) is refused
// naming it, since its later outputs would be read at the wrong ports;
// one that nothing on the path calls is not inlined, and loads.
func TestSavedModelListOutput(t *testing.T) {
	dir := filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu", "00000123")
	pb, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := os.ReadFile(filepath.Join(dir, "variables", "variables.index"))
	data, _ := os.ReadFile(filepath.Join(dir, "variables", "variables.data-00000-of-00001"))
	load := func(edit func(mg *tfpb.MetaGraphDef)) error {
		_, err := loadSavedModel(t, archive(t, modelFiles(editGraph(t, pb, edit), index, data)...), nil)
		return err
	}
	for _, list := range []func(a *tfpb.OpDef_ArgDef){
		func(a *tfpb.OpDef_ArgDef) { a.NumberAttr = "N" },
		func(a *tfpb.OpDef_ArgDef) { a.TypeListAttr = "T"; a.Type = tfpb.DataType_DT_INVALID },
	} {
		var fname string
		err := load(func(mg *tfpb.MetaGraphDef) {
			for _, fn := range mg.GetGraphDef().GetLibrary().GetFunction() {
				if strings.HasPrefix(fn.GetSignature().GetName(), "__inference_predict_") {
					fname = fn.GetSignature().GetName()
					list(fn.GetSignature().GetOutputArg()[0])
				}
			}
		})
		if fname == "" {
			t.Fatal("the fixture has no __inference_predict_ function")
		}
		wantLoadError(t, err, serving.ErrUnsupportedModel, fname, "returns a list")
	}

	err = load(func(mg *tfpb.MetaGraphDef) {
		gd := mg.GetGraphDef()
		gd.Library.Function = append(gd.Library.Function, &tfpb.FunctionDef{
			Signature: &tfpb.OpDef{Name: "unused_list", OutputArg: []*tfpb.OpDef_ArgDef{{Name: "out", NumberAttr: "N", Type: tfpb.DataType_DT_FLOAT}}},
		})
		gd.Node = append(gd.Node, &tfpb.NodeDef{Name: "unused_call", Op: "StatefulPartitionedCall",
			Attr: map[string]*tfpb.AttrValue{"f": {Value: &tfpb.AttrValue_Func{Func: &tfpb.NameAttrList{Name: "unused_list"}}}}})
	})
	if err != nil {
		t.Errorf("a list-returning function off the signature's path: %v", err)
	}
}

// TestSavedModelBadVersionKeepsServing activates half_plus_two, then
// offers a damaged archive and one with an unsupported op: both are
// refused and version 1 keeps answering.
func TestSavedModelBadVersionKeepsServing(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pb, index, data := halfPlusTwo(t)
	good := archive(t, modelFiles(pb, index, data)...)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Version: 1, Format: tensorflow.SavedModelFormatName, Bytes: good}); err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{
		good[:len(good)/2],
		archive(t, modelFiles(editGraph(t, pb, func(mg *tfpb.MetaGraphDef) { node(mg, "Add").Op = "Erf" }), index, data)...),
	}
	for v, b := range bad {
		_, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Version: uint64(v + 2), Format: tensorflow.SavedModelFormatName, Bytes: b})
		if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Fatalf("version %d: %v", v+2, err)
		}
	}
	res, err := srv.Model("m").Score(ctx, serving.Record{Features: []float64{4}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Provenance.Model.Version != 1 || res.Prediction.Value != 4 {
		t.Fatalf("scored %v by version %d", res.Prediction.Value, res.Provenance.Model.Version)
	}
}

// TestSavedModelOutputArgPorts: a function body names an output of a
// node as "node:arg:k", element k of the op's output argument arg. The
// node's port is the position of that element among all the op's
// outputs, which is k only for the first argument: "tk:indices:0" of
// TopKV2 (outputs values, indices) is port 1, and "u:b:0" of an op whose
// first output is a list of 3 is port 3. Both were read at port 0, and
// an argument the op does not have was read at port k without a word.
func TestSavedModelOutputArgPorts(t *testing.T) {
	pb, err := os.ReadFile(filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu", "00000123", "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := os.ReadFile(filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu", "00000123", "variables", "variables.index"))
	data, _ := os.ReadFile(filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu", "00000123", "variables", "variables.data-00000-of-00001"))
	edited := func(reads ...string) []byte {
		return editGraph(t, pb, func(mg *tfpb.MetaGraphDef) {
			ops := mg.GetMetaInfoDef().GetStrippedOpList()
			ops.Op = append(ops.Op,
				&tfpb.OpDef{Name: "TopKV2", OutputArg: []*tfpb.OpDef_ArgDef{{Name: "values", TypeAttr: "T"}, {Name: "indices", Type: tfpb.DataType_DT_INT32}}},
				&tfpb.OpDef{Name: "ListThenOne", OutputArg: []*tfpb.OpDef_ArgDef{{Name: "a", NumberAttr: "N", TypeAttr: "T"}, {Name: "b", TypeAttr: "T"}}})
			for _, fn := range mg.GetGraphDef().GetLibrary().GetFunction() {
				if !strings.HasPrefix(fn.GetSignature().GetName(), "__inference_predict_") {
					continue
				}
				fn.NodeDef = append(fn.NodeDef,
					&tfpb.NodeDef{Name: "tk", Op: "TopKV2", Input: []string{"x", "x"}},
					&tfpb.NodeDef{Name: "u", Op: "ListThenOne", Input: []string{"x"}, Attr: map[string]*tfpb.AttrValue{"N": {Value: &tfpb.AttrValue_I{I: 3}}}})
				for i, r := range reads {
					fn.NodeDef = append(fn.NodeDef, &tfpb.NodeDef{Name: fmt.Sprintf("reader%d", i), Op: "Identity", Input: []string{r}})
				}
			}
		})
	}
	if _, err := loadSavedModel(t, archive(t, modelFiles(edited("Mul:z:0"), index, data)...), nil); err != nil {
		t.Fatalf("a body reading Mul:z:0 off the output's path: %v", err)
	}
	flat, err := tensorflow.FlatInputs(edited("tk:values:0", "tk:indices:0", "u:a:2", "u:b:0", "Mul:z:0"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tk:0", "tk:1", "u:2", "u:3", "Mul:0"}
	found := 0
	for name, in := range flat {
		for i, w := range want {
			if strings.HasSuffix(name, fmt.Sprintf("/reader%d", i)) {
				found++
				call := strings.TrimSuffix(name, fmt.Sprintf("reader%d", i))
				if len(in) != 1 || in[0] != call+w {
					t.Errorf("%s reads %v, want %s", name, in, call+w)
				}
			}
		}
	}
	if found < len(want) {
		t.Fatalf("found %d readers of %d; the fixture's predict function is not inlined", found, len(want))
	}
	for _, bad := range []string{"Mul:product:0", "tk:indices:1", "u:a:3", "nowhere:output:0"} {
		_, err := loadSavedModel(t, archive(t, modelFiles(edited(bad), index, data)...), nil)
		if err == nil || !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("a body reading %q: %v, want a corrupt model error naming it", bad, err)
		}
	}
}

// TestSavedModelManyInputs: a signature with many inputs loads in time
// linear in the graph. Each input used to redirect its readers in a pass
// of its own over the whole graph: 8,000 inputs (a 676 KB saved_model.pb)
// took 15 s to load, 20,000 about 100 s, holding up the feed. The
// deadline is a guard against that, not a timing assertion: the load
// takes about a second.
func TestSavedModelManyInputs(t *testing.T) {
	const n = 20_000
	gd := &tfpb.GraphDef{}
	sig := &tfpb.SignatureDef{Inputs: map[string]*tfpb.TensorInfo{}, Outputs: map[string]*tfpb.TensorInfo{}}
	var ins []string
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		gd.Node = append(gd.Node, &tfpb.NodeDef{Name: name, Op: "Placeholder", Attr: map[string]*tfpb.AttrValue{"dtype": aType(tfpb.DataType_DT_FLOAT), "shape": aShape(1, 1)}})
		sig.Inputs[name] = &tfpb.TensorInfo{Name: name + ":0", Dtype: tfpb.DataType_DT_FLOAT}
		ins = append(ins, name)
	}
	gd.Node = append(gd.Node,
		&tfpb.NodeDef{Name: "axis", Op: "Const", Attr: map[string]*tfpb.AttrValue{"dtype": aType(tfpb.DataType_DT_INT32), "value": {Value: &tfpb.AttrValue_Tensor{Tensor: &tfpb.TensorProto{Dtype: tfpb.DataType_DT_INT32, IntVal: []int32{1}}}}}},
		&tfpb.NodeDef{Name: "cat", Op: "ConcatV2", Input: append(ins, "axis"), Attr: map[string]*tfpb.AttrValue{"T": aType(tfpb.DataType_DT_FLOAT), "N": aInt(n)}})
	sig.Outputs["y"] = &tfpb.TensorInfo{Name: "cat:0", Dtype: tfpb.DataType_DT_FLOAT}
	pb, err := proto.Marshal(&tfpb.SavedModel{MetaGraphs: []*tfpb.MetaGraphDef{{GraphDef: gd, SignatureDef: map[string]*tfpb.SignatureDef{"serving_default": sig}}}})
	if err != nil {
		t.Fatal(err)
	}
	b := archive(t, entry{name: "saved_model.pb", data: pb})
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
		if l.err != nil {
			t.Fatal(l.err)
		}
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i)
		}
		// The inputs are fed in key order: p0, p1, p10, p100, ...
		keys := slices.Sorted(maps.Keys(sig.Inputs))
		p, err := l.m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range []int{0, 1, 2, n - 1} {
			var k int
			fmt.Sscanf(keys[j], "p%d", &k)
			if p.Values[k] != float64(j) {
				t.Errorf("output %d (input %s) = %v, want feature %d", k, keys[j], p.Values[k], j)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("loading a signature of %d inputs (%d bytes) takes over a minute", n, len(pb))
	}
}

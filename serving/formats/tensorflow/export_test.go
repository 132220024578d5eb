package tensorflow

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// Batched reports whether PredictBatch runs several rows through m's
// graph at once.
func Batched(m *model) bool { return m.batch != nil }

// CheckpointKeys lists the keys of a TensorBundle index.
func CheckpointKeys(index []byte) ([]string, error) {
	bi, err := readBundleIndex(index, 1<<16, 1<<26)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range bi.entries {
		keys = append(keys, k)
	}
	return keys, nil
}

// CheckpointFloats reads the float32 tensor saved under key in a
// single-shard TensorBundle, with its shape.
func CheckpointFloats(index, data []byte, key string) ([]float32, []int, error) {
	bi, err := readBundleIndex(index, 1<<16, 1<<26)
	if err != nil {
		return nil, nil, err
	}
	tp, err := bi.tensorProto(key, map[string][]byte{shardName(0, 1): data}, nil)
	if err != nil {
		return nil, nil, err
	}
	t, err := decodeTensor(tp, 1<<20)
	if err != nil {
		return nil, nil, err
	}
	if t.dt != dtFloat32 {
		return nil, nil, fmt.Errorf("%s is %s", key, t.dt)
	}
	return t.f32, t.shape, nil
}

// FlatInputs inlines every function call of the serve MetaGraphDef of a
// saved_model.pb, as Load does, and returns each node's inputs by name.
func FlatInputs(pb []byte) (map[string][]string, error) {
	var sm tfpb.SavedModel
	if err := proto.Unmarshal(pb, &sm); err != nil {
		return nil, err
	}
	mg, err := serveGraph(sm.GetMetaGraphs())
	if err != nil {
		return nil, err
	}
	fl, err := flatten(mg.GetGraphDef(), mg.GetMetaInfoDef().GetStrippedOpList().GetOp(), nil, 1<<16, 1<<30)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, n := range fl.nodes {
		out[n.GetName()] = n.GetInput()
	}
	return out, nil
}

// Model is the type of a loaded model, for the tests to reach its
// internals; users hold a serving.Model.
type Model = model

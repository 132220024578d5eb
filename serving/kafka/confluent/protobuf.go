package confluent

import (
	"context"
	"math"
	"strconv"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/modelstream/modelstream/serving"
)

// protoPlan decodes the messages of one registered .proto schema. The
// message indexes of each record choose the message type; each type has
// its own plan, compiled when first met.
type protoPlan struct {
	file protoreflect.FileDescriptor
	mu   sync.Mutex
	msgs map[string]*protoMessage
}

// protoMessage is the plan of one message type, or why it has none.
type protoMessage struct {
	desc   protoreflect.MessageDescriptor
	leaves []protoLeaf
	layout *serving.Layout
	err    error // the type is refused (ErrUnsupported): it is not compiled again
}

// protoLeaf is one feature: the field path from the message to a scalar.
// presence is the scalar's HasPresence, which protocompile's descriptors
// work out anew (from the file's edition features) at each call.
type protoLeaf struct {
	path     []protoreflect.FieldDescriptor
	index    int
	presence bool
}

// maxIndexes bounds the message indexes read from a frame.
const maxIndexes = maxDepth

// compileProtobuf compiles the .proto text of a registered schema with
// protocompile (the well-known imports resolve; other imports are
// references, which New's caller refuses before this).
func compileProtobuf(text string) (plan, error) {
	const name = "registered.proto"
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{name: text}),
		}),
		MaxParallelism: 1,
	}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, unsupported("protobuf schema: %v", err)
	}
	fd := files.FindFileByPath(name)
	if fd == nil || fd.Messages().Len() == 0 {
		return nil, unsupported("protobuf schema declares no message")
	}
	return &protoPlan{file: fd, msgs: make(map[string]*protoMessage)}, nil
}

func (p *protoPlan) decode(b []byte) (serving.Record, error) {
	var h sr.ConfluentHeader
	idx, rest, err := h.DecodeIndex(b, maxIndexes)
	if err != nil {
		return serving.Record{}, frameErr("protobuf message indexes: %v", err)
	}
	m, err := p.message(idx)
	if err != nil {
		return serving.Record{}, err
	}
	msg := dynamicpb.NewMessage(m.desc)
	if err := proto.Unmarshal(rest, msg); err != nil {
		return serving.Record{}, incompatible("protobuf %s: %v", m.desc.FullName(), err)
	}
	r := newRecord(m.layout)
	for _, l := range m.leaves {
		if err := protoSet(&r, l, msg); err != nil {
			return serving.Record{}, err
		}
	}
	return r, nil
}

// message returns the plan of the message type that idx names: idx[0]
// indexes the file's messages, each next index the nested messages of
// the last. No indexes means the first message.
func (p *protoPlan) message(idx []int) (*protoMessage, error) {
	if len(idx) == 0 {
		idx = []int{0}
	}
	var buf [32]byte
	key := buf[:0]
	for _, i := range idx {
		key = append(strconv.AppendInt(key, int64(i), 10), ' ')
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := p.msgs[string(key)]; m != nil {
		if m.err != nil {
			return nil, m.err
		}
		return m, nil
	}
	msgs := p.file.Messages()
	var d protoreflect.MessageDescriptor
	for _, i := range idx {
		if i < 0 || i >= msgs.Len() {
			return nil, incompatible("protobuf message index %v: no such message", idx)
		}
		d = msgs.Get(i)
		msgs = d.Messages()
	}
	m := &protoMessage{desc: d}
	var f fields
	err := protoLeaves(d, nil, "", 0, &f, m)
	if err == nil {
		m.layout, err = f.layout()
	}
	if err != nil {
		// Remembered, as a compiled type is: the refusal of a type that
		// flattens past maxNodes costs the whole walk, which each of its
		// records would otherwise pay again. (An index naming no message
		// is refused above without a walk, and not kept: records may name
		// any number of those.)
		m = &protoMessage{err: err}
	}
	if len(p.msgs) >= 64 {
		clear(p.msgs)
	}
	p.msgs[string(key)] = m
	if err != nil {
		return nil, err
	}
	return m, nil
}

// protoLeaves lists the scalar fields of d by dotted path: numbers and
// booleans, strings and enums (as text), and the value of a well-known
// wrapper (google.protobuf.DoubleValue...) at the wrapper field's path. Repeated fields, maps and bytes
// are left out, and so are messages nested deeper than maxDepth, which
// is how recursive messages end. A message that flattens to more than
// maxNodes fields is ErrUnsupported.
func protoLeaves(d protoreflect.MessageDescriptor, parents []protoreflect.FieldDescriptor, prefix string, depth int, f *fields, m *protoMessage) error {
	fs := d.Fields()
	for i := range fs.Len() {
		fd := fs.Get(i)
		if fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.BytesKind {
			continue
		}
		if err := f.visit(); err != nil {
			return err
		}
		path := join(prefix, string(fd.Name()))
		chain := append(parents[:len(parents):len(parents)], fd)
		switch fd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if v := wrapped(fd.Message()); v != nil {
				// The wrapper's value, at the field's own path: missing
				// when the wrapper is unset, as protoSet finds.
				m.leaves = append(m.leaves, protoLeaf{path: append(chain, v), index: f.leaf(path), presence: v.HasPresence()})
				continue
			}
			if depth < maxDepth {
				if err := protoLeaves(fd.Message(), chain, path, depth+1, f, m); err != nil {
					return err
				}
			}
		default:
			m.leaves = append(m.leaves, protoLeaf{path: chain, index: f.leaf(path), presence: fd.HasPresence()})
		}
	}
	return nil
}

// wrappers are the well-known types that wrap one scalar, field 1
// "value": proto3's nullable scalars before "optional". BytesValue is
// left out, as bytes are.
var wrappers = map[protoreflect.FullName]bool{
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
}

// wrapped returns the value field of d when d is one of the wrappers.
func wrapped(d protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	if !wrappers[d.FullName()] {
		return nil
	}
	return d.Fields().ByName("value")
}

// protoSet sets the feature of leaf l from msg: missing (NaN) when a
// message on the path is unset, or the field has presence (proto2,
// proto3 optional, a oneof member) and is unset.
func protoSet(r *serving.Record, l protoLeaf, msg protoreflect.Message) error {
	m := msg
	last := len(l.path) - 1
	for _, fd := range l.path[:last] {
		if !m.Has(fd) {
			return nil
		}
		m = m.Get(fd).Message()
	}
	fd := l.path[last]
	if l.presence && !m.Has(fd) {
		return nil
	}
	v := m.Get(fd)
	x := &r.Features[l.index]
	switch fd.Kind() {
	case protoreflect.BoolKind:
		*x = 0
		if v.Bool() {
			*x = 1
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		*x = float64(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		*x = float64(v.Uint())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		*x = v.Float()
	case protoreflect.StringKind:
		setText(r, l.index, v.String())
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev != nil { // an open enum's unknown number stays missing
			setText(r, l.index, string(ev.Name()))
		}
	default:
		*x = math.NaN()
	}
	return nil
}

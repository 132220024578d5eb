package confluent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/modelstream/modelstream/serving"
)

// jsonKind is a set of what a JSON Schema leaf may hold.
type jsonKind uint8

const (
	jsonNumber jsonKind = 1 << iota // number, integer, boolean
	jsonText                        // string
)

// jsonLeaf is one feature of a JSON Schema: its path through nested
// objects, and the kinds of value its schema lists. loose says the
// schema lists an object or an array there too: such a value leaves the
// feature missing rather than failing the record.
type jsonLeaf struct {
	keys  []string
	kinds jsonKind
	loose bool
	index int
}

// jsonPlan decodes JSON documents of one JSON Schema.
type jsonPlan struct {
	leaves  []jsonLeaf
	objects []jsonObject
	layout  *serving.Layout
}

// jsonObject is a property whose schema lists "object" and no scalar
// type, so that it is no feature: its value must be an object (or null,
// missing, or an array where the schema lists "array" too) for its
// fields to be read.
type jsonObject struct {
	keys  []string
	array bool
}

// jsonSchema is the part of a JSON Schema that names fields.
type jsonSchema struct {
	Type       json.RawMessage        `json:"type"`
	Properties map[string]*jsonSchema `json:"properties"`
	OneOf      []*jsonSchema          `json:"oneOf"`
	AnyOf      []*jsonSchema          `json:"anyOf"`
	AllOf      []*jsonSchema          `json:"allOf"`
}

// merged returns the type names and properties of s together with those
// of its oneOf, anyOf and allOf branches, and theirs, to depth maxDepth:
// as an Avro union's branches share its path, a property of several
// branches is one field, which takes what any of them allows. (Types are
// joined for allOf too: that is looser than the schema, and only the
// record's fault can make the difference show.)
func (s *jsonSchema) merged(depth int) ([]string, map[string]*jsonSchema) {
	types, props := s.types(), s.Properties
	if depth >= maxDepth {
		return types, props
	}
	own := false // props is a map of this call's, not s.Properties
	for _, bs := range [...][]*jsonSchema{s.OneOf, s.AnyOf, s.AllOf} {
		for _, b := range bs {
			if b == nil {
				continue
			}
			bt, bp := b.merged(depth + 1)
			types = append(types, bt...)
			if len(bp) > 0 && !own {
				props, own = maps.Clone(props), true
				if props == nil {
					props = make(map[string]*jsonSchema, len(bp))
				}
			}
			for k, v := range bp {
				if old := props[k]; old != nil && old != v {
					v = &jsonSchema{AnyOf: []*jsonSchema{old, v}}
				}
				props[k] = v
			}
		}
	}
	return types, props
}

// types returns the schema's type names: "type" is a name or a list.
func (s *jsonSchema) types() []string {
	var one string
	if json.Unmarshal(s.Type, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(s.Type, &many)
	return many
}

// compileJSONSchema reads the properties of a JSON Schema: an object's
// properties become fields by dotted path, in sorted order at each
// level; number, integer and boolean properties are numbers, string
// properties text. A property whose type is a list takes a value of any
// type listed: null leaves it missing, and so does an object or an
// array. The branches of oneOf, anyOf and allOf add their types and
// properties to the schema's own (see merged). Arrays, properties without
// a type, and $ref are left out.
func compileJSONSchema(text string) (plan, error) {
	var s jsonSchema
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, unsupported("json schema: %v", err)
	}
	p := &jsonPlan{}
	var f fields
	if err := jsonLeaves(&s, nil, 0, &f, p, map[string]bool{}); err != nil {
		return nil, err
	}
	l, err := f.layout()
	if err != nil {
		return nil, err
	}
	p.layout = l
	return p, nil
}

// jsonLeaves adds the leaves of s, at keys, to p. paths holds the dotted
// paths seen: a property name may hold a dot, so two paths may join
// alike ("a.b", and b in a), and such a schema is refused.
func jsonLeaves(s *jsonSchema, keys []string, depth int, f *fields, p *jsonPlan, paths map[string]bool) error {
	if s == nil || depth > maxDepth {
		return nil
	}
	if err := f.visit(); err != nil {
		return err
	}
	if len(keys) > 0 {
		path := strings.Join(keys, ".")
		if paths[path] {
			return unsupported("json schema: two properties are both %q (a name with a dot in it)", path)
		}
		paths[path] = true
	}
	var (
		kinds  jsonKind
		loose  bool
		object bool
		array  bool
	)
	types, props := s.merged(depth)
	for _, t := range types {
		switch t {
		case "object":
			object, loose = true, true
		case "array":
			array, loose = true, true
		case "number", "integer", "boolean":
			kinds |= jsonNumber
		case "string":
			kinds |= jsonText
		}
	}
	// One leaf per path, whatever the number of types listed: a leaf per
	// type would fail every record on the leaf of the types it lacks.
	if kinds != 0 && len(keys) > 0 {
		p.leaves = append(p.leaves, jsonLeaf{keys: keys, kinds: kinds, loose: loose, index: f.leaf(strings.Join(keys, "."))})
	}
	if kinds == 0 && object && len(keys) > 0 {
		p.objects = append(p.objects, jsonObject{keys: keys, array: array})
	}
	if object {
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if err := jsonLeaves(props[k], append(keys[:len(keys):len(keys)], k), depth+1, f, p, paths); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *jsonPlan) decode(b []byte) (serving.Record, error) {
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // numbers are parsed below, where range errors name their field
	if err := d.Decode(&doc); err != nil {
		return serving.Record{}, incompatible("json: %v", err)
	}
	if doc == nil {
		return serving.Record{}, incompatible("json: null, want an object")
	}
	// Only JSON's spaces may follow the object. (d.More does not count a
	// closing bracket or brace as data.)
	if len(bytes.TrimLeft(b[d.InputOffset():], " \t\r\n")) != 0 {
		return serving.Record{}, incompatible("json: data after the object")
	}
	for _, o := range p.objects {
		switch v, _ := jsonLookup(doc, o.keys); v.(type) {
		case nil, map[string]any:
		case []any:
			if !o.array {
				return serving.Record{}, fieldIncompatible(strings.Join(o.keys, "."), serving.ErrFieldType, "want an object, got an array")
			}
		default:
			return serving.Record{}, fieldIncompatible(strings.Join(o.keys, "."), serving.ErrFieldType, "want an object, got %T", v)
		}
	}
	r := newRecord(p.layout)
	for _, l := range p.leaves {
		v, ok := jsonLookup(doc, l.keys)
		if !ok || v == nil {
			continue // absent or null: missing
		}
		switch x := v.(type) {
		case json.Number:
			if l.kinds&jsonNumber != 0 {
				f, err := parseJSONNumber(string(x))
				if err != nil {
					return serving.Record{}, fieldIncompatible(strings.Join(l.keys, "."), serving.ErrFieldType, "%v", err)
				}
				r.Features[l.index] = f
				continue
			}
		case bool:
			if l.kinds&jsonNumber != 0 {
				r.Features[l.index] = 0
				if x {
					r.Features[l.index] = 1
				}
				continue
			}
		case string:
			if l.kinds&jsonText != 0 {
				setText(&r, l.index, x)
				continue
			}
		case map[string]any, []any:
			if l.loose {
				continue // an object or array the schema allows here: no feature
			}
		}
		want := "a number or boolean"
		switch l.kinds {
		case jsonText:
			want = "a string"
		case jsonNumber | jsonText:
			want = "a number, boolean or string"
		}
		return serving.Record{}, fieldIncompatible(strings.Join(l.keys, "."), serving.ErrFieldType, "want %s, got %T", want, v)
	}
	return r, nil
}

// parseJSONNumber parses a JSON number, refusing one beyond float64's
// range: too large (1e400), or too small (1e-400), which ParseFloat
// rounds to 0 without an error, handing the model a value its sender did
// not write.
func parseJSONNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("number %.40q beyond float64's range", s)
	}
	if f == 0 {
		mant, _, _ := strings.Cut(strings.ToLower(s), "e")
		if strings.ContainsAny(mant, "123456789") {
			return 0, fmt.Errorf("number %.40q underflows float64 to 0", s)
		}
	}
	return f, nil
}

// jsonLookup follows keys through nested objects.
func jsonLookup(doc map[string]any, keys []string) (any, bool) {
	var v any = doc
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

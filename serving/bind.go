package serving

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// maxLayouts bounds the bindings a live version caches: one per distinct
// record Layout it has scored. Past it, the oldest binding is dropped,
// so a stream of ever new layouts costs a rebinding per record, never
// memory.
const maxLayouts = 8

// maxBindingBytes bounds the bytes of the Layouts a live version's
// bindings keep alive, summed over them (see Layout.size): a record's
// field names may take the whole record, up to the broker's limit, so
// maxLayouts alone would let each live version hold several of the
// largest. Past it, the oldest bindings are dropped; a Layout larger on
// its own is bound for each record and never cached.
const maxBindingBytes = 1 << 20

// inputs is what a live version needs to bind named records: its inputs
// as the model declared them, with the code of each category.
type inputs struct {
	names    []Input
	features int                  // ModelInfo.Features; 0 if unknown
	codes    []map[string]float64 // per input; nil for a numeric input
	bufs     sync.Pool            // *[]float64 of len(names)
}

func newInputs(m Model) (*inputs, error) {
	d, ok := m.(Describer)
	if !ok {
		return &inputs{}, nil
	}
	info := d.Describe()
	in := &inputs{names: info.Inputs, features: info.Features}
	if len(in.names) == 0 {
		return in, nil
	}
	if info.Features != 0 && info.Features != len(in.names) {
		// A named record would be gathered into len(names) values and
		// fed to a model that reads Features of them.
		return nil, fmt.Errorf("Describe names %d inputs for %d features", len(in.names), info.Features)
	}
	in.codes = make([]map[string]float64, len(in.names))
	for i, n := range in.names {
		if n.Categories == nil {
			continue
		}
		c := make(map[string]float64, len(n.Categories))
		for code, v := range n.Categories {
			if _, dup := c[v]; !dup {
				c[v] = float64(code)
			}
		}
		in.codes[i] = c
	}
	n := len(in.names)
	in.bufs.New = func() any { b := make([]float64, n); return &b }
	return in, nil
}

// check reports whether records laid out as l can feed the model: the
// *FieldError of the first input l lacks, or, for a model without input
// names, a *FeatureCountError when l has another number of fields.
func (in *inputs) check(l *Layout) error {
	if len(in.names) == 0 {
		if in.features > 0 && l.Len() != in.features {
			return fmt.Errorf("%w (the model names no inputs, so named records are fed by position)",
				&FeatureCountError{Want: in.features, Got: l.Len()})
		}
		return nil
	}
	for _, n := range in.names {
		if _, ok := l.Index(n.Name); !ok {
			return &FieldError{Field: n.Name, Err: ErrMissingField}
		}
	}
	return nil
}

// binding maps one record Layout to one live version's inputs.
type binding struct {
	layout *Layout
	// idx[i] is the record position of the model's input i; nil when
	// the record is fed as it is (a model without input names).
	idx []int
	// err, when set, is returned for every record of this layout.
	err error
}

// bindings is a live version's cache of bindings, oldest first: read
// without a lock, replaced whole on a miss.
type bindings struct {
	list atomic.Pointer[[]*binding]
}

// bind returns the binding of l, computing and caching it on a miss.
func (bs *bindings) bind(in *inputs, l *Layout) *binding {
	old := bs.list.Load()
	if old != nil {
		for _, b := range *old {
			if b.layout == l {
				return b
			}
		}
	}
	b := &binding{layout: l, err: in.check(l)}
	if b.err == nil && len(in.names) > 0 {
		b.idx = make([]int, len(in.names))
		for i, n := range in.names {
			b.idx[i], _ = l.Index(n.Name)
		}
	}
	if l.size > maxBindingBytes {
		return b
	}
	for {
		next := make([]*binding, 0, maxLayouts+1)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, b)
		size, drop := 0, 0
		for _, c := range next {
			size += c.layout.size
		}
		for len(next)-drop > maxLayouts || size > maxBindingBytes {
			size -= next[drop].layout.size
			drop++
		}
		// Delete clears the slots it frees, so the backing array keeps no
		// dropped Layout alive.
		next = slices.Delete(next, 0, drop)
		if bs.list.CompareAndSwap(old, &next) {
			return b
		}
		old = bs.list.Load() // another call cached a binding meanwhile
		for _, o := range *old {
			if o.layout == l {
				return o
			}
		}
	}
}

// gather writes the model's inputs, read from the named record r, into
// dst: numbers as they are, category text as its code.
func (b *binding) gather(in *inputs, dst []float64, r *Record) error {
	for i, j := range b.idx {
		var text string
		if r.Text != nil {
			text = r.Text[j]
		}
		codes := in.codes[i]
		switch {
		case codes == nil && text == "":
			dst[i] = r.Features[j]
		case codes == nil:
			return &FieldError{Field: in.names[i].Name, Err: fmt.Errorf("%w: text %q where a number goes", ErrFieldType, text)}
		case text != "":
			c, ok := codes[text]
			if !ok {
				return &FieldError{Field: in.names[i].Name, Err: fmt.Errorf("%w: unknown category %q", ErrFieldType, text)}
			}
			dst[i] = c
		case math.IsNaN(r.Features[j]):
			dst[i] = r.Features[j] // missing: the NonFinite policy decides
		default:
			return &FieldError{Field: in.names[i].Name, Err: fmt.Errorf("%w: number %v where a category goes", ErrFieldType, r.Features[j])}
		}
	}
	return nil
}

// checkText refuses text in a named record fed by position, since the
// model reads only numbers there.
func checkText(r *Record) error {
	for j, t := range r.Text {
		if t != "" {
			return &FieldError{Field: r.Layout.names[j], Err: fmt.Errorf("%w: text %q where a number goes", ErrFieldType, t)}
		}
	}
	return nil
}

// put returns a buffer taken by live.named to the pool; nil is ignored.
func (in *inputs) put(buf *[]float64) {
	if buf != nil {
		in.bufs.Put(buf)
	}
}

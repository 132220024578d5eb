package serving_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
)

// weighted is a tiny model that names its inputs: it answers the sum of
// w[i] times its i-th input, so an answer tells which fields it read, in
// which order.
type weighted struct {
	in []serving.Input
	w  []float64
}

func newWeighted(w map[string]float64, order ...string) *weighted {
	m := &weighted{}
	for _, n := range order {
		m.in = append(m.in, serving.Input{Name: n})
		m.w = append(m.w, w[n])
	}
	return m
}

func (m *weighted) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	if len(x) != len(m.w) {
		return serving.Prediction{}, &serving.FeatureCountError{Want: len(m.w), Got: len(x)}
	}
	var s float64
	for i, v := range x {
		s += m.w[i] * v
	}
	return serving.Prediction{Value: s}, nil
}

func (m *weighted) Describe() serving.ModelInfo {
	return serving.ModelInfo{Features: len(m.in), Inputs: m.in, Outputs: 1}
}

func mustLayout(t testing.TB, names ...string) *serving.Layout {
	l, err := serving.NewLayout(names...)
	require.NoError(t, err)
	return l
}

// The three versions of the hot-swap test: v1 reads a, b, c; v2 reads c,
// a, d; v3 reads a and e, which the stream does not have.
var (
	v1Model = func() serving.Model { return newWeighted(map[string]float64{"a": 1, "b": 10, "c": 100}, "a", "b", "c") }
	v2Model = func() serving.Model { return newWeighted(map[string]float64{"c": 1, "a": 10, "d": 100}, "c", "a", "d") }
	v3Model = func() serving.Model { return newWeighted(map[string]float64{"a": 1, "e": 1}, "a", "e") }
)

// streamRecord is the stream's record: fields x (which no version
// reads), a, b, c and d, with a=1, b=2, c=3, d=4.
func streamRecord(l *serving.Layout) serving.Record {
	return serving.Record{Layout: l, Features: []float64{100, 1, 2, 3, 4}}
}

const (
	v1Answer = 1*1 + 10*2 + 100*3 // 321
	v2Answer = 1*3 + 10*1 + 100*4 // 413
)

// TestNamedHotSwap: versions that read other, reordered and fewer fields
// swap in as data, while records keep flowing; every answer is the one
// of the version its provenance names. A version that needs a field the
// stream lacks fails each record with a *FieldError naming it, and is
// refused at activation when the stream's fields are declared.
func TestNamedHotSwap(t *testing.T) {
	ctx := context.Background()
	layout := mustLayout(t, "x", "a", "b", "c", "d")
	s := newServer(t)
	sc := s.Model("m")
	_, err := s.ActivateModel(ctx, ref("m", 1), v1Model())
	require.NoError(t, err)

	// Score continuously while v2 swaps in.
	var wrong, scored atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := sc.Score(ctx, streamRecord(layout))
				scored.Add(1)
				want := map[uint64]float64{1: v1Answer, 2: v2Answer}[res.Provenance.Model.Version]
				if err != nil || res.Value != want {
					wrong.Add(1)
				}
			}
		}()
	}
	for scored.Load() < 100 { // let v1 score some records first
		runtime.Gosched()
	}
	_, err = s.ActivateModel(ctx, ref("m", 2), v2Model())
	require.NoError(t, err)
	for n := scored.Load(); scored.Load() < n+100; {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, wrong.Load(), "answers that do not match the version named")

	res, err := sc.Score(ctx, streamRecord(layout))
	require.NoError(t, err)
	assert.Equal(t, float64(v2Answer), res.Value)
	assert.Equal(t, uint64(2), res.Provenance.Model.Version)

	// The same fields in another order: another layout, the same answer.
	other := mustLayout(t, "d", "c", "b", "a")
	res, err = sc.Score(ctx, serving.Record{Layout: other, Features: []float64{4, 3, 2, 1}})
	require.NoError(t, err)
	assert.Equal(t, float64(v2Answer), res.Value)

	// v3 needs e: undeclared stream, so it activates and each record
	// fails alone, naming the field.
	_, err = s.ActivateModel(ctx, ref("m", 3), v3Model())
	require.NoError(t, err)
	_, err = sc.Score(ctx, streamRecord(layout))
	require.ErrorIs(t, err, serving.ErrMissingField)
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "e", fe.Field)
	var se *serving.ModelError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, uint64(3), se.Model.Version)

	// Positional records keep working as before.
	_, err = s.ActivateModel(ctx, ref("m", 4), v1Model())
	require.NoError(t, err)
	res, err = sc.Score(ctx, serving.Record{Features: []float64{1, 2, 3}})
	require.NoError(t, err)
	assert.Equal(t, float64(v1Answer), res.Value)
}

// TestStreamFieldsRefuseAtActivation: with the stream's fields declared,
// a version needing a field the stream lacks never goes live.
func TestStreamFieldsRefuseAtActivation(t *testing.T) {
	ctx := context.Background()
	layout := mustLayout(t, "x", "a", "b", "c", "d")
	s := newServer(t, serving.WithStreamFields("m", layout.Names()...))
	for v, m := range []serving.Model{v1Model(), v2Model()} {
		_, err := s.ActivateModel(ctx, ref("m", uint64(v+1)), m)
		require.NoError(t, err)
	}
	_, err := s.ActivateModel(ctx, ref("m", 3), v3Model())
	require.ErrorIs(t, err, serving.ErrMissingField)
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "e", fe.Field)
	var le *serving.ModelError
	require.ErrorAs(t, err, &le)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(2), cur.Version)
	res, err := s.Model("m").Score(ctx, streamRecord(layout))
	require.NoError(t, err)
	assert.Equal(t, float64(v2Answer), res.Value)

	// A model without input names must read as many fields as declared.
	_, err = s.ActivateModel(ctx, ref("m", 4), positional{n: 4})
	require.ErrorIs(t, err, serving.ErrFeatureCount)
	_, err = s.ActivateModel(ctx, ref("m", 4), positional{n: 5})
	require.NoError(t, err)

	for _, bad := range [][]serving.Option{
		{serving.WithStreamFields("m")},
		{serving.WithStreamFields("m", "a", "a")},
		{serving.WithStreamFields("", "a")},
	} {
		_, err := serving.NewServer(bad...)
		require.ErrorIs(t, err, serving.ErrConfig)
	}
}

// positional describes n features and no input names; it answers the
// first feature.
type positional struct{ n int }

func (p positional) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	if len(x) != p.n {
		return serving.Prediction{}, &serving.FeatureCountError{Want: p.n, Got: len(x)}
	}
	return serving.Prediction{Value: x[0]}, nil
}

func (p positional) Describe() serving.ModelInfo { return serving.ModelInfo{Features: p.n, Outputs: 1} }

// TestNamedWithoutInputNames: a model that names no inputs is fed a
// named record by position when the layout has as many fields as it
// reads, and refused with ErrFeatureCount otherwise.
func TestNamedWithoutInputNames(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	_, err := s.ActivateModel(ctx, ref("m", 1), positional{n: 3})
	require.NoError(t, err)
	sc := s.Model("m")
	res, err := sc.Score(ctx, serving.Record{Layout: mustLayout(t, "p", "q", "r"), Features: []float64{7, 8, 9}})
	require.NoError(t, err)
	assert.Equal(t, 7.0, res.Value)
	_, err = sc.Score(ctx, serving.Record{Layout: mustLayout(t, "p", "q"), Features: []float64{7, 8}})
	require.ErrorIs(t, err, serving.ErrFeatureCount)
	_, err = sc.Score(ctx, serving.Record{Layout: mustLayout(t, "p", "q", "r"), Features: []float64{math.NaN(), 8, 9}, Text: []string{"red", "", ""}})
	var fe *serving.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "p", fe.Field)
	assert.ErrorIs(t, err, serving.ErrFieldType)
}

// categorical reads a category and a number, and answers its inputs.
type categorical struct{}

func (categorical) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: x[0], Values: []float64{x[0], x[1]}}, nil
}

func (categorical) Describe() serving.ModelInfo {
	return serving.ModelInfo{Features: 2, Outputs: 2, Inputs: []serving.Input{
		{Name: "color", Categories: []string{"red", "green", "blue"}}, {Name: "size"},
	}}
}

// TestNamedCategories: text reaches a categorical input as its code; an
// unknown category, text where a number goes, a number where a category
// goes and a record whose values do not match its layout are each a
// typed error naming the field, never a panic.
func TestNamedCategories(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, serving.WithNonFinite(serving.AllowMissing))
	_, err := s.ActivateModel(ctx, ref("m", 1), categorical{})
	require.NoError(t, err)
	sc := s.Model("m")
	l := mustLayout(t, "size", "color", "extra")
	nan := math.NaN()
	res, err := sc.Score(ctx, serving.Record{Layout: l, Features: []float64{2.5, nan, 9}, Text: []string{"", "blue", ""}})
	require.NoError(t, err)
	assert.Equal(t, []float64{2, 2.5}, res.Values)
	// A missing category (NaN, no text) passes as missing.
	res, err = sc.Score(ctx, serving.Record{Layout: l, Features: []float64{1, nan, 9}})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(res.Values[0]))

	for _, c := range []struct {
		name  string
		r     serving.Record
		field string
		want  error
	}{
		{"unknown category", serving.Record{Layout: l, Features: []float64{1, nan, 0}, Text: []string{"", "pink", ""}}, "color", serving.ErrFieldType},
		{"text for a number", serving.Record{Layout: l, Features: []float64{nan, nan, 0}, Text: []string{"big", "red", ""}}, "size", serving.ErrFieldType},
		{"number for a category", serving.Record{Layout: l, Features: []float64{1, 2, 0}}, "color", serving.ErrFieldType},
		{"missing field", serving.Record{Layout: mustLayout(t, "color"), Features: []float64{nan}, Text: []string{"red"}}, "size", serving.ErrMissingField},
	} {
		_, err := sc.Score(ctx, c.r)
		require.ErrorIs(t, err, c.want, c.name)
		var fe *serving.FieldError
		require.ErrorAs(t, err, &fe, c.name)
		assert.Equal(t, c.field, fe.Field, c.name)
	}
	for _, r := range []serving.Record{
		{Layout: l, Features: []float64{1, 2}},
		{Layout: l, Features: []float64{1, 2, 3}, Text: []string{"x"}},
	} {
		_, err := sc.Score(ctx, r)
		require.ErrorIs(t, err, serving.ErrFeatureCount)
		// The record disagrees with its own layout: no model's count is
		// involved, so the error is not a *FeatureCountError saying
		// "model expects 3, got 3".
		var fc *serving.FeatureCountError
		assert.False(t, errors.As(err, &fc), "%v", err)
		assert.NotContains(t, err.Error(), "model expects")
		assert.Contains(t, err.Error(), fmt.Sprintf("%d features and %d texts", len(r.Features), len(r.Text)))
	}
}

// TestManyLayouts: more layouts than a version caches bindings for all
// score correctly; the cache replaces old bindings instead of growing.
func TestManyLayouts(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	_, err := s.ActivateModel(ctx, ref("m", 1), v1Model())
	require.NoError(t, err)
	sc := s.Model("m")
	for round := range 3 {
		for i := range 40 {
			l := mustLayout(t, fmt.Sprintf("pad%d", i), "c", "b", "a")
			res, err := sc.Score(ctx, serving.Record{Layout: l, Features: []float64{float64(round), 3, 2, 1}})
			require.NoError(t, err)
			require.Equal(t, float64(v1Answer), res.Value)
		}
	}
	// Not checking this let an unbounded cache pass: a stream of ever
	// new layouts must cost a rebinding per record, never memory.
	n, bound := serving.CachedLayouts(s, "m")
	assert.Equal(t, bound, n, "bindings cached after 40 distinct layouts")
}

// TestBindingCacheBoundedByBytes: the layouts a live version caches
// bindings for hold at most MaxBindingBytes of field names, however
// long the names; a layout larger on its own still scores, uncached.
// Before, only the count was bounded: eight layouts of 300 KiB names
// stayed alive behind one version ("2457632 bytes of names cached after
// 8 layouts").
func TestBindingCacheBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	_, err := s.ActivateModel(ctx, ref("m", 1), v1Model())
	require.NoError(t, err)
	sc := s.Model("m")
	long := strings.Repeat("p", 300<<10)
	score := func(l *serving.Layout) {
		t.Helper()
		res, err := sc.Score(ctx, serving.Record{Layout: l, Features: []float64{0, 3, 2, 1}})
		require.NoError(t, err)
		require.Equal(t, float64(v1Answer), res.Value)
	}
	for i := range 8 {
		score(mustLayout(t, fmt.Sprint(long, i), "c", "b", "a"))
		n := serving.CachedLayoutNameBytes(s, "m")
		assert.LessOrEqual(t, n, serving.MaxBindingBytes, "%d bytes of names cached after %d layouts", n, i+1)
	}
	small := mustLayout(t, "pad", "c", "b", "a")
	score(small)
	before := serving.CachedLayoutNameBytes(s, "m")
	huge := mustLayout(t, strings.Repeat("h", serving.MaxBindingBytes+1), "c", "b", "a")
	for range 2 {
		score(huge)
	}
	assert.Equal(t, before, serving.CachedLayoutNameBytes(s, "m"), "a layout past the bound on its own was cached")
	score(small)
}

// TestSamplesBoundedByBytes: the records a slot keeps to validate new
// versions on hold at most MaxSampleBytes, however long their layouts'
// field names, and records of ordinary layouts are still sampled. Before,
// only their count was bounded (32), and each kept its Layout alive:
// 32 records of layouts with 300 KiB names held 9.8 MB ("9831641 bytes
// sampled in 32 records").
func TestSamplesBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	_, err := s.ActivateModel(ctx, ref("m", 1), v1Model())
	require.NoError(t, err)
	sc := s.Model("m")
	long := strings.Repeat("p", 300<<10)
	small := mustLayout(t, "pad", "c", "b", "a")
	// One call in 64 is sampled: give each sampled call a new layout.
	for i := range 64 * 40 {
		l := small
		if (i+1)%64 == 0 {
			l = mustLayout(t, fmt.Sprint(long, i), "c", "b", "a")
		}
		_, err := sc.Score(ctx, serving.Record{Layout: l, Features: []float64{0, 3, 2, 1}})
		require.NoError(t, err)
	}
	n, bytes := serving.SampledBytes(s, "m")
	assert.LessOrEqual(t, bytes, serving.MaxSampleBytes, "%d bytes sampled in %d records", bytes, n)
	assert.NotZero(t, n, "no record sampled")
	for range 64 * 32 {
		_, err := sc.Score(ctx, serving.Record{Layout: small, Features: []float64{0, 3, 2, 1}})
		require.NoError(t, err)
	}
	n, bytes = serving.SampledBytes(s, "m")
	assert.Equal(t, 32, n, "records of a small layout sampled, %d bytes", bytes)
	assert.Less(t, bytes, 64<<10, "the large layouts are gone from the samples")
}

// TestNamedScoringAllocatesNothing: once bound, a named record costs no
// allocation, like a positional one.
func TestNamedScoringAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	_, err := s.ActivateModel(ctx, ref("m", 1), v2Model())
	require.NoError(t, err)
	sc := s.Model("m")
	rec := streamRecord(mustLayout(t, "x", "a", "b", "c", "d"))
	pos := serving.Record{Features: []float64{3, 1, 4}}
	for name, r := range map[string]serving.Record{"named": rec, "positional": pos} {
		if n := testing.AllocsPerRun(200, func() {
			if _, err := sc.Score(ctx, r); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per record", name, n)
		}
	}
}

// TestNonFiniteNamesTheInput: the index of a *NonFiniteError is the
// model's input, not the record's field, so for a named record in
// another order "non-finite feature 0" pointed at the wrong field. The
// message names the input when the model names its inputs, for Score
// and ScoreBatch alike.
func TestNonFiniteNamesTheInput(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), newWeighted(map[string]float64{"amount": 1, "hour": 1}, "amount", "hour"))))
	rec := serving.Record{Layout: mustLayout(t, "hour", "amount"), Features: []float64{3, math.Inf(1)}}
	_, err := s.Model("m").Score(ctx, rec)
	var ne *serving.NonFiniteError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 0, ne.Index, "the model's input index")
	assert.Contains(t, err.Error(), `feature 0 ("amount")`)

	bs, ok := s.Model("m").(serving.BatchScorer)
	require.True(t, ok)
	out := make([]serving.Result, 2)
	errs := make([]error, 2)
	bs.ScoreBatch(ctx, []serving.Record{rec, {Features: []float64{math.NaN(), 3}}}, out, errs)
	for i, err := range errs {
		require.ErrorIs(t, err, serving.ErrNonFinite, "record %d", i)
		assert.Contains(t, err.Error(), `feature 0 ("amount")`, "record %d", i)
	}
}

// inconsistent names two inputs and declares three features, as a
// format's bug might, and reads all three.
type inconsistent struct{}

func (inconsistent) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: x[0] + x[1] + x[2]}, nil
}

func (inconsistent) Describe() serving.ModelInfo {
	return serving.ModelInfo{Features: 3, Inputs: []serving.Input{{Name: "a"}, {Name: "b"}}, Outputs: 1}
}

// TestInputsDisagreeingWithFeaturesRefused: a model whose ModelInfo
// names fewer (or more) inputs than its Features is refused at
// activation with ErrCorruptModel, and the live version keeps serving.
// Before, it went live, and each named record was gathered into as many
// values as it named inputs: here two, for a model that reads three,
// whose Predict then panicked on the scoring goroutine ("index out of
// range [2] with length 2").
func TestInputsDisagreeingWithFeaturesRefused(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), v1Model())))
	_, err := s.ActivateModel(ctx, ref("m", 2), inconsistent{})
	require.ErrorIs(t, err, serving.ErrCorruptModel)
	assert.Contains(t, err.Error(), "2 inputs for 3 features")
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
	res, err := s.Model("m").Score(ctx, serving.Record{Layout: mustLayout(t, "a", "b", "c"), Features: []float64{1, 2, 3}})
	require.NoError(t, err)
	assert.Equal(t, float64(v1Answer), res.Value)
}

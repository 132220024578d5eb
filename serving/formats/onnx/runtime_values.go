//go:build cgo

package onnx

/*
#cgo linux LDFLAGS: -ldl
#cgo linux CFLAGS: -D_GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <link.h>
#endif

// The run path calls ONNX Runtime's C API itself, through the OrtApi
// table of the library onnxruntime_go loaded, so that every value a run
// returns is released whatever happens to the others (see
// runtimeModel.run). The table is an array of function pointers whose
// order the C API keeps across versions (new entries are appended);
// the slots are those of struct OrtApi in onnxruntime_c_api.h of API
// version 24, which TestOrtAPISlots checks against that header.
enum {
	slotGetErrorMessage = 2,
	slotRun = 9,
	slotCreateRunOptions = 39,
	slotRunOptionsSetTerminate = 46,
	slotGetTensorMutableData = 51,
	slotGetStringTensorDataLength = 53,
	slotGetStringTensorContent = 54,
	slotGetTensorElementType = 60,
	slotGetDimensionsCount = 61,
	slotGetDimensions = 62,
	slotGetTensorTypeAndShape = 65,
	slotGetValueType = 67,
	slotGetAllocatorWithDefaultOptions = 78,
	slotGetValue = 80,
	slotGetValueCount = 81,
	slotReleaseStatus = 93,
	slotReleaseValue = 96,
	slotReleaseRunOptions = 97,
	slotReleaseTensorTypeAndShapeInfo = 99,
};

typedef void* msStatus; // OrtStatus*, NULL on success
typedef void* msValue;  // OrtValue*

static void* const* msApi;

typedef const void* (*msGetApiFn)(uint32_t);
typedef struct {
	msGetApiFn GetApi;
} msApiBase;
typedef const msApiBase* (*msGetApiBaseFn)(void);

// msApiOf returns the OrtApi of version api of the library behind handle
// h (opened with RTLD_NOLOAD: it is the one already loaded), or NULL.
static void* const* msApiOf(void* h, uint32_t api) {
	if (!h) return 0;
	msGetApiBaseFn f = (msGetApiBaseFn)dlsym(h, "OrtGetApiBase");
	const msApiBase* b = f ? f() : 0;
	void* const* t = (b && b->GetApi) ? (void* const*)b->GetApi(api) : 0;
	dlclose(h); // drops the reference RTLD_NOLOAD took; the library stays
	return t;
}

#ifdef __linux__
// msNames collects copies of the names of the objects loaded in the
// process: they are opened after dl_iterate_phdr returns, not from its
// callback, which runs under the dynamic loader's lock.
struct msNames { char* name[1024]; int n; };

static int msNameEach(struct dl_phdr_info* info, size_t size, void* data) {
	struct msNames* l = data;
	if (info->dlpi_name && info->dlpi_name[0] && l->n < 1024) {
		char* c = strdup(info->dlpi_name);
		if (c) l->name[l->n++] = c;
	}
	return 0;
}
#endif

// msInit finds the OrtApi of the library at path, already loaded, or,
// when path is empty, of the one ONNX Runtime library loaded in the
// process. Returns 0 on success, 1 when none is found, 2 when several
// are loaded.
static int msInit(const char* path, uint32_t api) {
	if (path[0]) {
		msApi = msApiOf(dlopen(path, RTLD_LAZY | RTLD_NOLOAD), api);
		return msApi ? 0 : 1;
	}
#ifdef __linux__
	struct msNames* l = calloc(1, sizeof(struct msNames));
	if (!l) return 1;
	dl_iterate_phdr(msNameEach, l);
	void* const* found = 0;
	int count = 0;
	for (int i = 0; i < l->n; i++) {
		void* const* t = msApiOf(dlopen(l->name[i], RTLD_LAZY | RTLD_NOLOAD), api);
		if (t && t != found) {
			found = t;
			count++;
		}
		free(l->name[i]);
	}
	free(l);
	if (count > 1) return 2;
	msApi = found;
	return msApi ? 0 : 1;
#else
	return 1;
#endif
}

#define MS_CALL(slot, type) ((type)msApi[slot])

// Every helper returns ONNX Runtime's status: NULL on success, else an
// error, which the caller reads with msMessage and releases.
static const char* msMessage(msStatus s) { return MS_CALL(slotGetErrorMessage, const char* (*)(msStatus))(s); }
static void msReleaseStatus(msStatus s) { MS_CALL(slotReleaseStatus, void (*)(msStatus))(s); }

static msStatus msNewRunOptions(void** ro) { return MS_CALL(slotCreateRunOptions, msStatus (*)(void**))(ro); }

static void msTerminate(void* ro) {
	msStatus s = MS_CALL(slotRunOptionsSetTerminate, msStatus (*)(void*))(ro);
	if (s) msReleaseStatus(s);
}

static void msReleaseRunOptions(void* ro) { MS_CALL(slotReleaseRunOptions, void (*)(void*))(ro); }

// msRunSession runs session, with every output left to ONNX Runtime to
// allocate: outs must hold nout NULLs, and holds what the run allocated
// when it returns, also on error.
static msStatus msRunSession(void* session, void* ro, char** inNames, msValue* ins, size_t nin,
		char** outNames, msValue* outs, size_t nout) {
	return MS_CALL(slotRun, msStatus (*)(void*, void*, char**, msValue*, size_t, char**, size_t, msValue*))(
		session, ro, inNames, ins, nin, outNames, nout, outs);
}

static void msReleaseValue(msValue v) { MS_CALL(slotReleaseValue, void (*)(msValue))(v); }

enum { msMaxDims = 8 };

// msInfo describes a value: its ONNXType (1 tensor, 2 sequence, 3 map)
// and, for a tensor, its element type, rank, first msMaxDims dimensions
// and, but for strings, data.
typedef struct {
	int type;
	int elem;
	size_t rank;
	int64_t dims[msMaxDims];
	void* data;
} msInfo;

static msStatus msDescribe(msValue v, msInfo* info) {
	msStatus s = MS_CALL(slotGetValueType, msStatus (*)(msValue, int*))(v, &info->type);
	if (s || info->type != 1) return s;
	void* ti = 0;
	if ((s = MS_CALL(slotGetTensorTypeAndShape, msStatus (*)(msValue, void**))(v, &ti))) return s;
	s = MS_CALL(slotGetTensorElementType, msStatus (*)(void*, int*))(ti, &info->elem);
	if (!s) s = MS_CALL(slotGetDimensionsCount, msStatus (*)(void*, size_t*))(ti, &info->rank);
	if (!s && info->rank > 0 && info->rank <= msMaxDims)
		s = MS_CALL(slotGetDimensions, msStatus (*)(void*, int64_t*, size_t))(ti, info->dims, info->rank);
	MS_CALL(slotReleaseTensorTypeAndShapeInfo, void (*)(void*))(ti);
	info->data = 0;
	if (!s && info->elem != 8) // ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING
		s = MS_CALL(slotGetTensorMutableData, msStatus (*)(msValue, void**))(v, &info->data);
	return s;
}

// msDims writes the rank dimensions of tensor v, for a rank past
// msMaxDims.
static msStatus msDims(msValue v, int64_t* dims, size_t rank) {
	void* ti = 0;
	msStatus s = MS_CALL(slotGetTensorTypeAndShape, msStatus (*)(msValue, void**))(v, &ti);
	if (s) return s;
	s = MS_CALL(slotGetDimensions, msStatus (*)(void*, int64_t*, size_t))(ti, dims, rank);
	MS_CALL(slotReleaseTensorTypeAndShapeInfo, void (*)(void*))(ti);
	return s;
}

static msStatus msStringBytes(msValue v, size_t* n) {
	return MS_CALL(slotGetStringTensorDataLength, msStatus (*)(msValue, size_t*))(v, n);
}

static msStatus msStrings(msValue v, void* buf, size_t n, size_t* offsets, size_t count) {
	return MS_CALL(slotGetStringTensorContent, msStatus (*)(msValue, void*, size_t, size_t*, size_t))(v, buf, n, offsets, count);
}

static msStatus msCount(msValue v, size_t* n) {
	return MS_CALL(slotGetValueCount, msStatus (*)(msValue, size_t*))(v, n);
}

// msItem writes item i of sequence or map v (0 the keys, 1 the values of
// a map): a new value, which the caller releases.
static msStatus msItem(msValue v, int i, msValue* item) {
	void* alloc = 0;
	msStatus s = MS_CALL(slotGetAllocatorWithDefaultOptions, msStatus (*)(void**))(&alloc);
	if (s) return s;
	return MS_CALL(slotGetValue, msStatus (*)(msValue, int, void*, msValue*))(v, i, alloc, item);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// onnxruntime_go (v1.27.0) runs a session and then converts each output
// ONNX Runtime allocated into a Go value, in order; at the first it
// cannot convert (a scalar, or a sequence holding one) it returns, and
// the outputs after that one are never released. A record can make an
// output a scalar (a Reshape to a shape computed from it), so a hostile
// model, published again and again, could make a service lose memory
// without bound. The engine therefore runs sessions itself, through the
// C API of the same library: every output is allocated by ONNX Runtime,
// read here, and released, whatever happens to the others. The binding
// still loads the library, creates the sessions and builds the inputs;
// their C handles are read from its values (see sessionPtr).

// initRunAPI finds the C API of the library the binding loaded from
// path ("" when it was loaded by other code of the program). It is
// called under rtLib's lock, once.
func initRunAPI(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	switch C.msInit(cpath, C.uint32_t(runtimeAPIVersion)) {
	case 0:
		return nil
	case 2:
		return errors.New("several ONNX Runtime libraries are loaded in this process")
	}
	return fmt.Errorf("no loaded ONNX Runtime library offers C API version %d", runtimeAPIVersion)
}

// statusErr is the error of ONNX Runtime's status s, which it releases,
// or nil when s is nil (success).
func statusErr(s C.msStatus) error {
	if s == nil {
		return nil
	}
	defer C.msReleaseStatus(s)
	return errors.New(strings.TrimSpace(C.GoString(C.msMessage(s))))
}

// sessionPtr is the OrtSession of s, and valuePtr the OrtValue of v:
// onnxruntime_go keeps its C handles in unexported fields, read here by
// reflection (which may read, not write, them). checkBinding, at engine
// start, finds them where v1.27.0 keeps them, or fails.
func sessionPtr(s *ort.DynamicAdvancedSession) unsafe.Pointer {
	return reflect.ValueOf(s).Elem().FieldByIndex(sessionField).Elem().Field(ortSessionField).UnsafePointer()
}

// sessionField is the index of DynamicAdvancedSession's *AdvancedSession,
// and ortSessionField that of its *C.OrtSession; set by checkBinding.
var (
	sessionField    []int
	ortSessionField int
)

func valuePtr(v ort.Value) unsafe.Pointer {
	return reflect.ValueOf(v.GetInternals()).Elem().Field(0).UnsafePointer()
}

// checkBinding checks, once, that onnxruntime_go keeps its C handles
// where sessionPtr and valuePtr read them.
var checkBinding = sync.OnceValue(func() error {
	st, _ := reflect.TypeFor[ort.DynamicAdvancedSession]().FieldByName("s")
	var ok bool
	if st.Type != nil && st.Type.Kind() == reflect.Pointer && st.Type.Elem().Kind() == reflect.Struct {
		f, found := st.Type.Elem().FieldByName("ortSession")
		if ok = found && f.Type.Kind() == reflect.Pointer && len(f.Index) == 1; ok {
			sessionField, ortSessionField = st.Index, f.Index[0]
		}
	}
	vt := reflect.TypeFor[ort.ValueInternalData]()
	if !ok || vt.NumField() != 1 || vt.Field(0).Type.Kind() != reflect.Pointer {
		return errors.New("this build of github.com/yalue/onnxruntime_go keeps its C handles unlike v1.27.0, which this package reads")
	}
	return nil
})

// cNames holds C copies of a session's input or output names.
type cNames []*C.char

func newCNames(names []string) cNames {
	c := make(cNames, len(names))
	for i, n := range names {
		c[i] = C.CString(n)
	}
	return c
}

func (c cNames) free() {
	for _, p := range c {
		C.free(unsafe.Pointer(p))
	}
}

// runValues runs session s on inputs and leaves every output to ONNX
// Runtime to allocate, into outs (as many as the session's outputs, all
// nil). When ctx can end, a run in progress is terminated when it does.
// On return outs holds what the run allocated, also on error: the
// caller releases them (releaseValues).
func runValues(ctx context.Context, s *ort.DynamicAdvancedSession, inNames, outNames cNames, inputs []ort.Value, outs []unsafe.Pointer) error {
	ins := make([]unsafe.Pointer, len(inputs))
	for i, v := range inputs {
		ins[i] = valuePtr(v)
	}
	var ro unsafe.Pointer
	if ctx.Done() != nil {
		if err := statusErr(C.msNewRunOptions(&ro)); err != nil {
			return err
		}
		terminated := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(terminated)
			C.msTerminate(ro)
		})
		// The run options are released only once a termination that
		// started is over: stop does not wait for it, and it would set
		// the flag in released memory.
		defer func() {
			if !stop() {
				<-terminated
			}
			C.msReleaseRunOptions(ro)
		}()
	}
	var inp **C.char
	var inv *C.msValue
	if len(ins) > 0 {
		inp, inv = &inNames[0], (*C.msValue)(unsafe.Pointer(&ins[0]))
	}
	return statusErr(C.msRunSession(sessionPtr(s), ro, inp, inv, C.size_t(len(ins)),
		&outNames[0], (*C.msValue)(unsafe.Pointer(&outs[0])), C.size_t(len(outs))))
}

// releaseValues releases the values of vs that are not nil, and sets
// them to nil.
func releaseValues(vs []unsafe.Pointer) {
	for i, v := range vs {
		if v != nil {
			C.msReleaseValue(C.msValue(v))
			vs[i] = nil
		}
	}
}

// ONNX's types of values, as ONNX Runtime numbers them (ONNXType).
const (
	valueTensor   = 1
	valueSequence = 2
	valueMap      = 3
)

// cTensor is a tensor ONNX Runtime allocated: its element type, shape
// and, but for strings, data, which lives as long as the value.
type cTensor struct {
	v     unsafe.Pointer
	elem  int64
	shape []int64
	data  unsafe.Pointer
}

// size is the number of elements of t.
func (t *cTensor) size() int {
	n := 1
	for _, d := range t.shape {
		n *= int(d)
	}
	return n
}

// describe reads the ONNX type of v and, for a tensor, what tensor
// holds.
func describe(v unsafe.Pointer) (typ int, t cTensor, err error) {
	info := new(C.msInfo)
	if err := statusErr(C.msDescribe(C.msValue(v), info)); err != nil {
		return 0, t, err
	}
	if info._type != valueTensor {
		return int(info._type), t, nil
	}
	t = cTensor{v: v, elem: int64(info.elem), data: info.data}
	if rank := int(info.rank); rank <= len(info.dims) {
		t.shape = (*[C.msMaxDims]int64)(unsafe.Pointer(&info.dims))[:rank:rank]
	} else {
		t.shape = make([]int64, rank)
		if err := statusErr(C.msDims(C.msValue(v), (*C.int64_t)(unsafe.Pointer(&t.shape[0])), C.size_t(rank))); err != nil {
			return 0, t, err
		}
	}
	for _, d := range t.shape {
		if d < 0 {
			return 0, t, fmt.Errorf("a tensor of shape %v", t.shape)
		}
	}
	return valueTensor, t, nil
}

// strings reads string tensor t.
func (t *cTensor) strings() ([]string, error) {
	n := t.size()
	if n == 0 {
		return nil, nil
	}
	var size C.size_t
	if err := statusErr(C.msStringBytes(C.msValue(t.v), &size)); err != nil {
		return nil, err
	}
	buf := make([]byte, int(size)+1) // never empty, for &buf[0]
	offsets := make([]C.size_t, n)
	if err := statusErr(C.msStrings(C.msValue(t.v), unsafe.Pointer(&buf[0]), size, &offsets[0], C.size_t(n))); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		end := int(size)
		if i+1 < n {
			end = int(offsets[i+1])
		}
		if start := int(offsets[i]); start <= end && end <= int(size) {
			out[i] = string(buf[start:end])
		} else {
			return nil, fmt.Errorf("string %d at bytes [%d, %d) of %d", i, start, end, int(size))
		}
	}
	return out, nil
}

// numbers reads numeric or bool tensor t as float64s.
func (t *cTensor) numbers() ([]float64, error) {
	n := t.size()
	if n == 0 {
		return []float64{}, nil
	}
	switch t.elem {
	case elemFloat:
		return convert(unsafe.Slice((*float32)(t.data), n)), nil
	case elemDouble:
		return append([]float64(nil), unsafe.Slice((*float64)(t.data), n)...), nil
	case elemInt64:
		return convert(unsafe.Slice((*int64)(t.data), n)), nil
	case elemInt32:
		return convert(unsafe.Slice((*int32)(t.data), n)), nil
	case elemInt16:
		return convert(unsafe.Slice((*int16)(t.data), n)), nil
	case elemInt8:
		return convert(unsafe.Slice((*int8)(t.data), n)), nil
	case elemUint8:
		return convert(unsafe.Slice((*uint8)(t.data), n)), nil
	case elemUint16:
		return convert(unsafe.Slice((*uint16)(t.data), n)), nil
	case elemUint32:
		return convert(unsafe.Slice((*uint32)(t.data), n)), nil
	case elemUint64:
		return convert(unsafe.Slice((*uint64)(t.data), n)), nil
	case elemBool:
		out := make([]float64, n)
		for i, b := range unsafe.Slice((*uint8)(t.data), n) {
			if b != 0 {
				out[i] = 1
			}
		}
		return out, nil
	case elemFloat16, elemBfloat16:
		out := make([]float64, n)
		for i, h := range unsafe.Slice((*uint16)(t.data), n) {
			if t.elem == elemBfloat16 {
				out[i] = float64(math.Float32frombits(uint32(h) << 16))
			} else {
				out[i] = float16(h)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("element type %s is not read", elemName(t.elem))
}

// decode reads output v into an rtOut. rows is the batch size when batch
// is set; the output's first dimension (or sequence length) must match
// it. v stays the caller's to release.
func decode(v unsafe.Pointer, rows int, batch bool) (rtOut, error) {
	o := rtOut{rows: rows}
	typ, t, err := describe(v)
	if err != nil {
		return o, err
	}
	switch typ {
	case valueTensor:
		if batch && (len(t.shape) == 0 || t.shape[0] != int64(rows)) {
			return o, fmt.Errorf("%w: shape %v for %d rows", errOutputShape, t.shape, rows)
		}
		if t.elem == elemString {
			o.kind = outStrings
			o.strs, err = t.strings()
		} else {
			o.nums, err = t.numbers()
		}
		return o, err
	case valueSequence:
		var n C.size_t
		if err := statusErr(C.msCount(C.msValue(v), &n)); err != nil {
			return o, err
		}
		if batch && int(n) != rows || !batch && n != 1 {
			return o, fmt.Errorf("%w: a sequence of %d for %d rows", errOutputShape, int(n), rows)
		}
		o.kind = outMaps
		for i := range int(n) {
			err := withItem(v, i, func(mp unsafe.Pointer) error {
				keys, vals, err := mapContents(mp)
				o.mapKeys = append(o.mapKeys, keys)
				o.mapVals = append(o.mapVals, vals)
				return err
			})
			if err != nil {
				return o, err
			}
		}
		return o, nil
	}
	return o, fmt.Errorf("a value of ONNX type %d is not read", typ)
}

// tensorOf describes v, which must be a tensor.
func tensorOf(v unsafe.Pointer) (cTensor, error) {
	typ, t, err := describe(v)
	if err == nil && typ != valueTensor {
		err = fmt.Errorf("a value of ONNX type %d where a tensor was expected", typ)
	}
	return t, err
}

// withItem calls f on item i of sequence or map v (0 the keys, 1 the
// values of a map), and releases the item.
func withItem(v unsafe.Pointer, i int, f func(item unsafe.Pointer) error) error {
	var item C.msValue
	if err := statusErr(C.msItem(C.msValue(v), C.int(i), &item)); err != nil {
		return err
	}
	defer C.msReleaseValue(item)
	return f(unsafe.Pointer(item))
}

// mapContents reads map mp, of int64 or string keys to float or double
// numbers, as ZipMap writes.
func mapContents(mp unsafe.Pointer) (keys []string, vals []float64, err error) {
	typ, _, err := describe(mp)
	if err != nil {
		return nil, nil, err
	}
	if typ != valueMap {
		return nil, nil, fmt.Errorf("a sequence of values of ONNX type %d is not read", typ)
	}
	err = withItem(mp, 0, func(kv unsafe.Pointer) error {
		kt, err := tensorOf(kv)
		if err != nil {
			return err
		}
		switch kt.elem {
		case elemString:
			keys, err = kt.strings()
			return err
		case elemInt64:
			for _, x := range unsafe.Slice((*int64)(kt.data), kt.size()) {
				keys = append(keys, strconv.FormatInt(x, 10))
			}
			return nil
		}
		return fmt.Errorf("map keys of element type %s are not read", elemName(kt.elem))
	})
	if err != nil {
		return nil, nil, err
	}
	err = withItem(mp, 1, func(vv unsafe.Pointer) error {
		vt, err := tensorOf(vv)
		if err != nil {
			return err
		}
		if vt.elem != elemFloat && vt.elem != elemDouble {
			return fmt.Errorf("map values of element type %s are not read", elemName(vt.elem))
		}
		vals, err = vt.numbers()
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(keys) != len(vals) {
		return nil, nil, fmt.Errorf("a map of %d keys and %d values", len(keys), len(vals))
	}
	return keys, vals, nil
}

package kafka_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// A JSON object becomes a named record with no schema declared; an array
// stays positional.
func ExampleJSON() {
	var codec kafka.JSON
	r, _ := codec.Decode([]byte(`{"amount": 250, "country": "FR", "new_device": true}`))
	fmt.Println(r.Layout.Names(), r.Features[0], r.Text[1], r.Features[2])
	r, _ = codec.Decode([]byte(`[250, 3]`))
	fmt.Println(r.Layout == nil, r.Features)
	_, err := codec.Decode([]byte(`{"amount": "lots", "hour": [3]}`))
	var fe *serving.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field)
	// Output:
	// [amount country new_device] 250 FR 1
	// true [250 3]
	// true hour
}

// Pinning a Layout places an object's fields in its order, whatever
// order the producer wrote them in, ignoring others, and gives arrays its
// names. A model that names no inputs is fed named records in their
// field order, so pin the order it reads.
func ExampleJSON_pinned() {
	l, _ := serving.NewLayout("hour", "amount")
	codec := kafka.JSON{Layout: l, Missing: true}
	r, _ := codec.Decode([]byte(`{"amount": 250, "hour": 3}`))
	fmt.Println(r.Layout.Names(), r.Features)
	r, _ = codec.Decode([]byte(`{"amount": 250, "extra": 1}`))
	fmt.Println(r.Layout.Names(), r.Features)
	// Output:
	// [hour amount] [3 250]
	// [hour amount] [NaN 250]
}

// CSV with a header line is named; a single line is positional.
func ExampleCSV() {
	var codec kafka.CSV
	r, _ := codec.Decode([]byte("amount,country\n250,FR"))
	fmt.Println(r.Layout.Names(), r.Features[0], r.Text[1])
	r, _ = codec.Decode([]byte("250,3"))
	fmt.Println(r.Layout == nil, r.Features)
	// Output:
	// [amount country] 250 FR
	// true [250 3]
}

// A codec of your own, here for "key=value" pairs, as a function.
func ExampleCodecFunc() {
	codec := kafka.CodecFunc(func(v []byte) (serving.Record, error) {
		var names []string
		var x []float64
		for _, kv := range strings.Fields(string(v)) {
			k, val, _ := strings.Cut(kv, "=")
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return serving.Record{}, fmt.Errorf("%w: %w", kafka.ErrDecode, &serving.FieldError{Field: k, Err: serving.ErrFieldType})
			}
			names, x = append(names, k), append(x, f)
		}
		l, err := serving.NewLayout(names...) // intern it in real code: one pointer per key set
		if err != nil {
			return serving.Record{}, fmt.Errorf("%w: %v", kafka.ErrDecode, err)
		}
		return serving.Record{Features: x, Layout: l}, nil
	})
	r, err := codec.Decode([]byte("amount=250 hour=3"))
	fmt.Println(r.Layout.Names(), r.Features, err)
	// Output: [amount hour] [250 3] <nil>
}

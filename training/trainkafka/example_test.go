package trainkafka_test

import (
	"fmt"

	"github.com/modelstream/modelstream/training/trainkafka"
)

// A Source decodes each record with a Decoder; CSV takes the target
// from one column and the features from the others.
func ExampleCSV() {
	dec := trainkafka.CSV{Comma: ';', Label: -1}
	s, err := dec.Decode(nil, []byte("7.4;0.7;0;1.9;5"))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Features, s.Target)
	// Output:
	// [7.4 0.7 0 1.9] 5
}

package training_test

import (
	"fmt"

	"github.com/modelstream/modelstream/training"
)

// ADWIN keeps a window of recent values that it cuts when its two parts
// differ: here the mean of a stream of errors moves from 0.1 to 0.6.
func ExampleADWIN() {
	ad, err := training.NewADWIN()
	if err != nil {
		panic(err)
	}
	detected := -1
	for i := 0; i < 4000; i++ {
		x := 0.0
		if (i < 2000 && i%10 == 0) || (i >= 2000 && i%5 < 3) {
			x = 1
		}
		if ad.Add(x) && detected < 0 {
			detected = i
		}
	}
	fmt.Println("drift detected:", detected >= 2000 && detected < 2200)
	fmt.Printf("window within the new regime: %v, mean %.2f\n", ad.Len() <= 2000, ad.Mean())
	// Output:
	// drift detected: true
	// window within the new regime: true, mean 0.60
}

// A Standardizer learns each feature's mean and spread in one pass and
// scales vectors by them.
func ExampleStandardizer() {
	s := training.NewStandardizer(2)
	for _, x := range [][]float64{{1, 100}, {2, 200}, {3, 300}} {
		s.Add(x)
	}
	out := make([]float64, 2)
	s.Transform(out, []float64{3, 100})
	fmt.Println(s.Count(), s.Mean(), s.Scale())
	fmt.Println(out)
	// Output:
	// 3 [2 200] [1 100]
	// [1 -1]
}

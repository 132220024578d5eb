package training

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// A nil option is a configuration error, as in the module's other
// constructors, not a nil-function panic.
func TestNilOptionsAreConfigErrors(t *testing.T) {
	l, _ := NewLearner(Linear, 1)
	src := SourceFunc(func(context.Context) (Sample, error) { return Sample{}, nil })
	pub := PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })
	for name, call := range map[string]func() error{
		"NewLearner":     func() error { _, err := NewLearner(Linear, 1, nil); return err },
		"NewTrainer":     func() error { _, err := NewTrainer("m", l, src, pub, nil); return err },
		"NewPageHinkley": func() error { _, err := NewPageHinkley(nil); return err },
		"NewADWIN":       func() error { _, err := NewADWIN(nil); return err },
		"Distill": func() error {
			_, err := Distill(context.Background(), serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
				return serving.Result{}, nil
			}), l, slices.Values([][]float64{{1}}), nil)
			return err
		},
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s(nil option) panicked: %v", name, p)
				}
			}()
			if err := call(); !errors.Is(err, serving.ErrConfig) {
				t.Errorf("%s(nil option) = %v, want serving.ErrConfig", name, err)
			}
		}()
	}
}

package servingtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// ErrInjected is the error a Fake returns when its failure rate fires.
var ErrInjected = errors.New("servingtest: injected failure")

// Latency draws the time one fake call takes.
type Latency interface {
	Next(r *rand.Rand) time.Duration
}

// Fixed is a Latency that is always d.
type Fixed time.Duration

// Next returns d.
func (d Fixed) Next(*rand.Rand) time.Duration { return time.Duration(d) }

// LogNormal returns a heavy-tailed Latency whose median and 99th
// percentile are as given: a log-normal with μ = ln(median) and
// σ = ln(p99/median)/2.3263. LogNormal(10ms, 200ms) models a slow model
// that is usually fine and sometimes twenty times slower.
func LogNormal(median, p99 time.Duration) Latency {
	if median <= 0 || p99 < median {
		panic("servingtest: LogNormal needs 0 < median <= p99")
	}
	return logNormal{mu: math.Log(float64(median)), sigma: math.Log(float64(p99)/float64(median)) / 2.3263478740408408}
}

type logNormal struct{ mu, sigma float64 }

func (l logNormal) Next(r *rand.Rand) time.Duration {
	return time.Duration(math.Exp(l.mu + l.sigma*r.NormFloat64()))
}

// Forever is a Latency that never ends: the call returns only when its
// context is done (or never, with IgnoreContext).
const Forever = Fixed(math.MaxInt64)

// Fake is a Model with a set output, latency and failure rate. It counts
// its calls and closes. Its fields must not change after its first call.
// A Fake is safe for concurrent use.
type Fake struct {
	// Output is the prediction every successful call returns.
	Output serving.Prediction
	// OutputFunc, when set, computes the prediction from the features
	// instead of Output.
	OutputFunc func(features []float64) serving.Prediction
	// Latency is how long each call takes; nil means no delay.
	Latency Latency
	// FailRate is the probability, in [0, 1], that a call fails with
	// ErrInjected.
	FailRate float64
	// Features, when positive, is the feature count the fake demands.
	Features int
	// IgnoreContext makes the fake sleep through cancellation, like a
	// model that cannot be interrupted.
	IgnoreContext bool
	// Seed seeds the fake's random source for latency and failures.
	Seed uint64

	once   sync.Once
	mu     sync.Mutex
	rng    *rand.Rand
	calls  atomic.Int64
	active atomic.Int64
	closes atomic.Int64
}

var (
	_ serving.Model  = (*Fake)(nil)
	_ serving.Closer = (*Fake)(nil)
)

func (f *Fake) draw() (time.Duration, bool) {
	f.once.Do(func() { f.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)) })
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	if f.Latency != nil {
		d = f.Latency.Next(f.rng)
	}
	fail := f.FailRate > 0 && f.rng.Float64() < f.FailRate
	return d, fail
}

// Predict implements serving.Model.
func (f *Fake) Predict(ctx context.Context, x []float64) (serving.Prediction, error) {
	f.calls.Add(1)
	f.active.Add(1)
	defer f.active.Add(-1)
	if f.Features > 0 && len(x) != f.Features {
		return serving.Prediction{}, &serving.FeatureCountError{Want: f.Features, Got: len(x)}
	}
	d, fail := f.draw()
	if d > 0 {
		if f.IgnoreContext {
			time.Sleep(d)
		} else {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return serving.Prediction{}, ctx.Err()
			}
		}
	}
	if fail {
		return serving.Prediction{}, ErrInjected
	}
	if f.OutputFunc != nil {
		return f.OutputFunc(x), nil
	}
	return f.Output, nil
}

// Close implements serving.Closer and counts the calls.
func (f *Fake) Close() error {
	f.closes.Add(1)
	return nil
}

// Calls returns how many times Predict was called.
func (f *Fake) Calls() int64 { return f.calls.Load() }

// Active returns how many Predict calls are running now.
func (f *Fake) Active() int64 { return f.active.Load() }

// Closes returns how many times Close was called.
func (f *Fake) Closes() int64 { return f.closes.Load() }

// Scorer returns a Scorer that scores with f and stamps the provenance
// name@vversion (format "fake").
func (f *Fake) Scorer(name string, version uint64) serving.Scorer {
	return serving.Bind(serving.ModelRef{Name: name, Version: version, Format: FormatName}, f)
}

// FormatName is the name of the fake format registered by this package.
const FormatName = "fake"

// Spec is the JSON document of the "fake" format: the model bytes of a
// Descriptor with Format "fake". It lets tests send fakes through
// everything a real model goes through, model messages included.
type Spec struct {
	Value      float64   `json:"value"`
	Values     []float64 `json:"values,omitempty"`
	Label      string    `json:"label,omitempty"`
	Confidence float64   `json:"confidence,omitempty"`
	// Latency is a Go duration such as "2ms".
	Latency  string  `json:"latency,omitempty"`
	FailRate float64 `json:"fail_rate,omitempty"`
	Features int     `json:"features,omitempty"`
	// Echo makes the fake return the sum of its features as Value,
	// so tests can tell which input produced which output.
	Echo bool `json:"echo,omitempty"`
}

// Descriptor returns a Descriptor of format "fake" for s.
func (s Spec) Descriptor(name string, version uint64) serving.Descriptor {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return serving.Descriptor{Name: name, Version: version, Format: FormatName, Bytes: b, SHA256: serving.ContentID(b), Created: time.Now().UTC()}
}

// open counts the fakes the format has loaded and not yet closed.
var open atomic.Int64

// Unclosed returns how many models the "fake" format has loaded and not
// yet closed, across the process. Tests use it to check for leaks.
func Unclosed() int64 { return open.Load() }

type closeCounting struct{ *Fake }

func (c closeCounting) Close() error {
	open.Add(-1)
	return c.Fake.Close()
}

func init() {
	serving.Register(FormatName, serving.FormatFunc(func(_ context.Context, d serving.Descriptor) (serving.Model, error) {
		var s Spec
		if err := json.Unmarshal(d.Bytes, &s); err != nil {
			return nil, serving.Corrupt(FormatName, err)
		}
		f := &Fake{Output: serving.Prediction{Value: s.Value, Values: s.Values, Label: s.Label, Confidence: s.Confidence}, FailRate: s.FailRate, Features: s.Features}
		if s.Latency != "" {
			d, err := time.ParseDuration(s.Latency)
			if err != nil || d < 0 {
				return nil, serving.Corrupt(FormatName, fmt.Errorf("latency %q", s.Latency))
			}
			f.Latency = Fixed(d)
		}
		if s.FailRate < 0 || s.FailRate > 1 {
			return nil, serving.Corrupt(FormatName, fmt.Errorf("fail_rate %v outside [0, 1]", s.FailRate))
		}
		if len(s.Values) > 0 {
			// Each answer gets Values of its own, as from a real model,
			// so that a caller changing one changes no other.
			f.OutputFunc = func([]float64) serving.Prediction {
				out := f.Output
				out.Values = slices.Clone(out.Values)
				return out
			}
		}
		if s.Echo {
			f.OutputFunc = func(x []float64) serving.Prediction {
				var sum float64
				for _, v := range x {
					sum += v
				}
				return serving.Prediction{Value: sum}
			}
		}
		open.Add(1)
		return closeCounting{f}, nil
	}))
}

package metrics

// NewStriped is New with n stripes per series instead of defaultStripes,
// for the benchmarks that measure what the stripes buy; n is a power of
// two.
func NewStriped(n int, opts ...Option) *Metrics {
	m, err := New(opts...)
	if err != nil {
		panic(err)
	}
	m.stripes = n
	return m
}

// Retired returns how many replaced versions m remembers.
func Retired(m *Metrics) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.retired)
}

// Bounds the black-box tests check against.
const (
	DefaultMaxRejectedModels = defaultMaxRejectedModels
	MaxRetired               = maxRetired
)

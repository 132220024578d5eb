package serving

import "sync"

// owned counts, per model instance that is a Closer, the holders that
// will close it: each activation in progress and each version (live)
// made of it. One instance given to the Server several times, as two
// versions, under two names, or offered again while live, is so closed
// exactly once, by whichever holder lets go of it last.
//
// Instances are told apart by ==; one whose dynamic type cannot be
// compared (a struct holding a slice, say) is its own holder each time
// it is given, and is closed once per activation.
type owned struct {
	mu sync.Mutex
	n  map[Model]int
}

// hold takes a holder's reference to m.
func (o *owned) hold(m Model) {
	if _, ok := m.(Closer); !ok || !comparableValue(m) {
		return
	}
	o.mu.Lock()
	if o.n == nil {
		o.n = map[Model]int{}
	}
	o.n[m]++
	o.mu.Unlock()
}

// drop lets go of a holder's reference to m and reports whether that was
// the last one, so that m must now be closed.
func (o *owned) drop(m Model) bool {
	if _, ok := m.(Closer); !ok {
		return false
	}
	if !comparableValue(m) {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.n[m] - 1
	if n > 0 {
		o.n[m] = n
		return false
	}
	delete(o.n, m)
	return true
}

// comparableValue reports whether m can be compared with == (and so be a
// map key) without a run-time panic: a comparable type can still hold,
// in an interface field, a value that is not.
func comparableValue(m Model) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return m == m //nolint:staticcheck // the comparison is the test
}

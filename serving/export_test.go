package serving

// SetFetchBetweenCheckAndOpen sets a hook that runs after a file
// Location was checked and before it is opened, and returns a function
// that removes it.
func SetFetchBetweenCheckAndOpen(f func()) (undo func()) {
	fetchBetweenCheckAndOpen = f
	return func() { fetchBetweenCheckAndOpen = nil }
}

// MaxRejectedNames is the bound the black-box tests flood past.
const MaxRejectedNames = maxRejectedNames

// CachedLayouts returns how many layout bindings the live version of
// name caches, and the bound on it.
func CachedLayouts(s *Server, name string) (n, bound int) {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return 0, maxLayouts
	}
	l := sl.cur.Load()
	if l == nil {
		return 0, maxLayouts
	}
	if list := l.binds.list.Load(); list != nil {
		n = len(*list)
	}
	return n, maxLayouts
}

// MaxBindingBytes is the bound on the bytes of the layouts a live
// version's bindings keep alive.
const MaxBindingBytes = maxBindingBytes

// CachedLayoutNameBytes returns the bytes of the field names of the
// layouts that the live version of name caches bindings for.
func CachedLayoutNameBytes(s *Server, name string) int {
	sl, _ := s.slot(name, false)
	if sl == nil || sl.cur.Load() == nil {
		return 0
	}
	n := 0
	if list := sl.cur.Load().binds.list.Load(); list != nil {
		for _, b := range *list {
			for _, f := range b.layout.names {
				n += len(f)
			}
		}
	}
	return n
}

// MaxSampleBytes is the bound on the bytes a slot's samples hold.
const MaxSampleBytes = maxSampleBytes

// SampledBytes returns how many records the slot of name keeps to
// validate new versions on, and the bytes of their values and of the
// field names of their layouts, each record's layout counted whole.
func SampledBytes(s *Server, name string) (records, bytes int) {
	sl, _ := s.slot(name, false)
	if sl == nil {
		return 0, 0
	}
	sl.samples.mu.Lock()
	defer sl.samples.mu.Unlock()
	for _, r := range sl.samples.recs {
		bytes += 8 * len(r.Features)
		if r.Layout != nil {
			for _, f := range r.Layout.names {
				bytes += len(f)
			}
		}
	}
	return len(sl.samples.recs), bytes
}

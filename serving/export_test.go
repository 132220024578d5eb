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

//go:build !unix

package serving

import "os"

// openNoBlock opens a file for reading.
func openNoBlock(p string) (*os.File, error) { return os.Open(p) }

//go:build unix

package serving

import (
	"os"
	"syscall"
)

// openNoBlock opens a file for reading without blocking, even if it was
// replaced by a FIFO after it was checked.
func openNoBlock(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

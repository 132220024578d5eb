//go:build unix

package serving

import (
	"os"
	"syscall"
)

// openReadFlags open a file for reading without blocking, even if it was
// replaced by a FIFO after it was checked.
const openReadFlags = os.O_RDONLY | syscall.O_NONBLOCK

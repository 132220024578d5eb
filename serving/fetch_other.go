//go:build !unix

package serving

import "os"

// openReadFlags open a file for reading.
const openReadFlags = os.O_RDONLY

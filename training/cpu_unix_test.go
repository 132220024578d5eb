//go:build unix

package training

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system.
// The benchmarks report it per operation next to the wall time, because
// on a shared machine the wall time mostly measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

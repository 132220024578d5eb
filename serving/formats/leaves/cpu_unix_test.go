//go:build unix

package leaves_test

import "syscall"

// processCPU returns the user+system CPU time of the process in ns. The
// benchmarks report it per operation ("cpu-ns/op") next to wall time,
// because on a shared machine other processes inflate wall time but not
// the CPU time this process spends.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

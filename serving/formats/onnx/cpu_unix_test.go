//go:build unix

package onnx_test

import "syscall"

// processCPU returns the user+system CPU time of the process in ns,
// ONNX Runtime's own threads included. Benchmarks report it per record
// beside wall time: on a shared machine other processes inflate wall
// time, not the CPU time this process spends.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

package leaves_test

import (
	"syscall"
	"unsafe"
)

// threadCPU returns the CPU time of the calling OS thread in ns
// (CLOCK_THREAD_CPUTIME_ID), or 0. With the goroutine locked to its
// thread, it counts only the time this goroutine ran: what other
// processes on a loaded machine take is not in it.
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return ts.Nano()
}

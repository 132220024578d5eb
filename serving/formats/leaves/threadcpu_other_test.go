//go:build !linux

package leaves_test

// threadCPU is not measured on this platform.
func threadCPU() int64 { return 0 }

//go:build !unix

package kafka_test

import "time"

// cpuTime is not measured here: the CPU ratios are not reported.
func cpuTime() time.Duration { return 0 }

// pageFaults is not counted here.
func pageFaults() int64 { return 0 }

//go:build !unix

package kafka_test

import "time"

// cpuTime is not measured here: the CPU ratios are not reported.
func cpuTime() time.Duration { return 0 }

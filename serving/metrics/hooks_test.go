package metrics_test

import (
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/speculative"
)

// Metrics implements every hook of the module. The hooks of
// serving/kafka and speculative are asserted here, in a test, so that
// package metrics itself links neither (nor sarama through kafka).
var (
	_ serving.HookScored       = (*metrics.Metrics)(nil)
	_ serving.HookModelEvent   = (*metrics.Metrics)(nil)
	_ speculative.HookDecision = (*metrics.Metrics)(nil)
	_ kafka.HookDeadLetter     = (*metrics.Metrics)(nil)
	_ kafka.HookCommit         = (*metrics.Metrics)(nil)
	_ kafka.HookLag            = (*metrics.Metrics)(nil)
)

//go:build race

package kafka_test

// raceEnabled is true when the race detector is on.
//
// sarama v1.61.1 races with itself when a transactional producer's write
// fails: transactionManager.publishTxnPartitions reads lastError without
// the statusLock under which the goroutine that handles the failure
// (retryBatch → maybeTransitionToErrorState → transitionTo) writes it.
// Tests that make the broker refuse writes to a transactional producer
// leave those faults out under the race detector.
const raceEnabled = true

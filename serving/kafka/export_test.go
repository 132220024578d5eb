package kafka

import (
	"hash/maphash"
	"log/slog"
)

// Crash stops s abruptly, for tests: records in flight are abandoned and
// nothing more is marked or committed.
func Crash(s *Source) { s.crash() }

// NumberingFeed returns a ModelFeed with no client, on which only the
// version numbering of Number works.
func NumberingFeed(log *slog.Logger) *ModelFeed {
	return &ModelFeed{log: log, highest: map[uint64]uint64{}, seed: maphash.MakeSeed()}
}

// Number numbers a model message of name, as the feed does, for a
// Server whose highest version ever live is live.
func (f *ModelFeed) Number(name string, offered, live uint64) uint64 {
	return f.number(name, offered, live+1)
}

// MaxNumberedNames is maxNumberedNames.
const MaxNumberedNames = maxNumberedNames

// ProcessCPU is processCPU, for the benchmarks of package kafka_test.
func ProcessCPU() int64 { return processCPU() }

// BeforeCommit makes s call f between taking the offsets marked for a
// commit and sending the commit. Set it before Run.
func BeforeCommit(s *Source, f func()) { s.beforeCommit = f }

// MaxFeedFetches and MaxFeedHeld are maxFeedFetches and maxFeedHeld.
const (
	MaxFeedFetches = maxFeedFetches
	MaxFeedHeld    = maxFeedHeld
)

package kafka

// Crash stops s abruptly, for tests: records in flight are abandoned and
// nothing more is marked or committed.
func Crash(s *Source) { s.crash() }

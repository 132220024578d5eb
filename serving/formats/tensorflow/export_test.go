package tensorflow

// Batched reports whether PredictBatch runs several rows through m's
// graph at once.
func Batched(m *Model) bool { return m.batch != nil }

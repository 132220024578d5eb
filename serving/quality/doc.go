// Package quality measures how well live models do once the truth about
// their predictions is known: a transaction turned out to be fraud, a
// wine was rated. It is pure Go, with no Kafka: the join of labels to
// scores lives elsewhere and feeds it.
//
// # Meters
//
// A [Meter] accumulates one stream of outcomes, each a prediction paired
// with its truth. Classification outcomes give accuracy and log-loss
// ([Meter.ObserveClass]), binary ones also the area under the ROC curve
// ([Meter.ObserveBinary]); regression outcomes give the mean absolute
// error and the root mean squared error ([Meter.ObserveValue]). Every
// statistic comes as an [Estimate]: its count, its value and a 95%
// confidence interval, with the standard error for callers who test
// their own hypotheses on it. An outcome that is not a number, or a
// probability outside [0, 1], is refused with an error wrapping
// [serving.ErrOutcome] and counted, and changes nothing else.
//
// # The streaming AUC
//
// The exact AUC needs every score kept and sorted. A Meter keeps instead
// two counts per bin in 1,024 equal-width bins of the predicted
// probability, so its memory is fixed and each outcome costs O(1). Pairs
// of a positive and a negative in different bins are ordered exactly;
// pairs within one bin count one half, as ties do. The binned AUC is
// therefore within Summary.AUCBinError of the exact AUC of the same
// outcomes, where AUCBinError is half the share of positive-negative
// pairs that share a bin: a bound computed from the data, not assumed.
// For scores spread over [0, 1] it is about 1/2048 ≈ 0.0005; for a
// model that crowds its scores into a few bins it is larger, and the
// confidence interval is widened by it on both sides.
//
// # Trackers
//
// A [Tracker] keeps one Meter per [Key] (model name, version and the
// variant a combinator routed by) up to a fixed number of keys, so that
// keys that come from the data cannot grow memory without bound; the
// outcomes of keys beyond the limit are refused with [ErrFull] and
// counted. [KeyOf] derives the Key from a serving.Provenance.
// [Tracker.Snapshot] returns every series' Summary in a stable order.
//
// # Cost
//
// Observing takes one mutex and a few floating-point operations, and
// allocates nothing; a Summary scans the bins (a few microseconds).
package quality

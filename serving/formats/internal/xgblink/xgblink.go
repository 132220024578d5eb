// Package xgblink links the "xgboost" format of serving/formats/leaves to
// the JSON and UBJSON decoder of serving/formats/xgboost, so that the
// decoder need not be exported. Package xgboost sets both functions in
// its init; package leaves imports xgboost, so they are set before any
// model is loaded.
package xgblink

import "github.com/modelstream/modelstream/serving"

var (
	// IsModel reports whether b looks like an XGBoost JSON or UBJSON
	// model (by its first bytes only).
	IsModel func(b []byte) bool
	// Decode decodes an XGBoost JSON or UBJSON model, telling the two
	// apart by content, and reads d.Labels as xgboost's registered
	// formats do; format is the name its errors report.
	Decode func(format string, d serving.Descriptor) (serving.Model, error)
)

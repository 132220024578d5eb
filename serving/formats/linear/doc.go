// Package linear is the "linear" model format: modelstream's own JSON
// encoding of linear regression, logistic regression and softmax
// (multinomial logistic) regression, with optional per-feature
// standardisation. Package training produces it; importing this package
// registers the format with serving:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/linear"
//
// # Document
//
// A model is one JSON object:
//
//	{
//	  "kind": "linear" | "logistic" | "softmax",
//	  "features": 11,                       // 1 to 1,048,576 (2^20)
//	  "feature_names": ["alcohol", ...],   // optional, len = features, distinct, non-empty
//	  "mean":  [...],                       // optional, len = features
//	  "scale": [...],                       // optional, len = features, all non-zero
//	  "weights": [[...], ...],              // one row per output, len(row) = features
//	  "bias": [...],                        // one per output
//	  "classes": ["no", "yes"]              // optional class labels
//	}
//
// Each feature is first standardised as (x - mean) / scale when mean and
// scale are present. Then for output k, z_k = bias_k + Σ_j weights_kj x_j.
//
//   - linear: one output; the prediction's Value is z_0.
//   - logistic: one output; Value is σ(z_0), the probability of the
//     positive class. Label is classes[1] when Value ≥ 0.5 and classes[0]
//     otherwise ("1" and "0" by default); Confidence is the probability of
//     the chosen label.
//   - softmax: K ≥ 2 outputs; Values are the K class probabilities,
//     Value and Confidence the largest, Label the matching class (its
//     index by default).
//
// When feature_names is present the model declares its inputs by those
// names (serving.ModelInfo.Inputs, all numeric), so that a Server binds
// records' named fields to them; without it the model reads positional
// vectors.
//
// Unknown fields are ignored, so a newer writer can add metadata.
// Every number must be finite.
package linear

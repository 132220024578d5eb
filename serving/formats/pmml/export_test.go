package pmml

// Limits the black-box tests build documents against.
const (
	MaxDepth     = maxDepth
	MaxAttrBytes = maxAttrBytes
)

package pmml

// Limits the black-box tests build documents against.
const (
	MaxDepth     = maxDepth
	MaxAttrBytes = maxAttrBytes
)

// Parse decodes and compiles a PMML document, as the registered format
// does; the tests use it to reach the *Model without a Descriptor.
var Parse = parse

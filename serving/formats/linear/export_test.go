package linear

// Names the external tests use; users load a document through
// serving.Load with FormatName, and hold a serving.Model.
type Model = model

// Parse decodes and validates a linear document, as the format does.
var Parse = parse

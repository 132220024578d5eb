package wire

// The W3C Trace Context headers (https://www.w3.org/TR/trace-context/),
// named as the W3C and OpenTelemetry's Kafka instrumentations name them.
// They are the only headers of this protocol outside [Prefix]; see
// "Trace context" in the package documentation.
const (
	// HeaderTraceParent carries the trace ID, the parent span ID and the
	// sampling flag, such as
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.
	HeaderTraceParent = "traceparent"
	// HeaderTraceState carries vendor-specific trace data, such as
	// congo=t61rcWkgMzE.
	HeaderTraceState = "tracestate"
)

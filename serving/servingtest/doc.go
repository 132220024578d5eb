// Package servingtest helps users test code built on modelstream, the way
// net/http/httptest helps with HTTP: fake models with a set output,
// latency and failure rate, a "fake" model format so fakes can travel as
// model messages, and assertions on provenance.
//
// # Fake models
//
// A [Fake] is a serving.Model whose answer ([Fake.Output] or
// [Fake.OutputFunc]), latency ([Fixed], [LogNormal], [Forever]) and
// failure rate are set by the test. It counts its calls and its closes,
// so a test can check that a Server closed a replaced version exactly
// once. [Fake.Scorer] binds one to a name and version without a Server.
//
// # The "fake" format
//
// Importing the package registers the format "fake" with serving. Its
// model bytes are the JSON of a [Spec], and [Spec.Descriptor] builds the
// Descriptor, so a fake can be published, verified, stored and activated
// like any real model. [Unclosed] counts the fakes that format has
// loaded and not yet closed, across the process, for leak checks.
//
// # Assertions
//
// [AssertModel] and [AssertDecision] check the provenance of a Result:
// which model version computed it, and which candidate won a combinator's
// decision. They report through [T], the part of *testing.T they need.
//
// The Kafka helper lives in the subpackage kafkatest, so that tests that
// only need fake models do not compile a fake broker.
package servingtest

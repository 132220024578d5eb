// Package governance decides which models may be served and records what
// served: signed models, a verification policy with a replay guard, and an
// audit trail of model events. Which model version scored a record is
// read from the record itself (see Provenance below).
//
// # Signing
//
// A trainer signs a model message with ed25519 ([Sign]) over a canonical
// encoding of its name, version, format, SHA-256 and every label
// ([SigningPayload]
// documents the exact bytes, so a trainer in another language can sign
// too). The signature is stored in Descriptor.Signature as the signer's
// 8-byte key ID ([KeyIDOf]) followed by the 64-byte ed25519 signature; on the Kafka
// models topic it travels base64-encoded in the signature header.
//
// # Verification
//
// A [Verifier] holds the trusted public keys ([TrustKeys]), and requires a
// signature on every model when given [RequireSignature]. Its Verify
// method checks, in order, that the descriptor is complete, that the
// bytes match the SHA-256 ([serving.ErrChecksum]), that the signature is present
// when required ([ErrUnsigned]), names a trusted key ([ErrUntrustedKey])
// and verifies ([ErrBadSignature]), and that the version is not older
// than the last one that went live under the name, nor that version with
// other content ([ErrReplay]). Each rejection is an error that wraps its
// reason (test with errors.Is, or name it with [Reason]); it is logged,
// audited and counted ([Verifier.Stats]).
//
// A Verifier is a serving.Admitter. Give it to the Server once, with
// serving.WithAdmission, and every path that activates a model passes
// through it: a direct Activate, the Kafka model feed, registry.Restore
// and registry.Rollback. The Server calls it before fetching anything
// from a Location, so a message on the models topic cannot make an
// instance download from a URL that no trusted key signed, and it holds
// the fetched bytes to the SHA-256 the Verifier judged. A rejected model
// never replaces the live one.
//
// The replay check lives in the Verifier: it remembers the last version
// that went live per name (it hears activations through
// [Verifier.OnModelEvent], which the Server calls), seeded from a
// registry with [ReplayFrom] so that it survives restarts. A version that
// was verified but then failed to load or validate does not count, so
// junk signed under a version cannot block the good model of that
// version. The Server refuses stale versions too
// (serving.ErrStaleVersion), but only relative to what it serves now; the
// Verifier also catches an old model replayed while nothing is live, and
// says why.
//
// # Audit trail
//
// An [Audit] turns model events into structured slog records and,
// optionally, [Event] values for an [AuditSink] such as a Kafka audit
// topic. The Verifier reports received, verified and rejected models; the
// Audit is also a serving hook (serving.WithHooks) and reports what the
// Server loads, activates, rolls back, retires and refuses. Package
// governance/govkafka has an AuditSink writing to a Kafka audit topic.
// A sink that stops answering costs the feed one AuditTimeout, not one
// per event: the Audit then drops events, counts them and probes the
// sink until it takes one again (see [Audit]).
//
// # Provenance
//
// Every output record says what scored it, in its JSON value and in its
// Kafka headers, as package serving/wire encodes them: wire is the one
// owner of that protocol, and this package does not redefine it.
// wire.ProvenanceOf reads either and answers which model version and
// content ID scored the record; for a speculative decision, the winner,
// with every candidate in the decision. That answer is exact: the code
// that ran the model stamped it.
//
// For a record that carries no provenance, registry's Registry.At
// answers from a timestamp alone, through the activation history. Its
// documentation explains why that answer is weaker: several models may
// be live at once, a swap is atomic per call rather than per timestamp,
// and clocks differ.
package governance

package governance

import (
	"context"
	"fmt"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// Provenance travels with every output record, in headers and in its JSON
// value, encoded by package serving/wire, the one owner of that protocol.
// This file answers the questions asked of it.

// Which answers which model version, and which content ID, scored an
// output record, from its headers and/or its JSON value, as package
// serving/wire encodes them (wire.ProvenanceOf; errors wrap
// wire.ErrNoProvenance or wire.ErrBadProvenance). For a speculative
// decision it is the model whose output was returned. This is the exact
// answer: the provenance was stamped by the code that ran the model,
// with the version that ran.
func Which(headers []wire.Header, value []byte) (serving.ModelRef, error) {
	p, err := wire.ProvenanceOf(headers, value)
	return p.Model, err
}

// WhichAt answers, for a record that carries no provenance, which
// version of name was active at time t, from the registry's activation
// history (*registry.Registry.At).
//
// It is weaker than [Which], and can be wrong:
//   - Under speculative execution several models are live at once, and
//     which one answered a given record depends on latencies and on the
//     combinator's decision; the history names only the version of one
//     name that was installed, not who won.
//   - A swap is atomic per call, not per timestamp: a record whose call
//     started just before a swap is scored by the old version even if it
//     finished after the new one was activated.
//   - The record's timestamp and the activation times come from
//     different clocks (producer, broker, serving host), and several
//     instances swap at slightly different moments as each reads the
//     models topic. Near a swap, skew of a few milliseconds picks the
//     wrong version.
//   - A history recorded by one instance says nothing certain about
//     another instance that scored the record.
//
// Use it for records from before provenance was stamped, or to bound an
// answer, never to audit a disputed score.
func WhichAt(ctx context.Context, store *registry.Registry, name string, t time.Time) (serving.ModelRef, error) {
	ref, err := store.At(ctx, name, t)
	if err != nil {
		return ref, fmt.Errorf("governance: which %q at %s: %w", name, t.UTC().Format(time.RFC3339Nano), err)
	}
	return ref, nil
}

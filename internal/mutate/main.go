// Command mutate checks that the test suite guards the core guarantees.
// It applies, one at a time, a list of one-line breaks of those
// guarantees (mutants) to a temporary copy of the repository, runs the
// tests of the packages each one concerns, and reports which mutants the
// tests catch. It is not part of CI: run it by hand after changing a
// guarantee or its tests, from anywhere in the repository:
//
//	go run ./internal/mutate            # every mutant
//	go run ./internal/mutate -run fetch # mutants whose name matches
//	go run ./internal/mutate -list
//
// The copy is a detached git worktree of HEAD, so uncommitted changes
// are not seen; it is removed at the end. A mutant's original text must
// occur exactly once in its file, or the mutant is reported "stale" (the
// code moved on: update the list). A mutant that no longer compiles is
// reported "does not build". Otherwise it is "caught", with the first
// tests that failed, or "MISSED", and the command exits with status 1 if
// any mutant was missed or stale.
//
// The onnx mutants break the ONNX Runtime engine, whose tests skip
// without its shared library: set ONNXRUNTIME_LIB (as .ci/run does), or
// they are reported MISSED.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// mutant is a one-line break of a guarantee.
type mutant struct {
	name  string   // short, for -run
	what  string   // the guarantee it breaks, for the report
	file  string   // relative to the repository root
	old   string   // must occur exactly once in file
	new   string   // replaces old
	pkgs  []string // the packages whose tests should catch it
	tests string   // optional -run pattern, for packages too slow to run whole
}

var mutants = []mutant{
	{
		// Only the marking moves: the batch's slab is still recycled
		// after its acks, so the at-least-once assertions, not corrupted
		// writes (source-recycle-before-ack), are what must catch it.
		name:  "source-mark-before-ack",
		what:  "serving/kafka Source marks a batch's offsets when it is sent, before Kafka has acknowledged its writes",
		file:  "serving/kafka/source.go",
		old:   "\tfor b := range acking {\n",
		new:   "\tfor b := range acking {\n\t\tif !failed && b.cut > 0 { // mutant: mark before the acks\n\t\t\tsess.MarkOffset(tp.Topic, tp.Partition, b.items[b.cut-1].msg.Offset+1, \"\")\n\t\t\th.mu.Lock()\n\t\t\th.marked[tp] = b.items[b.cut-1].msg.Offset + 1\n\t\t\th.mu.Unlock()\n\t\t}\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestSource",
	},
	{
		name: "source-skips-ack-wait",
		what: "serving/kafka Source's marker does not wait for a batch's acknowledgements at all (its slab is then recycled under the producer too)",
		file: "serving/kafka/source.go",
		old:  "\t\tcase <-b.acked:\n",
		new:  "\t\tdefault: // mutant: do not wait for the acks\n",
		pkgs: []string{"./serving/kafka/"},
	},
	{
		name: "source-mark-past-failed-write",
		what: "serving/kafka Source marks past a write Kafka refused",
		file: "serving/kafka/source.go",
		old:  "good = b.items[:b.werrAt]",
		new:  "good = b.items[:b.cut]",
		pkgs: []string{"./serving/kafka/"},
	},
	{
		name:  "source-recycle-before-ack",
		what:  "serving/kafka Source reuses the records of a batch's scores before Kafka has acknowledged them",
		file:  "serving/kafka/source.go",
		old:   "\t\ts.send(b)\n",
		new:   "\t\ts.send(b)\n\t\ts.sink.recycle(b.slab) // mutant: reuse before the acks\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestSourceSlowAcknowledgements|TestScoreSlab|TestRecycledScoreSlab",
	},
	{
		name:  "replay-shuffles-once",
		what:  "training Replay shuffles the rows once, so every pass repeats the first pass's order",
		file:  "training/distill.go",
		old:   "\t\t\tif r != nil {\n\t\t\t\tr.Shuffle(",
		new:   "\t\t\tif r != nil && e == 0 {\n\t\t\t\tr.Shuffle(",
		pkgs:  []string{"./training/"},
		tests: "TestReplay",
	},
	{
		name: "budget-waits-first-straggler",
		what: "speculative Budget waits for the first straggler after its deadline",
		file: "speculative/fanout.go",
		old:  "\t\t\treason = stopDeadline\n",
		new:  "\t\t\treason = stopDeadline; <-f.ch\n",
		pkgs: []string{"./speculative/"},
	},
	{
		name: "budget-waits-for-all",
		what: "speculative Budget ignores its deadline and waits for every model",
		file: "speculative/fanout.go",
		old:  "\t\tdeadline = dk.timer.C\n",
		new:  "\t\tdeadline = nil // mutant: the deadline never fires\n",
		pkgs: []string{"./speculative/"},
	},
	{
		name: "fetch-size-cap-removed",
		what: "serving fetch (readCapped) reads a Location of any size",
		file: "serving/fetch.go",
		old:  "func readCapped(ctx context.Context, r io.Reader, hint, max int64, u *url.URL) ([]byte, error) {\n",
		new:  "func readCapped(ctx context.Context, r io.Reader, hint, max int64, u *url.URL) ([]byte, error) {\n\tmax = 1 << 62\n",
		pkgs: []string{"./serving/"},
	},
	{
		name: "fetch-loose-dots-allowed",
		what: "serving fetch allows a Location path that a lenient server reads as climbing out of the allowed prefix (..;, a backslash, %252e%252e)",
		file: "serving/fetch.go",
		old:  "\tif looseDots(p) {\n",
		new:  "\tif false && looseDots(p) {\n",
		pkgs: []string{"./serving/"},
	},
	{
		name: "fetch-escapes-decoded-once",
		what: "serving fetch decodes a Location path's segments only once more than the URL does, so a dot segment escaped three times (%25252e%25252e) climbs out of the allowed prefix",
		file: "serving/fetch.go",
		old:  "\t\t\tif d == seg {\n",
		new:  "\t\t\tif d == seg || n == 1 {\n",
		pkgs: []string{"./serving/"},
	},
	{
		name: "fetch-unpinned-location",
		what: "serving fetch fetches a Location whose Descriptor has no SHA256, so whoever serves it chooses the model",
		file: "serving/fetch.go",
		old:  "\tif !pinned && !o.AllowUnpinned {\n",
		new:  "\tif false && !pinned && !o.AllowUnpinned {\n",
		pkgs: []string{"./serving/"},
	},
	{
		name:  "admit-commit-panic-unrecovered",
		what:  "serving Server lets a Committer's panic unwind out of Activate, holding the name's swap lock",
		file:  "serving/server.go",
		old:   "\tdefer s.recoverAdmission(&err, \"Committer\", d)\n",
		new:   "\t// mutant: no recover\n",
		pkgs:  []string{"./serving/"},
		tests: "TestAdmitterPanicIsARefusal",
	},
	{
		name:  "confluent-fetch-rate-removed",
		what:  "serving/kafka/confluent asks the registry for every new schema ID, however many a flood of records names",
		file:  "serving/kafka/confluent/codec.go",
		old:   "\t\tif !c.take() {\n",
		new:   "\t\tif false && !c.take() {\n",
		pkgs:  []string{"./serving/kafka/confluent/"},
		tests: "Flood",
	},
	{
		name: "checkpoint-fsync-removed",
		what: "atomicfile (training and feedbackkafka checkpoints) does not fsync the file before the rename",
		file: "internal/atomicfile/atomicfile.go",
		old:  "if err := f.Sync(); err != nil {",
		new:  "if err := error(nil); err != nil {",
		pkgs: []string{"./internal/atomicfile/", "./training/", "./serving/feedback/feedbackkafka/"},
	},
	{
		name: "checkpoint-dir-fsync-removed",
		what: "atomicfile (training and feedbackkafka checkpoints) does not fsync the directory after the rename",
		file: "internal/atomicfile/atomicfile.go",
		old:  "\treturn fsys.SyncDir(dir)\n",
		new:  "\treturn nil // mutant: no directory sync\n",
		pkgs: []string{"./internal/atomicfile/", "./training/", "./serving/feedback/feedbackkafka/"},
	},
	{
		name: "checkpoint-written-in-place",
		what: "atomicfile writes in place (the new file takes the final name before it is written)",
		file: "internal/atomicfile/atomicfile.go",
		old:  "\ttmp := f.Name()\n",
		new:  "\ttmp := f.Name()\n\tfsys.Rename(tmp, path); tmp = path // mutant: written in place\n",
		pkgs: []string{"./internal/atomicfile/", "./training/", "./serving/feedback/feedbackkafka/"},
	},
	{
		name: "registry-bolt-nosync",
		what: "registry/bolt commits without fsync (bbolt NoSync)",
		file: "registry/bolt/bolt.go",
		old:  "&bbolt.Options{Timeout: o.lockTimeout,",
		new:  "&bbolt.Options{NoSync: true, Timeout: o.lockTimeout,",
		pkgs: []string{"./registry/..."},
	},
	{
		name: "registry-bolt-commit-error-ignored",
		what: "registry/bolt acknowledges a write whose commit failed",
		file: "registry/bolt/bolt.go",
		old:  "return s.run(true, func(tx *bbolt.Tx) error { return fn(txn{tx.Bucket(bucket)}) })",
		new:  "s.run(true, func(tx *bbolt.Tx) error { return fn(txn{tx.Bucket(bucket)}) }); return nil",
		pkgs: []string{"./registry/..."},
	},
	{
		name: "registry-memory-rollback-removed",
		what: "registry's memory Storage keeps the writes of a failed transaction",
		file: "registry/storage.go",
		old:  "\tif err != nil {\n\t\ttx.rollback()\n",
		new:  "\tif err != nil {\n\t\t_ = tx // mutant: no rollback\n",
		pkgs: []string{"./registry/..."},
	},
	{
		name: "registry-put-error-ignored",
		what: "registry Put goes on after the storage refused one of its keys",
		file: "registry/store.go",
		old:  "if err := w.Put(key(kName, d.Name), present); err != nil {",
		new:  "if err := w.Put(key(kName, d.Name), present); err != nil && false {",
		pkgs: []string{"./registry/..."},
	},
	{
		name:  "commit-hook-unconfirmed",
		what:  "serving/kafka HookCommit hears of a commit the broker refused",
		file:  "serving/kafka/source.go",
		old:   "if got < off {",
		new:   "if false && got < off {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "Commit",
	},
	{
		name:  "txn-suspects-one-by-one",
		what:  "serving/kafka writes the suspects of an aborted transaction one per transaction, not in parts of doubling size",
		file:  "serving/kafka/source.go",
		old:   "lo, size = hi+1, 2*size",
		new:   "lo, size = hi+1, 1",
		pkgs:  []string{"./serving/kafka/"},
		tests: "SuspectParts|RefusalAbortsAtOnce|PoisonAmongSuspects",
	},
	{
		name:  "commit-hook-hears-offset-taken",
		what:  "serving/kafka HookCommit hears of the offsets a commit was made for, not those the group stored",
		file:  "serving/kafka/source.go",
		old:   "hk.OnCommit(tp.Topic, tp.Partition, got)",
		new:   "hk.OnCommit(tp.Topic, tp.Partition, off)",
		pkgs:  []string{"./serving/kafka/"},
		tests: "CommitHook",
	},
	{
		name:  "source-no-commit-on-stop",
		what:  "serving/kafka Source does not commit what it acknowledged when it stops between two commit intervals",
		file:  "serving/kafka/source.go",
		old:   "\t\th.commit(context.Background(), sess)\n",
		new:   "\t\t// mutant: no commit on the way out\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "Commit|Stop|Cancel",
	},
	{
		name:  "commit-readback-unbounded",
		what:  "serving/kafka Source waits for the read-back of a commit (HookCommit) however long the broker takes",
		file:  "serving/kafka/commitcheck.go",
		old:   "ctx, cancel := context.WithTimeout(ctx, readBackTimeout(s.o.interval))",
		new:   "ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Hour)",
		pkgs:  []string{"./serving/kafka/"},
		tests: "Commit",
	},
	{
		name:  "dead-letter-over-limit",
		what:  "serving/kafka Sink writes a dead letter whose reason alone exceeds the producer's limit, which stops the Source on that record",
		file:  "serving/kafka/sink.go",
		old:   "dl.Reason = cutReason(full, len(full)-over)",
		new:   "dl.Reason = full",
		pkgs:  []string{"./serving/kafka/"},
		tests: "Oversized",
	},
	{
		name:  "sink-acks-overlap",
		what:  "serving/kafka Sink calls a write's acknowledgement function while another runs (successes and errors are read in two goroutines)",
		file:  "serving/kafka/sink.go",
		old:   "d.mu.Lock()\n\t\t\tdefer d.mu.Unlock()\n",
		new:   "",
		pkgs:  []string{"./serving/kafka/"},
		tests: "DeliverCallsFuncAcks",
	},
	{
		name:  "dead-letter-key-before-reason",
		what:  "serving/kafka Sink gives up an oversized dead letter's key before it cuts the reason",
		file:  "serving/kafka/sink.go",
		old:   "dl.Reason = cutReason(full, max(len(full)-over, min(len(full), minReason)))",
		new:   "dl.Reason = full",
		pkgs:  []string{"./serving/kafka/"},
		tests: "DeadLetter",
	},
	{
		name: "learner-weakened",
		what: "training one-pass least squares fits with a hidden ridge (the real-data wine check)",
		file: "training/learner.go",
		old:  "l.ls = newLSQ(features, c.forget, c.l2)",
		new:  "l.ls = newLSQ(features, c.forget, c.l2+0.05)",
		pkgs: []string{"./training/"},
	},
	{
		name:  "learner-weakened-wine-only",
		what:  "the same hidden ridge, against the real-data wine tests alone",
		file:  "training/learner.go",
		old:   "l.ls = newLSQ(features, c.forget, c.l2)",
		new:   "l.ls = newLSQ(features, c.forget, c.l2+0.05)",
		pkgs:  []string{"./training/"},
		tests: "Wine",
	},
	{
		name: "signature-check-skipped",
		what: "governance Verifier accepts a signature that does not verify",
		file: "governance/verify.go",
		old:  "if !ed25519.Verify(pub, payload, sig) {",
		new:  "if _ = payload; false {",
		pkgs: []string{"./governance/..."},
	},
	{
		name: "stale-version-check-removed",
		what: "serving Server activates a version older than the live one",
		file: "serving/server.go",
		old:  "if old != nil && ref.Version <= old.ref.Version && !ao.rollback {",
		new:  "if false && old != nil && ref.Version <= old.ref.Version && !ao.rollback {",
		pkgs: []string{"./serving/", "./registry/...", "./governance/..."},
	},
	{
		name: "kafkafeed-store-failure-ignored",
		what: "registry/kafkafeed lets a model go live that the store failed to keep",
		file: "registry/kafkafeed/kafkafeed.go",
		old:  "\t\treturn &storeError{err}\n",
		new:  "\t\treturn nil // mutant\n",
		pkgs: []string{"./registry/kafkafeed/"},
	},
	{
		name: "kafkafeed-observer-panic-escapes",
		what: "registry/kafkafeed lets an Observer's panic unwind out of Observe, so the Observers after it never hear of the event",
		file: "registry/kafkafeed/kafkafeed.go",
		old:  "\t\tif p := recover(); p != nil {\n\t\t\ts.logger.Error(\"kafkafeed: recovered a panic in an Observer\"",
		new:  "\t\tif p := recover(); p != nil {\n\t\t\tpanic(p)\n\t\t\ts.logger.Error(\"kafkafeed: recovered a panic in an Observer\"",
		pkgs: []string{"./registry/kafkafeed/"},
	},
	{
		name:  "feed-numbers-from-live-version",
		what:  "serving/kafka ModelFeed numbers a version-less message from the live version, reusing a number after a restored rollback",
		file:  "serving/kafka/feed.go",
		old:   "d.Version = f.number(d.Name, offered, f.srv.NextVersion(d.Name))",
		new:   "d.Version = f.number(d.Name, offered, cur.Version+1)",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeedNumbers",
	},
	{
		name:  "feed-name-handled-concurrently",
		what:  "serving/kafka ModelFeed handles a name's next message while its previous one is still being fetched, so versions of one name can go live out of order",
		file:  "serving/kafka/feed.go",
		old:   "if !q.active && !q.waiting {",
		new:   "if !q.waiting {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-versionless-ahead",
		what:  "serving/kafka ModelFeed activates a version-less message before an earlier message of its partition was handled, so a restart that interrupted that one numbers it anew and makes it live again",
		file:  "serving/kafka/feed.go",
		old:   "if d.Version == 0 && !f.settled(ctx, part) {",
		new:   "if false && !f.settled(ctx, part) {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-reports-before-handled",
		what:  "serving/kafka ModelFeed reports a message to the Observer before an earlier message of its partition was handled, so a registry's resume point passes a model in flight",
		file:  "serving/kafka/feed.go",
		old:   "for ; n < len(p.jobs) && p.jobs[n].done; n++ {",
		new:   "for ; n < len(p.jobs) && (p.jobs[n].done || true); n++ {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-reports-past-interrupted",
		what:  "serving/kafka ModelFeed reports messages after one the shutdown interrupted, so a registry skips the interrupted model after a restart",
		file:  "serving/kafka/feed.go",
		old:   "\t\t\tp.stopped = true\n",
		new:   "\t\t\tp.stopped = false\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-caughtup-before-handled",
		what:  "serving/kafka ModelFeed closes CaughtUp once every message was read, before those in flight were handled",
		file:  "serving/kafka/feed.go",
		old:   "if p.allRead && len(p.jobs) == 0 {",
		new:   "if p.allRead {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-unbounded-fetches",
		what:  "serving/kafka ModelFeed runs a thousand times too many workers, so as many fetches hang at once",
		file:  "serving/kafka/feed.go",
		old:   "for range maxFeedFetches {",
		new:   "for range 1000 * maxFeedFetches {",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name:  "feed-unbounded-held",
		what:  "serving/kafka ModelFeed reads on without bound while its messages wait on hanging fetches",
		file:  "serving/kafka/feed.go",
		old:   "if f.held < maxFeedHeld && (",
		new:   "if true && (",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestFeed",
	},
	{
		name: "kafkafeed-known-versions-dropped",
		what: "registry/kafkafeed resumes the feed without the stored versions, which then numbers a retired or unrestored name from 1 again",
		file: "registry/kafkafeed/kafkafeed.go",
		old:  "known[name] = max(known[name], v.Descriptor.Version)",
		new:  "known[name] = 0 * max(known[name], v.Descriptor.Version)",
		pkgs: []string{"./registry/kafkafeed/"},
	},
	{
		name: "history-not-trimmed",
		what: "serving Server keeps more activations than WithHistory allows",
		file: "serving/server.go",
		old:  "if n := len(sl.history) - sl.s.o.historyLen; n > 0 {",
		new:  "if n := len(sl.history) - sl.s.o.historyLen; n > 1<<20 {",
		pkgs: []string{"./serving/"},
	},
	{
		name: "verifier-rollback-skips-signature",
		what: "governance Verifier admits a rollback (registry.Rollback, Restore) without checking its signature",
		file: "governance/verify.go",
		old:  "\tkeyID, err := v.checkSignature(d)\n\tif err == nil {\n",
		new:  "\tkeyID, err := \"\", error(nil) // mutant: no signature check\n\tif err == nil {\n",
		pkgs: []string{"./governance/...", "./registry/..."},
	},
	{
		name: "validation-ignores-nonfinite-outputs",
		what: "serving validation checks the primary Value only, not every output of a multi-output version",
		file: "serving/validate.go",
		old:  "\t\t\tif math.IsNaN(v) || math.IsInf(v, 0) {\n",
		new:  "\t\t\tif false { // mutant\n",
		pkgs: []string{"./serving/"},
	},
	{
		name: "validation-samples-not-copied",
		what: "serving keeps the caller's feature slice as a validation sample instead of a copy",
		file: "serving/validate.go",
		old:  "\tdst.Features = append(dst.Features[:0], r.Features...)\n",
		new:  "\tdst.Features = r.Features // mutant\n",
		pkgs: []string{"./serving/"},
	},
	{
		name: "canary-breach-ignored",
		what: "speculative/canary rolls nothing back: a breached guardrail is ignored",
		file: "speculative/canary/canary.go",
		old:  "\tcase len(breached) > 0:\n",
		new:  "\tcase false && len(breached) > 0:\n",
		pkgs: []string{"./speculative/canary/", "./examples/canary/"},
	},
	{
		name: "trainer-commits-without-checkpoint",
		what: "training Trainer commits its source without saving the state that learned the records",
		file: "training/trainer.go",
		old:  "if save && t.o.ckptPath != \"\" {",
		new:  "if false && save && t.o.ckptPath != \"\" {",
		pkgs: []string{"./training/", "./training/trainkafka/"},
	},
	{
		name: "combinator-drops-named-record",
		what: "speculative Budget, Ensemble and Shadow hand their models the record without its Layout (named fields read by position)",
		file: "speculative/fanout.go",
		old:  "\tdst.Layout, dst.Time = r.Layout, r.Time\n",
		new:  "\tdst.Time = r.Time // mutant: no Layout\n",
		pkgs: []string{"./speculative/"},
	},
	{
		name: "split-panic-escapes",
		what: "speculative Split, Switch and Bandit let a variant's panic unwind past their counters and hooks (a canary never hears of it)",
		file: "speculative/split.go",
		old:  "\t\t\tres, err = serving.Result{}, fmt.Errorf(\"speculative: variant %q panicked: %v\", variant, p)\n",
		new:  "\t\t\t_ = fmt.Sprint; panic(p) // mutant\n",
		pkgs: []string{"./speculative/", "./speculative/canary/"},
	},
	{
		name:  "onnx-zero-constant-divisor",
		what:  "serving/formats/onnx accepts an integer constant holding 0 as a divisor (ONNX Runtime folds 10/0 at load: SIGFPE kills the process)",
		file:  "serving/formats/onnx/intdiv.go",
		old:   "\tif safeInts(ints) {\n\t\treturn name, kindSafeInt, nil\n",
		new:   "\tif true { // mutant\n\t\treturn name, kindSafeInt, nil\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "Division",
	},
	{
		name:  "onnx-panic-leaks-sessions",
		what:  "serving/formats/onnx leaks the sessions a Load made before ONNX Runtime's binding panicked creating the next (ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "\t\t\tdestroySessions(ss)\n\t\t\tpanic(v)\n",
		new:   "\t\t\tpanic(v)\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimePanicCreatingASessionLeaksNone",
	},
	{
		name:  "onnx-unkept-model-leaks-sessions",
		what:  "serving/formats/onnx leaks the sessions of a model Load does not keep, as when the load-time run panics (ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "\t\tif !kept {\n\t\t\tm.destroy()\n",
		new:   "\t\tif !kept && false {\n\t\t\tm.destroy()\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimePanicInTheLoadTimeRunLeaksNone",
	},
	{
		name:  "onnx-abandoned-creations-unbounded",
		what:  "serving/formats/onnx lets the session creations that Loads abandoned at their deadline pile up without bound (ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "var creating = make(chan struct{}, maxCreating)",
		new:   "var creating = make(chan struct{}, 1<<20) // mutant",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeAbandonedCreationsAreBounded",
	},
	{
		name:  "onnx-subgraph-division-unchecked",
		what:  "serving/formats/onnx does not look for integer divisions inside If, Loop and Scan subgraphs",
		file:  "serving/formats/onnx/intdiv.go",
		old:   "\t\tr, err := divGraph(g, depth+1, sc)\n",
		new:   "\t\tr, err := divGraph(g[:0], depth+1, sc) // mutant\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "Division",
	},
	{
		name:  "onnx-outputs-after-the-first-unreleased",
		what:  "serving/formats/onnx releases only the first output ONNX Runtime allocated in a run, as onnxruntime_go's Run did past one it could not convert (a model republished message after message grows memory without bound; ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "\tdefer releaseValues(outputs)\n",
		new:   "\tdefer releaseValues(outputs[:1]) // mutant\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeRepublishedModelsLeakNoOutputs",
	},
	{
		name:  "onnx-session-creation-ignores-ctx",
		what:  "serving/formats/onnx waits for ONNX Runtime to create a session after Load's context has ended (a hostile model holds the load for seconds)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "\tif ctx.Done() == nil {\n\t\treturn e.createSessions(ctx, b, in, out)\n",
		new:   "\tif true { // mutant\n\t\treturn e.createSessions(ctx, b, in, out)\n",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeLoadReturnsWhenContextEnds",
	},
	{
		name:  "onnx-sessions-skip-the-memory-bound",
		what:  "serving/formats/onnx creates ONNX Runtime sessions that allocate outside the shared arena of MaxMemory (a small model of Concat nodes takes the host's memory; ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "so.AddSessionConfigEntry(\"session.use_env_allocators\", \"1\")",
		new:   "so.AddSessionConfigEntry(\"session.use_env_allocators\", \"0\" /* mutant */)",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeMaxMemory",
	},
	{
		name:  "onnx-load-runs-unbounded",
		what:  "serving/formats/onnx runs a model's load-time runs for as long as Load's context lasts, which may be for ever (a Loop that never ends holds Load and a core; ONNX Runtime tests: set ONNXRUNTIME_LIB)",
		file:  "serving/formats/onnx/runtime_cgo.go",
		old:   "runCtx, cancel := context.WithTimeout(ctx, loadRunLimit)",
		new:   "runCtx, cancel := context.WithCancel(ctx) // mutant",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeLoadRunIsBounded",
	},
	{
		name:  "onnx-record-driven-loop-accepted",
		what:  "serving/formats/onnx accepts a Loop with no trip count whose condition the record computes (a record makes it run without end)",
		file:  "serving/formats/onnx/intdiv.go",
		old:   "if op == \"Loop\" && (len(inputs) == 0 || inputs[0] == \"\") {",
		new:   "if false { // mutant",
		pkgs:  []string{"./serving/formats/onnx/"},
		tests: "TestRuntimeRefusesALoopARecordDrives",
	},
	{
		name:  "tensorflow-variable-reads-unbounded",
		what:  "serving/formats/tensorflow checksums every variable node's checkpoint value before counting it against MaxElements (a small archive stalls the feed)",
		file:  "serving/formats/tensorflow/bundle.go",
		old:   "\tif count != nil {\n",
		new:   "\tif count != nil && false { // mutant\n",
		pkgs:  []string{"./serving/formats/tensorflow/"},
		tests: "SavedModel",
	},
	{
		name: "leaves-tree-links-backward",
		what: "serving/formats/leaves accepts a decoded tree whose child links point backward (a cycle: prediction never ends)",
		file: "serving/formats/leaves/guard.go",
		old:  "} else if left <= uint64(i) || left >= uint64(nNodes) {",
		new:  "} else if left >= uint64(nNodes) {",
		pkgs: []string{"./serving/formats/leaves/"},
	},
	{
		name: "leaves-pickle-shared-grows",
		what: "serving/formats/leaves lets a sklearn pickle grow a dict after sharing it (a dict holding itself crashes leaves' error formatting)",
		file: "serving/formats/leaves/guard.go",
		old:  "if c.kind != kind || c.shared {",
		new:  "if c.kind != kind {",
		pkgs: []string{"./serving/formats/leaves/"},
	},
	{
		name: "leaves-pickle-memo-key",
		what: "serving/formats/leaves bounds the sizes of a sklearn pickle only where its keys are spelled out, not fetched from the memo",
		file: "serving/formats/leaves/guard.go",
		old:  "\t\t\tit.shared = true\n\t\t\tstack = append(stack, it)\n",
		new:  "\t\t\tit = &pkItem{size: it.size} // mutant: a memo value loses its kind\n\t\t\tstack = append(stack, it)\n",
		pkgs: []string{"./serving/formats/leaves/"},
	},
	{
		name:  "pmml-plan-budget-unchecked",
		what:  "serving/formats/pmml compiles a document whose plan is over the budget (small documents asking for huge tables)",
		file:  "serving/formats/pmml/compile.go",
		old:   "if c.used+c.nslots > maxPlanValues || c.used < 0 {",
		new:   "if false && c.used+c.nslots > maxPlanValues || c.used < 0 {",
		pkgs:  []string{"./serving/formats/pmml/"},
		tests: "TestPlanBudget|TestTreeDistributionBudget",
	},
	{
		name:  "pmml-apply-args-evaluated-twice",
		what:  "serving/formats/pmml evaluates an Apply's arguments again after its mapMissingTo check (work doubling per nesting level)",
		file:  "serving/formats/pmml/apply.go",
		old:   "eval[i] = func(s *state) float64 { return s.v[slot] }",
		new:   "eval[i] = args[i]",
		pkgs:  []string{"./serving/formats/pmml/"},
		tests: "TestApplyMapMissingToEvaluatesOnce|TestExpressions",
	},
	{
		name:  "pmml-unused-derived-computed",
		what:  "serving/formats/pmml computes a DerivedField nothing reads, so its Apply's invalid result fails records JPMML scores",
		file:  "serving/formats/pmml/compile.go",
		old:   "\t\tsc.steps = &discard\n",
		new:   "\t\t_, _ = sc, discard // mutant: unused fields keep their steps\n",
		pkgs:  []string{"./serving/formats/pmml/"},
		tests: "TestUnusedDerivedFieldIsNotEvaluated|TestExpressions",
	},
	{
		name: "kafkalog-reads-past-lso",
		what: "internal/kafkalog reads committed records to the high-water mark, past an open transaction",
		file: "internal/kafkalog/kafkalog.go",
		old:  "if readCommitted && block.LastStableOffset >= 0 && block.LastStableOffset < to {",
		new:  "if false && readCommitted && block.LastStableOffset >= 0 && block.LastStableOffset < to {",
		pkgs: []string{"./internal/kafkalog/"},
	},
	{
		name:  "server-closes-shared-model",
		what:  "serving Server closes a model instance as soon as one version holding it drains, though another version (or name) still serves it",
		file:  "serving/own.go",
		old:   "\tif n > 0 {\n",
		new:   "\tif false && n > 0 {\n",
		pkgs:  []string{"./serving/"},
		tests: "SameInstance|Uncomparable|Refs|HotSwap",
	},
	{
		name:  "server-refs-acquires-dead",
		what:  "serving Server lets a call acquire a version already closed (the reference count's dead mark is ignored)",
		file:  "serving/stats.go",
		old:   "\tif a&refsDead != 0 {\n",
		new:   "\tif false && a&refsDead != 0 {\n",
		pkgs:  []string{"./serving/"},
		tests: "Refs|CloseRaces|HotSwap",
	},
	{
		name:  "server-refs-close-unmarked",
		what:  "serving Server closes a version without marking it dead, so a call that loaded it before the swap can still use it, or close it again",
		file:  "serving/stats.go",
		old:   "return r == c.acquired.Load() && c.acquired.CompareAndSwap(r, r|refsDead)",
		new:   "return r == c.acquired.Load()",
		pkgs:  []string{"./serving/"},
		tests: "Refs|CloseRaces|HotSwap",
	},
	{
		name:  "server-counts-refused-records",
		what:  "serving Server counts a record refused before the model (non-finite, unbound, done context) among the model's Invocations",
		file:  "serving/server.go",
		old:   "\tl.stats.skip(1)\n\treturn l.failed(err)\n",
		new:   "\treturn l.failed(err)\n",
		pkgs:  []string{"./serving/"},
		tests: "Stats",
	},
	{
		name:  "server-invocations-go-down",
		what:  "serving Stats.Invocations goes down from one snapshot to the next when a record counted in flight is then refused before the model",
		file:  "serving/stats.go",
		old:   "\t\tif inv <= r {\n",
		new:   "\t\tif inv <= r && false {\n",
		pkgs:  []string{"./serving/"},
		tests: "Stats",
	},
	{
		name:  "fetch-stray-percent-unjudged",
		what:  "serving Location allow-list stops judging a path segment at a \"%\" that is no escape, so \"%252e%252e;%25zz\" reaches the server, \"..;%zz\" to a lenient second decoder",
		file:  "serving/fetch.go",
		old:   "\t\t\td := unescapeLoosely(seg)\n",
		new:   "\t\t\td, err := url.PathUnescape(seg)\n\t\t\tif err != nil {\n\t\t\t\tbreak\n\t\t\t}\n",
		pkgs:  []string{"./serving/"},
		tests: "TestAllowRefusesWhatLenientServersReadAsDotSegments",
	},
	{
		name:  "server-batch-counts-refused-records",
		what:  "serving Server counts the records of a batch refused before the model (non-finite, unbound) among the model's Invocations",
		file:  "serving/batch.go",
		old:   "\t\tl.stats.skip(uint64(refused))\n",
		new:   "\t\t_ = refused\n",
		pkgs:  []string{"./serving/"},
		tests: "Stats",
	},
	{
		name:  "trainkafka-relearns-redelivered",
		what:  "training/trainkafka Source hands the trainer again the records a rebalance or a restart redelivers, which its state (or checkpoint) already learned",
		file:  "training/trainkafka/trainkafka.go",
		old:   "if last, ok := s.read[tp]; ok && it.msg.Offset <= last {",
		new:   "if last, ok := s.read[tp]; false && ok && it.msg.Offset <= last {",
		pkgs:  []string{"./training/trainkafka/"},
		tests: "Rebalance|Restart|Resume",
	},
	{
		name: "canary-counts-cancelled-calls",
		what: "speculative/canary counts a call its caller cancelled as the side's error",
		file: "speculative/canary/canary.go",
		old:  "if failed && errors.Is(ctx.Err(), context.Canceled) {",
		new:  "if false && failed && errors.Is(ctx.Err(), context.Canceled) {",
		pkgs: []string{"./speculative/canary/"},
	},
	{
		name: "canary-quality-ok-without-spread",
		what: "speculative/canary reads losses that never varied on either side as shown within margin",
		file: "speculative/canary/evidence.go",
		old:  "\tif !(se2 > 0) {\n\t\treturn m\n",
		new:  "\tif !(se2 > 0) {\n\t\tm.shown = true // mutant\n\t\treturn m\n",
		pkgs: []string{"./speculative/canary/"},
	},
	{
		name:  "canary-pools-steps",
		what:  "speculative/canary compares the two sides over the whole rollout, not step by step: a bad period weighs on the side that served most during it",
		file:  "speculative/canary/canary.go",
		old:   "\t\tc.window.Store(int64(min(c.step, len(c.windows)-1)))\n",
		new:   "\t\t// mutant: one window for the whole rollout\n",
		pkgs:  []string{"./speculative/canary/"},
		tests: "BadPeriod",
	},
	{
		name: "audit-waits-for-stuck-sink",
		what: "governance Audit waits for a sink that ignores its context, stalling the feed or Server that records an event",
		file: "governance/audit.go",
		old:  "\tcase <-sctx.Done():\n",
		new:  "\tcase <-make(chan struct{}): // mutant: wait however long the sink takes\n",
		pkgs: []string{"./governance/"},
	},
	{
		name:  "txn-outputs-outside-transaction",
		what:  "serving/kafka exactly-once: the outputs are written through the Sink's own producer, outside the transaction that commits their records' offset",
		file:  "serving/kafka/txn.go",
		old:   "\t\ts.write(t.send, it, func(err error) { b.ack(i, err) })\n",
		new:   "\t\ts.write(s.sink.send, it, func(err error) { b.ack(i, err) }) // mutant\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestExactlyOnce",
	},
	{
		name:  "txn-offsets-outside-transaction",
		what:  "serving/kafka exactly-once: the consumed offset is committed by the consumer group before the transaction of its outputs commits, not in it",
		file:  "serving/kafka/txn.go",
		old:   "err := t.p.AddOffsetsToTxnWithGroupMetadata(map[string][]*sarama.PartitionOffsetMetadata{\n\t\t\ttp.Topic: {{Partition: tp.Partition, Offset: txn.next}},\n\t\t}, meta)\n",
		new:   "sess.MarkOffset(tp.Topic, tp.Partition, txn.next, \"\") // mutant\n\t\tsess.Commit()\n\t\tvar err error\n\t\t_ = meta\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestExactlyOnce",
	},
	{
		name:  "txn-refused-writes-back-off",
		what:  "serving/kafka exactly-once: the writes a failed transaction still holds are retried with backoff for RetryTimeout before the abort",
		file:  "serving/kafka/txn.go",
		old:   "ProducerTxnFlagInError != 0 {\n\t\t\treturn 0\n",
		new:   "ProducerTxnFlagInError != 0 {\n\t\t\t_ = 0 // mutant: back off as for a broken connection\n",
		pkgs:  []string{"./serving/kafka/"},
		tests: "TestExactlyOnceRefusalAbortsAtOnce",
	},
}

func main() {
	run := flag.String("run", "", "only mutants whose name matches this regular expression")
	list := flag.Bool("list", false, "list the mutants and exit")
	timeout := flag.Duration("timeout", 5*time.Minute, "go test -timeout for each mutant")
	flag.Parse()
	re, err := regexp.Compile(*run)
	if err != nil {
		fatal(err)
	}
	var todo []mutant
	for _, m := range mutants {
		if re.MatchString(m.name) {
			todo = append(todo, m)
		}
	}
	if *list {
		for _, m := range todo {
			fmt.Printf("%-32s %s (%s)\n", m.name, m.what, m.file)
		}
		return
	}
	root, err := output(exec.Command("git", "rev-parse", "--show-toplevel"))
	if err != nil {
		fatal(err)
	}
	dir, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		fatal(err)
	}
	wt := filepath.Join(dir, "wt")
	if _, err := output(exec.Command("git", "-C", root, "worktree", "add", "--detach", wt, "HEAD")); err != nil {
		fatal(err)
	}
	defer func() {
		exec.Command("git", "-C", root, "worktree", "remove", "--force", wt).Run()
		os.RemoveAll(dir)
	}()

	fmt.Println("| mutant | guarantee broken | result | caught by |")
	fmt.Println("|---|---|---|---|")
	bad := 0
	for _, m := range todo {
		res, by := try(wt, m, *timeout)
		if res != "caught" {
			bad++
		}
		fmt.Printf("| %s | %s | %s | %s |\n", m.name, m.what, res, by)
	}
	if bad > 0 {
		defer os.Exit(1)
	}
}

// try applies m in the worktree wt, runs its tests and restores the file.
func try(wt string, m mutant, timeout time.Duration) (result, by string) {
	path := filepath.Join(wt, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "stale", err.Error()
	}
	if n := bytes.Count(orig, []byte(m.old)); n != 1 {
		return "stale", fmt.Sprintf("the original text occurs %d times", n)
	}
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
		return "error", err.Error()
	}
	defer os.WriteFile(path, orig, 0o644)

	args := []string{"test", "-count=1", "-failfast", "-timeout", timeout.String()}
	if m.tests != "" {
		args = append(args, "-run", m.tests)
	}
	args = append(args, m.pkgs...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = wt
	out, err := cmd.CombinedOutput()
	if err == nil {
		return "MISSED", ""
	}
	var failed []string
	build := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "--- FAIL: "):
			name := strings.Fields(strings.TrimSpace(line))[2]
			if len(failed) < 4 {
				failed = append(failed, name)
			}
		case strings.Contains(line, "[build failed]") || strings.Contains(line, "[setup failed]"):
			build = true
		case strings.HasPrefix(line, "panic: test timed out"):
			failed = append(failed, "(timeout)")
		}
	}
	if build && len(failed) == 0 {
		return "does not build", firstLines(out, 3)
	}
	if len(failed) == 0 {
		return "caught", "(no test named: " + firstLines(out, 1) + ")"
	}
	return "caught", strings.Join(failed, ", ")
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.ReplaceAll(strings.Join(lines, "; "), "|", "/")
}

func output(cmd *exec.Cmd) (string, error) {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}

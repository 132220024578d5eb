// Package training learns models from the stream and publishes them back
// as data. It closes modelstream's loop: records flow in, a [Learner]
// updates a linear, logistic or softmax regression with every record, and
// a [Trainer] publishes new versions as serving.Descriptors in the
// "linear" format, which every serving instance loads and hot-swaps.
//
// # Learners
//
// [NewLearner] makes a [Learner] of kind [Linear] (least squares),
// [Logistic] (binary log loss) or [Softmax] (multinomial cross-entropy).
// [Learner.Learn] takes one [Sample] at a time; [Learner.LearnBatch]
// takes a mini-batch (one Adam step on its mean loss, or one Newton step
// per sample, or its samples added to the least-squares fit). A Learner has
// one writer; it is not safe for concurrent use.
//
// # Optimisers
//
// A Linear learner fits exact least squares by default ([LeastSquares]):
// after every record, its weights are the least-squares fit of all the
// records so far, as the normal equations would give it, in one pass and
// whatever the order of the records or the units of the features. It
// keeps the running means and co-moments of the features and the target
// (the weighted form of Welford's algorithm, O(d²) per record, kept as
// means so that features up to about 1e150 in size stay in range), and
// solves the normal equations in correlation space, R·a = g, by a
// Cholesky factorisation whenever the weights are needed: O(d³), which
// is once per record when every record is predicted before it is
// learned. It is recursive least squares by another route: the same
// answer, without the inverse matrix P that RLS carries and lets drift
// out of symmetry, and with a prior that does not depend on the units.
//
// The prior is a ridge of a hundredth of a record on the standardised
// weights (RLS's initial P = 100·I in standardised units): it keeps the
// first few records' fits tame and changes a fit on n records by about
// 0.01/n. [WithL2] adds a ridge of λ per record. Degenerate streams have
// documented fallbacks, never NaN weights: a constant feature (or one
// whose spread is below 1e-153) gets weight 0 and its effect goes to the
// intercept; collinear features share their effect through the prior,
// and a feature that is numerically a combination of earlier ones is
// left out of the fit; a single repeated row, or a target with no
// variance, is predicted as its mean; a coefficient too large for
// float64 in the exported coordinates is left out.
//
// [WithForgetting] sets a forgetting factor ρ: the record learned k
// records ago weighs ρ^k, for a stream that drifts. The default ρ = 1
// weighs all records alike, which is right for a stationary stream; a
// [Trainer] can [Learner.Reset] the learner when drift is detected
// instead. The prior is not forgotten, so a fit under forgetting never
// winds up as RLS's P does.
//
// Logistic and Softmax learners with up to 64 features fit by Newton
// steps ([Newton]): online IRLS, which for logistic regression is the
// extended Kalman filter. For each output the learner keeps P, the
// inverse of a prior plus the summed Hessians of the records' losses,
// and after each record takes the Newton step with it: with h =
// p(1-p) the record's curvature, P ← P - h·Px(Px)ᵀ/(1 + h·xᵀPx) and
// w ← w - Px·(p - y)/(1 + h·xᵀPx), in O(d²) per record and output
// (Softmax uses one such block per class, the block-diagonal part of its
// Hessian). There is no step size to choose. The prior is a ridge of one
// record on the standardised weights, so [WithL2] is an error with
// Newton, as are Adam's options. On the red-wine data (below; good,
// quality ≥ 6, for Logistic, and the grade for Softmax, 20 shuffles of
// 5-fold cross-validation), one pass reaches held-out accuracy 74.15%
// and log-loss 0.529 (Logistic) and 59.15% and 0.974 (Softmax), where
// the batch maximum-likelihood fit (scikit-learn, lbfgs) has 74.29% and
// 0.527, and 59.42% and 0.978; Adam with its defaults reaches 73.68%
// and 0.536, and 57.77% and 1.000, and no better after five passes or
// with the rates tried (TestWineClassifiers, -wine.classify). It costs
// more per record: on 11 features, about 2.1 million records per CPU
// second for Logistic against Adam's 2.9 million, and 0.96 million
// against 1.8 million for a 3-class Softmax (BenchmarkLearnOnline).
// Above 64 features, where O(d²) would cost more than it gains, the
// default is Adam. A standardised value beyond 1e100 (a feature whose
// spread, above about 1e154, overflows the standardiser) is left out of
// the step, so the other features are still learned; a step that is not
// finite, or meets a curvature matrix rounding has left indefinite, is
// skipped and counted in [Learner.SkippedSteps].
//
// Learners above that size, and any given WithOptimizer(Adam), use
// Adam: per parameter,
// m ← β1·m + (1-β1)·g and v ← β2·v + (1-β2)·g², and the step is
// η_t·m̂/(√v̂ + ε) with the usual bias corrections m̂ = m/(1-β1^t),
// v̂ = v/(1-β2^t). The defaults are η = 0.01, β1 = 0.9, β2 = 0.999,
// ε = 1e-8 ([WithLearningRate], [WithAdam]). The learning rate follows
// the schedule η_t = η/√(1 + t/τ) set by [WithDecay]; the default τ = 0
// keeps η constant. These options are errors with LeastSquares and
// Newton, which have no step to tune.
//
// The choice of schedule is the choice between precision and agility.
// Adam's steps stay near η in size even when the gradient is pure noise,
// so with a constant η the weights keep jittering around the optimum: on
// a stationary stream set a decay, and replay the data over several
// passes ([Replay]); the fit then approaches the maximum-likelihood
// solution (the tests hold Adam's linear regression to within 1% of the
// normal-equations MSE after three passes). On a drifting stream a
// constant η keeps the learner able to follow, and a [Trainer] can
// [Learner.Reset] it when drift is detected, which restarts the
// schedule too.
//
// With Adam, [WithL2] adds λ·w to each weight's gradient (classic L2,
// not AdamW's decoupled decay); biases are not penalised.
//
// On the red-wine data of Cortez et al. (training/testdata), with 20
// shuffles of 5-fold cross-validation and one pass, the default Linear
// learner is the least-squares fit: MAD 0.5053 and 59.06% of predictions
// rounded to the right grade (mean over 20 seeds; the paper reports 0.50
// and 59.1% for multiple regression). Adam with its defaults and one
// pass reaches 0.5246 and 57.46% on the same folds (BenchmarkWineCV
// reports both, on one seed).
//
// # Standardisation
//
// Real features differ in scale by orders of magnitude, so each learner
// standardises its inputs with a running standardiser: Welford's
// one-pass mean and variance, and u = (x - mean)/scale, where scale is
// the sample standard deviation (or 1 when it is below 1e-12 or not
// finite, as for a constant feature). The model a [Learner.Snapshot]
// exports carries the current mean and scale of every feature. A Linear learner
// with Adam standardises its target the same way, so that η means the
// same thing whatever the target's units.
//
// The weights live in standardised space, and the standardiser moves as
// data flows. That is the subtlety: the same weights describe a slightly
// different function after each record, because mean and scale have
// moved. The package resolves it in one direction only: a prediction
// and a [Learner.Snapshot] always pair the current
// weights with the current mean and scale, so the exported model is
// exactly the learner's current function, bit for bit. A LeastSquares
// learner solves in its own coordinates and expresses the solution in
// the standardiser's, so the movement does not touch its fit. For Adam
// and Newton the movement of the statistics is O(1/n) and the optimiser
// absorbs it as it goes; to stop it altogether, [WithStandardizeFor] freezes the standardiser after
// n records. [Learner.Coefficients] maps the weights back to raw feature
// units for reading.
//
// # Cost
//
// A learner allocates nothing per record. With 11 features, counted in
// CPU time on the development machine, an online update (progressive
// prediction, standardiser update, Adam step) of a linear learner with
// Adam takes about 0.25µs (4 million records per CPU-second), and a
// mini-batch of 64 about 6.4µs (10 million records per CPU-second),
// since a batch makes one Adam step and refreshes the standardiser's
// scales once. Online, a logistic learner takes about 0.33µs and a
// three-class softmax about 0.5µs with Adam; their exponentials make
// their mini-batches cost 1.6 and 2.2 times a linear one's. Their
// default, Newton, costs about 1.3 times Adam's per record for Logistic
// and 1.9 times for a three-class Softmax (see Optimisers). The default
// LeastSquares update costs about 2.6 times Adam's online, most of it
// the Cholesky solve: 1.55 million records per CPU-second against Adam's
// 4.0 million. The solve grows as d³ where Adam grows as d, so for
// hundreds of features prefer WithOptimizer(Adam), or mini-batches,
// which solve once per batch. The machine is shared and noisy, so run
// the BenchmarkLearnOnline and BenchmarkLearnBatch64 benchmarks, which
// compare the two in one run and report samples per CPU-second beside
// samples per second, to measure your own. The figures above come from
// one run of go test ./training -run '^$' -bench
// 'LearnOnline|LearnBatch64' -count 3, at a load average of 22 on two
// cores.
//
// # Progressive validation
//
// Each record is predicted before it is learned, and the outcome is added
// to the learner's [Metrics]: mean loss, accuracy, and mean absolute
// error. These progressive metrics estimate the error on unseen data
// without a held-out set, and they are what snapshots carry as labels.
// For Linear learners "accuracy" is the share of predictions that round
// to the target's nearest integer, which suits graded targets such as
// wine quality.
//
// # Snapshots
//
// [Learner.Snapshot] exports a serving.Descriptor in the linear format:
// the JSON document as Bytes, its SHA-256 as the content ID, the parent
// content ID for lineage, and labels (the Label constants) carrying the
// record count and the progressive metrics.
//
// # Checkpoints
//
// [Learner.Save] writes the full state (configuration, weights, Adam
// moments and step, or the LeastSquares or Newton state, standardisers,
// metrics) to a file atomically: a
// temporary file in the same directory is written and synced, renamed
// over the old one, and the directory is synced. The file carries a
// SHA-256 checksum, and [Learner.Restore] refuses a
// truncated or damaged file, or one written for another kind of learner, with an *fs.PathError (naming the file) wrapping
// [serving.ErrCorruptState]. A restored learner predicts, and continues to
// learn, bit for bit as the saved one would have; a crash loses only the
// records learned since the last checkpoint.
//
// # Distillation
//
// [Distill] trains a simple student Learner to imitate any teacher
// serving.Scorer, such as a gradient-boosted tree ensemble, by using the
// teacher as a data generator: each input is scored by the teacher and
// the teacher's output becomes the target (a soft target for logistic
// and softmax students). Inputs are any iter.Seq of feature vectors: the
// live stream, a [Replay] of recorded rows, or synthetic inputs from
// [Sampled] or [Jittered]. [Distill] returns the progressive
// agreement, and [Agreement] measures it on held-out rows.
//
// # Drift
//
// A [Detector] watches the per-record loss or error and says when its
// mean has risen. Two standard detectors are provided, each with its
// parameters documented on the type:
//
//   - [PageHinkley], the Page-Hinkley test: δ (tolerated change), λ
//     (threshold), α (fading) and a warm-up;
//   - [ADWIN], Bifet and Gavaldà's adaptive window: δ (confidence), a
//     check interval, and the bucket and sub-window sizes.
//
// With their defaults, on 200 streams of 0/1 errors whose rate jumps from
// 10% to 40% at a known record, Page-Hinkley fires a mean 144 (at most
// 249) records after the change with 2 false alarms in a million records
// before it, and ADWIN a mean 71 (at most 119) records after it with
// none.
//
// # Trainer
//
// A [Trainer] wires a [Source] of labelled records to a Learner and a
// [Publisher]. It learns every record, feeds the progressive error to its
// detector, and publishes the learner's snapshot as the next version when
// a trigger fires: every n records ([EveryRecords]), every interval
// ([EveryInterval]), on drift ([OnDrift]), and once more when the source
// ends. With [RetrainOnDrift] drift resets the learner, which retrains
// from scratch on the records after the change, and the new version goes
// out once it has learned a set number of them.
//
// # Drift on live error
//
// The progressive error is the trainer's view. What the users of a
// model see is its live error: its scores joined to the truth that
// arrives later (package serving/feedback, fed from Kafka by
// serving/feedback/feedbackkafka). feedback.Drift runs a [Detector] on
// that error and calls a function when it fires; given
// [Trainer.ReportDrift], the live drift retrains the model:
//
//	watch, err := feedback.Drift(ph.Add, loss, func(m feedback.Match) {
//		trainer.ReportDrift(m.Score.Provenance.Model)
//	})
//
// The trainer handles the report with its next record as it would its
// own detector's alarm: with RetrainOnDrift it resets the learner and
// publishes the retrained version (LabelTrigger "live_drift") once it
// has learned n records after the change. Reports about a version older
// than the one it last published are refused, so the late truth about a
// retired version does not retrain its successor. OnDrift is not needed
// for this; with it, either alarm starts a retrain.
//
// Package training/trainkafka supplies the Kafka side: a Source that
// reads a data topic in a consumer group of the trainer's own, and a
// Publisher that writes versions to the models topic through
// serving/kafka, from which every scoring instance's ModelFeed hot-swaps
// them. examples/retrain runs the whole loop on an embedded broker.
//
// Every version carries its lineage and its evidence: Version is the next
// number, Parent the content ID of the previous version, and the labels
// hold the progressive loss and accuracy (of the learner, and of the
// window since the previous version), the records seen, the parent
// version and the trigger.
//
// Numbers continue after what is already published. When Run starts,
// the trainer asks its publisher for the latest version of its model
// name, if the publisher can tell ([VersionLookup]: [ServerPublisher]
// and training/trainkafka's Publisher can), or takes it from
// [WithBaseVersion]. It numbers after the higher of that version and its
// checkpoint's counter, and its first version's parent is that
// version's content ID. A trainer restarted without its checkpoint
// therefore publishes v4 after v3, not a second v1 that every scoring
// instance would skip as stale, and a crash between a publication and
// the next checkpoint never re-publishes a number with other bytes.
//
// With [WithCheckpoint] the trainer saves its whole state (learner,
// detector, version counter, lineage, counters) atomically every n
// records, before and after every publication and on shutdown, and
// restores it when it starts. Sources that implement [Committer], such as a Kafka consumer
// group, are committed only after the state that learned their records is
// on disk, so a crash replays at most the records since the last
// checkpoint and the restarted trainer continues bit for bit, publishing
// the same versions it would have published without the crash. (A crash
// in the instant between publishing a version and saving the checkpoint
// after it is the exception: the restarted trainer learns the same
// records but skips the number that was reserved for the version, so
// that a number never names two different models.)
package training

// Package registry keeps model versions: one concrete type, [Registry],
// over a small [Storage] interface, with aliases, lineage, an activation history that
// answers "which version was live at time t", and resume points for the
// models topic.
//
// # Versions
//
// A model is a [serving.Descriptor] stored under its name. [Registry.Put]
// assigns the next version when the descriptor has none (Version 0), so
// versions are monotonic per name. A version, once stored, never changes:
// putting the same version again with the same content (content ID and
// format) is an idempotent no-op, which makes replays of the models topic
// harmless, and putting it with different content fails with
// [ErrVersionConflict]. [Registry.Get], [Registry.Resolve] (by alias; the
// alias [Latest] is the highest version) and [Registry.List] read versions
// back; List returns metadata ([Version]) only.
//
// Retention ([Retain]) bounds disk use: only the bytes of the last N
// versions of each name are kept, plus those an alias points at and the
// one currently active. Metadata is kept forever, so lineage and history
// stay complete; [Registry.Get] of a pruned version returns its metadata and
// [ErrPruned].
//
// # Aliases and lineage
//
// Aliases such as "champion" and "challenger" name a version of a model.
// [Registry.SetAlias] moves one atomically: a concurrent [Registry.Resolve] sees
// either the old or the new version, whole. The alias [Latest] is
// reserved and always means the highest version.
//
// Each Descriptor may name its Parent by content ID: the model it was
// fine-tuned or distilled from, possibly under another name.
// [Registry.Lineage] follows those links back to the root.
//
// # Activation history and time travel
//
// Creation time says when a model was made, not when it served. The store
// therefore keeps an activation history per name: activations, rollbacks
// and retirements, with the instant the serving.Server swapped. A
// [Follower] hooked into a Server records them as they happen, and
// [Rollback] activates an earlier stored version and records it.
// [Registry.At] answers which version was active at an instant, exactly at
// the boundaries: an activation at t is active at t.
//
// At answers for one Server. Several instances swap at slightly different
// moments, each when it reads the models topic, so the history of one
// instance is exact for that instance and approximate for the fleet.
// Package governance explains why the provenance stamped on each output
// record is the stronger answer.
//
// # Storage
//
// A [Registry] keeps its data in a [Storage]: an ordered key-value map
// with atomic transactions, which is all a backend has to provide; the
// Registry owns the key layout and every rule above. [NewMemory] uses one
// in memory, for tests and for instances that rebuild everything from
// the models topic. Package registry/bolt provides a durable one in a
// single local bbolt file, kept out of this package so that importing
// registry (as governance does) does not link bbolt:
//
//	st, err := bolt.Open("/var/lib/app/models.db")
//	...
//	reg, err := registry.New(st, registry.Retain(10))
//
// With bolt, every acknowledged write was committed with fsync, and a
// crash at any moment leaves the file as it was after the last
// acknowledged write; its crash test kills a writer process with
// SIGKILL at random moments and checks exactly that.
//
// # Resuming from the models topic
//
// The models topic stays the shared log: every instance reads all of it.
// The durable store lets a restarted instance skip what it has already
// read. A model feed stores each model that goes live with Put (never
// one that fails to load or validate), and after each message records the
// offset of the next with [Registry.SetOffsets]; after a restart it reads
// [Registry.Offsets] and resumes there, and [Restore] re-activates what the
// history says was live. A crash between Put and SetOffsets re-reads a
// few messages, which idempotent puts absorb. Package registry/kafkafeed
// wires exactly this into the Kafka ModelFeed of serving/kafka.
package registry

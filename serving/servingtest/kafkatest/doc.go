// Package kafkatest starts an in-process Kafka cluster for tests and
// demos. It wraps github.com/twmb/franz-go/pkg/kfake, a fake broker that
// speaks the real Kafka protocol over TCP, so any client (sarama, kcat,
// a JVM program) can connect to it.
//
// # Why a package of its own
//
// The helper lives apart from package servingtest so that importing the
// fake models costs nothing: kfake and franz-go are compiled only into
// programs that import kafkatest.
//
// # Usage
//
// In a test:
//
//	c := kafkatest.New(t, kafkatest.Topic("data", 4), kafkatest.Topic("models", 1))
//	brokers := c.Addrs()
//
// [Cluster.Produce] writes test input, and [Cluster.Consume] reads a
// topic in the background from its oldest offset, so a test checks what
// the code under test wrote without a line of sarama:
//
//	scores := c.Consume(t, "scores")
//	c.Produce(t, "data", kafkatest.Message{Key: []byte("k"), Value: []byte(`{"amount": 25}`)})
//	// ... run the code under test ...
//	m := scores.Next(t, 1)[0]
//	score, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
//	prov, err := wire.ProvenanceOf(m.Headers, nil) // which model, from the headers alone
//
// wire.DecodeScore reads a score in either JSON encoding of the Sink
// (the default, or the compact one whose provenance is in the headers),
// which is why it takes the whole record.
//
// The pipeline example tests a whole service this way: a model message
// (wire.EncodeModel) produced to the models topic, a ModelFeed, a Source
// and a Sink, scores and dead letters read back. Publish the model before
// the feed starts and wait for the feed's CaughtUp, or records may reach
// the Source before any version is live and be dead-lettered with
// serving.ErrNoModel.
//
// In a program, [Start] returns the cluster and an error, and the caller
// calls [Cluster.Close]. [Ports] fixes the listening ports, so outside tools
// such as kcat can connect to 127.0.0.1:9092.
//
// # Faults
//
// [Unresponsive] returns the address of a broker that accepts
// connections and never answers, to check that code gives up when its
// context ends. [Cluster.FailFetches] makes the cluster answer the
// fetches of some topics with an error until stopped; with
// OFFSET_OUT_OF_RANGE, as after retention deleted records ahead of a
// consumer, it tests that code notices a lost partition. [Cluster.Fake]
// gives kfake's Control methods for any other fault.
//
// # Compatibility
//
// The cluster answers Kafka protocol versions up to the newest kfake
// knows; sarama v1.61 with its default Version (2.8) works against it, as
// do idempotent producers and consumer groups. Topics that are not seeded
// are created on first use with 4 partitions, as a real
// broker with auto.create.topics.enable would.
package kafkatest

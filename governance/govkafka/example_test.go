package govkafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/governance/govkafka"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// An AuditSink keeps the audit trail on a topic, one record per event,
// keyed by model name; the Audit writes to it.
func ExampleNewAuditSink() {
	cluster, err := kafkatest.Start()
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, _ := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	ctx := context.Background()
	sink, err := govkafka.NewAuditSink(ctx, cfg) // creates the topic if need be
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	audit, _ := governance.NewAudit(governance.AuditLogger(quiet), governance.AuditTo(sink))
	audit.Record(ctx, governance.Event{Kind: governance.KindRejected, Model: serving.ModelRef{Name: "fraud", Version: 7}, Reason: "unsigned", Error: "unsigned"})

	t := &exampleT{}
	defer t.done()
	m := cluster.Consume(t, govkafka.DefaultAuditTopic).Next(t, 1)[0]
	e, _ := govkafka.ParseAuditEvent(m.Value)
	kind, _ := m.Header(wire.HeaderAuditKind)
	fmt.Println(string(m.Key), kind, e.Model, e.Error)
	// Output: fraud rejected fraud@v7 unsigned
}

// exampleT stands in for a test's *testing.T.
type exampleT struct{ cleanups []func() }

func (*exampleT) Helper()                           {}
func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (e *exampleT) Cleanup(f func())                { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) done() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

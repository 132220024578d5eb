package governance_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// An audit sink receives every event, in order: here the Verifier's and
// the Server's for one model that is admitted and one that is refused.
// governance/govkafka has a sink that writes them to a Kafka topic.
func ExampleAuditSinkFunc() {
	ctx := context.Background()
	sink := governance.AuditSinkFunc(func(_ context.Context, e governance.Event) error {
		fmt.Println(strings.TrimSpace(fmt.Sprint(e.Source, " ", e.Kind, " ", e.Model, " ", e.Reason)))
		return nil
	})
	audit, _ := governance.NewAudit(governance.AuditLogger(quiet), governance.AuditTo(sink))
	v, _ := governance.NewVerifier(governance.WithAudit(audit))
	srv, _ := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(audit), serving.WithAdmission(v))

	srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("fraud", 2))
	v.Verify(ctx, servingtest.Spec{Value: 0}.Descriptor("fraud", 1)) // an old version sent again
	srv.Retire("fraud")                                              // an operator's retirement
	srv.Close()                                                      // a shutdown is none: not audited
	// Output:
	// verifier received fraud@v2
	// verifier verified fraud@v2
	// server loaded fraud@v2
	// server activated fraud@v2
	// verifier received fraud@v1
	// verifier rejected fraud@v1 replay
	// server retired fraud@v2
}

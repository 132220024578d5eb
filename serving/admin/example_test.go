package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/servingtest"
)

func Example() {
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()
	h, _ := admin.New(srv, admin.RequireModels("churn"))

	ready := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code
	}
	fmt.Println("before:", ready())
	srv.Activate(context.Background(), servingtest.Spec{Value: 0.3}.Descriptor("churn", 1))
	fmt.Println("after:", ready())
	// Output:
	// before: 503
	// after: 200
}

package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

func Example_main() {
	main()
	// Output: fraud@v1 scored 0.463
}

// TestReadmeShowsThisCode: the README's "Embed it" and "Writing your own
// Scorer" snippets are this package's files, so they compile and run.
func TestReadmeShowsThisCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for file, from := range map[string]string{"main.go": "package main", "scorer.go": "// ErrNoAmount"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		code := string(b)
		code = code[strings.Index(code, from):]
		if !strings.Contains(string(readme), "```go\n"+code+"```") {
			t.Errorf("README.md does not show %s as it is (from %q on)", file, from)
		}
	}
}

// TestRulesInAVote: the guide's Scorer votes with Server slots whose
// models speak the same labels, honours its context, and returns typed
// errors with its provenance.
func TestRulesInAVote(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	model := []byte(`{"kind":"logistic","features":1,"weights":[[0.01]],"bias":[-2],"classes":["ok","fraud"]}`)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "fraud", Format: "linear", Bytes: model}); err != nil {
		t.Fatal(err)
	}
	rules := Rules{Version: 3, Limit: 400}
	vote, err := speculative.NewEnsemble(speculative.Vote(), []serving.Scorer{rules, srv.Model("fraud"), Rules{Version: 4, Limit: 450}}, speculative.WithName("vote"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := vote.Score(ctx, serving.Record{Features: []float64{500}})
	if err != nil || res.Label != "fraud" || res.Provenance.Decision == nil || len(res.Provenance.Decision.Candidates) != 3 {
		t.Fatalf("vote: %+v, %v", res, err)
	}
	if c := res.Provenance.Decision.Candidates[0].Model; c != rules.Ref() {
		t.Errorf("first candidate named %v, want %v", c, rules.Ref())
	}
	res, err = rules.Score(ctx, serving.Record{})
	var se *serving.ModelError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoAmount) || res.Provenance.Model != rules.Ref() {
		t.Errorf("no amount: %+v, %v", res, err)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-cctx.Done()
	if _, err := rules.Score(cctx, serving.Record{Features: []float64{1}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("done context: %v", err)
	}
}

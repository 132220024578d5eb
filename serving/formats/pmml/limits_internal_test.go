package pmml

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestOversizedDocument lowers the size limit so the test needs no
// quarter-gigabyte document.
func TestOversizedDocument(t *testing.T) {
	defer func(n int) { maxDocumentBytes = n }(maxDocumentBytes)
	maxDocumentBytes = 1000
	doc := "<PMML>" + strings.Repeat(" ", 1000) + "</PMML>"
	_, err := Parse([]byte(doc))
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("err = %v, want corrupt: over the limit", err)
	}
}

// TestScorecardReasonCodes checks the ranked reason codes of the DMG
// scorecard example; they are not part of a Prediction, so the test reads
// the output slots.
func TestScorecardReasonCodes(t *testing.T) {
	b, err := os.ReadFile("testdata/pmml4s/dmg_scorecard_example.xml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// department engineering (3 of baseline 19: 16 below, RC1), age 25 (0
	// of 18: 18 below, RC2), income 500 (26 of 10: 16 above, RC3).
	x := []float64{float64(slices.Index(m.info.Inputs[0].Categories, "engineering")), 25, 500}
	p, err := m.Predict(context.Background(), x)
	if err != nil || p.Value != 29 {
		t.Fatalf("score %v, %v; want 29", p.Value, err)
	}
	s := m.getState()
	defer m.pool.Put(s)
	for _, st := range m.pre {
		s.v[st.slot] = st.e(s)
	}
	for i := range m.inputs {
		s.v[m.inputs[i].dst], _ = m.inputs[i].apply(x[i])
	}
	m.top.eval(s)
	var got []string
	for _, o := range m.top.outs[1:] {
		v := s.v[o.slot]
		got = append(got, m.strs[int(v)])
	}
	if strings.Join(got, ",") != "RC2,RC1,RC3" {
		t.Fatalf("reason codes %v, want RC2,RC1,RC3", got)
	}
}

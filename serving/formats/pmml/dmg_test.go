package pmml_test

import (
	"slices"
	"testing"
)

// The DMG's own example documents (from the PMML specification pages),
// as kept by the pmml4s project, with the results its tests expect; see
// testdata/README.md.

func TestDMGRegression(t *testing.T) {
	cases := []struct {
		file  string
		rec   map[string]any
		value float64
		label string
	}{
		{"dmg_regression_linear.xml", map[string]any{"age": 20, "salary": 1000, "car_location": "street"}, 609.4, ""},
		{"dmg_regression_polynomial.xml", map[string]any{"salary": 1000, "car_location": "street"}, 3426.0813300000004, ""},
		{"dmg_regression_interaction.xml", map[string]any{"age": 20, "work": 1, "sex": "male"}, 0.10000000000000009, ""},
		{"dmg_regression_logistic.xml", map[string]any{"x1": 1, "x2": 2}, 0, "no"},
		{"dmg_regression_multi_classes.xml", map[string]any{"age": 20, "work": 10, "sex": "0", "minority": 0}, 0, "professional"},
	}
	for _, c := range cases {
		m := loadFile(t, "pmml4s/"+c.file)
		p := predict(t, m, c.rec)
		if c.label != "" {
			if p.Label != c.label {
				t.Errorf("%s: label %q, want %q (%+v)", c.file, p.Label, c.label, p)
			}
			continue
		}
		if !near(p.Value, c.value, 1e-12) {
			t.Errorf("%s: value %v, want %v", c.file, p.Value, c.value)
		}
	}
}

func TestDMGTree(t *testing.T) {
	cases := []struct {
		file  string
		rec   map[string]any
		label string
		prob  float64 // probability of label; 0 to skip
	}{
		{"dmg_tree_normal.xml", map[string]any{"temperature": 75, "humidity": 55, "windy": "false", "outlook": "overcast"}, "may play", 0},
		{"dmg_tree_missing_value_strategies.xml", map[string]any{"temperature": 45, "outlook": "sunny", "humidity": 60}, "no play", 0.6},
		// weightedConfidence with one and with every value missing.
		{"dmg_tree_missing_value_strategies.xml", map[string]any{"outlook": "sunny"}, "will play", 0.8},
		{"dmg_tree_missing_value_strategies.xml", map[string]any{}, "will play", 0.6},
		{"dmg_tree_missing_defaultChild.xml", map[string]any{"temperature": 40, "humidity": 70}, "no play", 0.48},
		{"dmg_tree_missing_lastPrediction.xml", map[string]any{"outlook": "sunny"}, "will play", 0.8},
		{"dmg_tree_missing_aggregateNodes.xml", map[string]any{"temperature": 45, "humidity": 90}, "may play", 0.4666666666666667},
	}
	for _, c := range cases {
		m := loadFile(t, "pmml4s/"+c.file)
		p := predict(t, m, c.rec)
		if p.Label != c.label {
			t.Errorf("%s %v: label %q, want %q (%+v)", c.file, c.rec, p.Label, c.label, p)
		}
		if c.prob != 0 && !near(p.Confidence, c.prob, 1e-12) {
			t.Errorf("%s %v: confidence %v, want %v (%+v)", c.file, c.rec, p.Confidence, c.prob, p)
		}
	}
}

func TestDMGMining(t *testing.T) {
	cases := []struct {
		file  string
		rec   map[string]any
		value float64
		label string
	}{
		{"dmg_majority_vote_mining.xml", map[string]any{"petal_length": 2.0, "petal_width": 1.75, "day": 10, "continent": "africa"}, 1, "Iris-setosa"},
		{"dmg_select_first_mining.xml", map[string]any{"petal_length": 2.0, "petal_width": 1.75, "day": 10, "continent": "africa"}, 1, "Iris-setosa"},
		{"dmg_model_chain_mining.xml", map[string]any{"petal_length": 2.0, "petal_width": 1.75, "temperature": 30, "cloudiness": 2.0}, 1.5000000000000002, ""},
		{"dmg_model_composition_mining.xml", map[string]any{"petal_length": 2.0, "petal_width": 1.75, "temperature": 30, "cloudiness": 2.0}, 0.7, ""},
		{"dmg_mining_efficient_model_chain.xml", map[string]any{"petal_length": 2.0, "petal_width": 1.75, "temperature": 30, "cloudiness": 2.0}, 0.7, ""},
	}
	for _, c := range cases {
		m := loadFile(t, "pmml4s/"+c.file)
		p := predict(t, m, c.rec)
		if p.Label != c.label {
			t.Errorf("%s: label %q, want %q (%+v)", c.file, p.Label, c.label, p)
		}
		if !near(p.Value, c.value, 1e-12) {
			t.Errorf("%s: value %v, want %v (%+v)", c.file, p.Value, c.value, p)
		}
	}
}

func TestDMGOtherModels(t *testing.T) {
	cases := []struct {
		file  string
		rec   map[string]any
		value float64
		label string
	}{
		{"dmg_general_regression.xml", map[string]any{"age": 25, "work": 4}, 2.2830000000000004, ""},
		{"dmg_general_generalLinear.xml", map[string]any{"sex": 1, "minority": 0, "age": 25, "work": 4}, 1.7710000000000001, ""},
		{"dmg_general_generalizedLinear.xml", map[string]any{"sex": 1, "minority": 0, "age": 25, "work": 4}, 1.7744268679597344, ""},
		{"dmg_general_multinomial_logistic.xml", map[string]any{"sex": 1, "minority": 0, "age": 25, "work": 4}, -1, "2"},
		{"dmg_general_ordinal_multinomial.xml", map[string]any{"sex": 1, "minority": 0, "age": 25, "work": 4}, -1, "2"},
		{"dmg_neural_normal.xml", map[string]any{"gender": "  female", "no of claims": "       0", "domicile": "suburban", "age of car": 5}, 3067.3031886618014, ""},
		{"dmg_svm_classification_cont_predictors.xml", map[string]any{"x1": 0, "x2": 0}, -1, "no"},
		{"dmg_svm_classification_cont_predictors.xml", map[string]any{"x1": 0, "x2": 1}, -1, "yes"},
		{"dmg_svm_classification_cont_predictors.xml", map[string]any{"x1": 1, "x2": 0}, -1, "yes"},
		{"dmg_svm_classification_cont_predictors.xml", map[string]any{"x1": 1, "x2": 1}, -1, "no"},
		{"dmg_svm_classification_cat_predictors.xml", map[string]any{"Age": 20, "Employment": "Private"}, -1, "1"},
		{"dmg_scorecard_example.xml", map[string]any{"department": "engineering", "age": 25, "income": 500}, 29, ""},
	}
	for _, c := range cases {
		m := loadFile(t, "pmml4s/"+c.file)
		p := predict(t, m, c.rec)
		if p.Label != c.label {
			t.Errorf("%s %v: label %q, want %q (%+v)", c.file, c.rec, p.Label, c.label, p)
		}
		if c.value >= 0 && !near(p.Value, c.value, 1e-12) {
			t.Errorf("%s %v: value %v, want %v (%+v)", c.file, c.rec, p.Value, c.value, p)
		}
	}
}

// TestDMGTreeMissingValuePenalty checks missingValuePenalty on the DMG's
// golfing tree (missingValueStrategy defaultChild, penalty 0.8): the
// probabilities are those of the node reached, and only the confidence
// is multiplied by 0.8 for each defaultChild taken and each surrogate
// decided by an alternative. The first two records and their numbers are
// those of JPMML-Evaluator's MissingValueStrategyTest on the same
// document (defaultChildSinglePenalty, defaultChildMultiplePenalties);
// pmml4s asserts the same confidence, 0.48, for the first.
func TestDMGTreeMissingValuePenalty(t *testing.T) {
	m := loadFile(t, "pmml4s/dmg_tree_missing_defaultChild.xml")
	if got := m.Classes(); len(got) != 3 || got[0] != "will play" || got[2] != "no play" {
		t.Fatalf("classes %q", got)
	}
	cases := []struct {
		rec        map[string]any
		label      string
		probs      []float64
		confidence float64
	}{
		// outlook missing: defaultChild to node 2; temperature decides node 4.
		{map[string]any{"temperature": 40, "humidity": 70}, "no play", []float64{0.4, 0, 0.6}, 0.6 * 0.8},
		// outlook missing (defaultChild), temperature missing: humidity,
		// the surrogate's alternative, decides node 3.
		{map[string]any{"humidity": 70}, "will play", []float64{0.9, 0.05, 0.05}, 0.9 * 0.8 * 0.8},
		// outlook present; the surrogate's alternative decides node 3.
		{map[string]any{"outlook": "sunny", "humidity": 70}, "will play", []float64{0.9, 0.05, 0.05}, 0.9 * 0.8},
		// Nothing missing: no penalty.
		{map[string]any{"outlook": "sunny", "temperature": 60, "humidity": 90}, "will play", []float64{0.9, 0.05, 0.05}, 0.9},
	}
	for _, c := range cases {
		p := predict(t, m, c.rec)
		if p.Label != c.label || !near(p.Confidence, c.confidence, 1e-12) {
			t.Errorf("%v: label %q confidence %v, want %q %v", c.rec, p.Label, p.Confidence, c.label, c.confidence)
		}
		for i, want := range c.probs {
			if i >= len(p.Values) || !near(p.Values[i], want, 1e-12) {
				t.Errorf("%v: probabilities %v, want %v", c.rec, p.Values, c.probs)
				break
			}
		}
		if want := c.probs[slices.Index(m.Classes(), c.label)]; !near(p.Value, want, 1e-12) {
			t.Errorf("%v: Value %v, want the probability %v", c.rec, p.Value, want)
		}
	}
}

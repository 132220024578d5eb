package pmml

import (
	"math"
)

type neuron struct {
	slot   int
	bias   float64
	from   []int
	base   int // from is base, base+1, ...: read s.v[base:base+len(w)]; -1 otherwise
	w      []float64
	width  float64
	alt    float64
	rbf    bool
	act    func(z float64) float64
	thresh float64
}

type neuralLayer struct {
	neurons []neuron
	norm    string
}

type neuralOut struct {
	slot     int // output neuron
	category int // classification: category index
	// regression: inverse NormContinuous (norm -> orig), or identity
	orig, norm []float64
}

type neuralNet struct {
	mn     *modelNode
	inputs []step
	layers []neuralLayer
	outs   []neuralOut
}

func activation(name string, thresh float64) (func(float64) float64, bool) {
	switch name {
	case "threshold":
		return func(z float64) float64 { return b2f(z > thresh) }, true
	case "logistic":
		return func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }, true
	case "tanh":
		return math.Tanh, true
	case "identity":
		return func(z float64) float64 { return z }, true
	case "exponential":
		return math.Exp, true
	case "reciprocal":
		return func(z float64) float64 { return 1 / z }, true
	case "square":
		return func(z float64) float64 { return z * z }, true
	case "Gauss":
		return func(z float64) float64 { return math.Exp(-z * z) }, true
	case "sine":
		return math.Sin, true
	case "cosine":
		return math.Cos, true
	case "Elliott":
		return func(z float64) float64 { return z / (1 + math.Abs(z)) }, true
	case "arctan":
		return func(z float64) float64 { return 2 * math.Atan(z) / math.Pi }, true
	case "rectifier":
		return func(z float64) float64 { return math.Max(0, z) }, true
	case "radialBasis":
		return nil, true
	}
	return nil, false
}

func (mc *modelCtx) neural() (evaluator, error) {
	mc.extra = []string{"NeuralInputs", "NeuralLayer", "NeuralOutputs"}
	c, n := mc.c, mc.n
	nn := &neuralNet{mn: mc.mn}
	ids := map[string]int{}
	netAct, err := n.need("activationFunction")
	if err != nil {
		return nil, err
	}
	netNorm := n.str("normalizationMethod", "none")
	netThresh, err := n.num("threshold", 0)
	if err != nil {
		return nil, err
	}
	netWidth, err := n.num("width", math.NaN())
	if err != nil {
		return nil, err
	}
	netAlt, err := n.num("altitude", 1)
	if err != nil {
		return nil, err
	}
	ni := n.one("NeuralInputs")
	if ni == nil {
		return nil, corruptf("NeuralNetwork without NeuralInputs")
	}
	for _, in := range ni.all("NeuralInput") {
		id, err := in.need("id")
		if err != nil {
			return nil, err
		}
		df := in.one("DerivedField")
		if df == nil {
			return nil, corruptf("NeuralInput %q without DerivedField", id)
		}
		ex := df.expression()
		if ex == nil {
			return nil, corruptf("NeuralInput %q: DerivedField without expression", id)
		}
		e, str, err := c.expr(ex, mc.sc)
		if err != nil {
			return nil, err
		}
		if str {
			return nil, corruptf("NeuralInput %q is a string", id)
		}
		if _, dup := ids[id]; dup {
			return nil, corruptf("neuron id %q is used twice", id)
		}
		ids[id] = c.slot()
		nn.inputs = append(nn.inputs, step{slot: ids[id], e: e})
	}
	for _, ln := range n.all("NeuralLayer") {
		actName := ln.str("activationFunction", netAct)
		thresh, err := ln.num("threshold", netThresh)
		if err != nil {
			return nil, err
		}
		act, ok := activation(actName, thresh)
		if !ok {
			return nil, unsupportedf("NeuralNetwork activationFunction %q", actName)
		}
		layer := neuralLayer{norm: ln.str("normalizationMethod", netNorm)}
		switch layer.norm {
		case "none", "softmax", "simplemax":
		default:
			return nil, unsupportedf("NeuralLayer normalizationMethod %q", layer.norm)
		}
		lw, err := ln.num("width", netWidth)
		if err != nil {
			return nil, err
		}
		la, err := ln.num("altitude", netAlt)
		if err != nil {
			return nil, err
		}
		var made []string
		for _, ne := range ln.all("Neuron") {
			id, err := ne.need("id")
			if err != nil {
				return nil, err
			}
			nr := neuron{act: act, rbf: actName == "radialBasis", thresh: thresh}
			if nr.bias, err = ne.num("bias", 0); err != nil {
				return nil, err
			}
			if nr.width, err = ne.num("width", lw); err != nil {
				return nil, err
			}
			if nr.alt, err = ne.num("altitude", la); err != nil {
				return nil, err
			}
			if nr.rbf && !(nr.width > 0) {
				return nil, corruptf("radialBasis neuron %q without a positive width", id)
			}
			for _, con := range ne.all("Con") {
				from, err := con.need("from")
				if err != nil {
					return nil, err
				}
				s, ok := ids[from]
				if !ok {
					return nil, corruptf("Con from %q: no such neuron in an earlier layer", from)
				}
				w, err := con.needNum("weight")
				if err != nil {
					return nil, err
				}
				nr.from, nr.w = append(nr.from, s), append(nr.w, w)
			}
			nr.slot = -1
			nr.base = -1
			if k := len(nr.from); k > 0 && nr.from[k-1]-nr.from[0] == k-1 {
				nr.base = nr.from[0]
				for j, f := range nr.from {
					if f != nr.base+j {
						nr.base = -1
						break
					}
				}
			}
			made = append(made, id)
			layer.neurons = append(layer.neurons, nr)
		}
		for i, id := range made {
			if _, dup := ids[id]; dup {
				return nil, corruptf("neuron id %q is used twice", id)
			}
			ids[id] = c.slot()
			layer.neurons[i].slot = ids[id]
		}
		nn.layers = append(nn.layers, layer)
	}
	if len(nn.layers) == 0 {
		return nil, corruptf("NeuralNetwork without NeuralLayer")
	}
	no := n.one("NeuralOutputs")
	if no == nil {
		return nil, corruptf("NeuralNetwork without NeuralOutputs")
	}
	for _, o := range no.all("NeuralOutput") {
		id, err := o.need("outputNeuron")
		if err != nil {
			return nil, err
		}
		s, ok := ids[id]
		if !ok {
			return nil, corruptf("NeuralOutput of unknown neuron %q", id)
		}
		out := neuralOut{slot: s}
		df := o.one("DerivedField")
		if df == nil {
			return nil, corruptf("NeuralOutput %q without DerivedField", id)
		}
		ex := df.expression()
		if ex == nil {
			return nil, corruptf("NeuralOutput %q: DerivedField without expression", id)
		}
		if mc.mn.classify {
			if ex.name != "NormDiscrete" {
				return nil, unsupportedf("classification NeuralOutput with <%s>", ex.name)
			}
			v, err := ex.need("value")
			if err != nil {
				return nil, err
			}
			if out.category, err = mc.category(v); err != nil {
				return nil, err
			}
		} else {
			switch ex.name {
			case "FieldRef":
			case "NormContinuous":
				for _, l := range ex.all("LinearNorm") {
					o, err := l.needNum("orig")
					if err != nil {
						return nil, err
					}
					m, err := l.needNum("norm")
					if err != nil {
						return nil, err
					}
					out.orig, out.norm = append(out.orig, o), append(out.norm, m)
				}
				if len(out.orig) < 2 {
					return nil, corruptf("NeuralOutput NormContinuous needs two LinearNorm elements")
				}
			default:
				return nil, unsupportedf("regression NeuralOutput with <%s>", ex.name)
			}
		}
		nn.outs = append(nn.outs, out)
	}
	if len(nn.outs) == 0 {
		return nil, corruptf("NeuralNetwork without NeuralOutput")
	}
	if !mc.mn.classify && len(nn.outs) != 1 {
		return nil, unsupportedf("regression NeuralNetwork with %d outputs", len(nn.outs))
	}
	return nn, nil
}

func (nn *neuralNet) eval(s *state) result {
	for _, st := range nn.inputs {
		v := st.e(s)
		if math.IsNaN(v) {
			return result{}
		}
		s.v[st.slot] = v
	}
	for li := range nn.layers {
		l := &nn.layers[li]
		for i := range l.neurons {
			nr := &l.neurons[i]
			var out float64
			if nr.rbf {
				z := 0.0
				for j, f := range nr.from {
					d := s.v[f] - nr.w[j]
					z += d * d
				}
				z /= 2 * nr.width * nr.width
				out = math.Exp(float64(len(nr.from))*math.Log(nr.alt) - z)
			} else {
				z := nr.bias
				if nr.base >= 0 {
					// Fully connected to consecutive neurons: a dot product.
					in := s.v[nr.base : nr.base+len(nr.w)]
					for j, w := range nr.w {
						z += w * in[j]
					}
				} else {
					for j, f := range nr.from {
						z += nr.w[j] * s.v[f]
					}
				}
				out = nr.act(z)
			}
			s.v[nr.slot] = out
		}
		switch l.norm {
		case "softmax":
			max := math.Inf(-1)
			for _, nr := range l.neurons {
				max = math.Max(max, s.v[nr.slot])
			}
			sum := 0.0
			for _, nr := range l.neurons {
				s.v[nr.slot] = softexp(s.v[nr.slot], max)
				sum += s.v[nr.slot]
			}
			for _, nr := range l.neurons {
				s.v[nr.slot] /= sum
			}
		case "simplemax":
			sum := 0.0
			for _, nr := range l.neurons {
				sum += s.v[nr.slot]
			}
			for _, nr := range l.neurons {
				s.v[nr.slot] /= sum
			}
		}
	}
	mn := nn.mn
	if !mn.classify {
		o := &nn.outs[0]
		y := s.v[o.slot]
		if o.orig != nil {
			y = denorm(o.norm, o.orig, y)
		}
		if math.IsNaN(y) {
			return result{}
		}
		return result{ok: true, val: y}
	}
	p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
	clear(p)
	for _, o := range nn.outs {
		p[o.category] = s.v[o.slot]
	}
	return result{ok: true, val: float64(argmax(p))}
}

// denorm inverts a NormContinuous: the piecewise linear map from norm
// back to orig, extrapolated beyond the ends.
func denorm(norm, orig []float64, y float64) float64 {
	last := len(norm) - 1
	i := -1
	for j := 0; j < last; j++ {
		if between(y, norm[j], norm[j+1]) {
			i = j
			break
		}
	}
	if i < 0 {
		// Beyond an end: the segment at the nearer end.
		i = last - 1
		if math.Abs(y-norm[0]) < math.Abs(y-norm[last]) {
			i = 0
		}
	}
	if norm[i+1] == norm[i] {
		return orig[i]
	}
	return orig[i] + (y-norm[i])*(orig[i+1]-orig[i])/(norm[i+1]-norm[i])
}

func between(y, a, b float64) bool {
	if a > b {
		a, b = b, a
	}
	return y >= a && y <= b
}

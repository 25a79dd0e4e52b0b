package graph

import (
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// rngStream is the second PCG word; fixed so that a seed alone names a
// stream.
const rngStream = 0x9e3779b97f4a7c15

// NewRNG returns a deterministic math/rand/v2 PCG generator. The same seed
// gives the same sequence on every platform. Gorgonia's own initialisers
// seed from the clock and are never used in gatedpo.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, rngStream))
}

// FillNormal overwrites t (float32 or float64) with mean + std·N(0,1)
// draws from rng, in row-major order. Draws are made in float64 and
// rounded, so a float32 and a float64 tensor filled from equal seeds agree
// to float32 rounding.
func FillNormal(t *tensor.Dense, rng *rand.Rand, mean, std float64) {
	switch d := t.Data().(type) {
	case []float64:
		for i := range d {
			d[i] = mean + std*rng.NormFloat64()
		}
	case []float32:
		for i := range d {
			d[i] = float32(mean + std*rng.NormFloat64())
		}
	}
}

// FillConst overwrites t (float32 or float64) with v.
func FillConst(t *tensor.Dense, v float64) {
	switch d := t.Data().(type) {
	case []float64:
		for i := range d {
			d[i] = v
		}
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	}
}

// NewTensor allocates a zeroed float32 or float64 tensor of the given shape.
func NewTensor(dt tensor.Dtype, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
}

// Param is one trainable parameter as it appears in one graph: the
// checkpoint tensor name and the graph node bound to the parameter's tensor.
type Param struct {
	Name string  // checkpoint tensor name, e.g. "blocks.0.attn.wq"
	Node *G.Node // node in one graph; its value is the model's own tensor
}

// ParamNodes returns the nodes of ps in order (for G.Grad and solvers).
func ParamNodes(ps []Param) G.Nodes {
	ns := make(G.Nodes, len(ps))
	for i, p := range ps {
		ns[i] = p.Node
	}
	return ns
}

// BindParam adds to g an input node named nodeName whose value IS t (shared
// storage, no copy): updates made to t in place are seen by every graph
// bound to it.
func BindParam(g *G.ExprGraph, nodeName string, t *tensor.Dense) *G.Node {
	shape := t.Shape().Clone()
	if len(shape) == 1 {
		return G.NewVector(g, t.Dtype(), G.WithShape(shape...), G.WithName(nodeName), G.WithValue(t))
	}
	return G.NewTensor(g, t.Dtype(), len(shape), G.WithShape(shape...), G.WithName(nodeName), G.WithValue(t))
}

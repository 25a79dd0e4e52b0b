package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NegLogSigmoid returns −log σ(x) elementwise (x a scalar or a tensor of
// any rank), evaluated stably as
//
//	−log σ(x) = max(−x, 0) + log1p(exp(−|x|))
//
// (PyTorch's −F.logsigmoid), with derivative −σ(−x). Float32 inputs are
// evaluated in float64 and rounded once. Gorgonia's Softplus is not used
// because it returns x itself for x > 16, an error of e⁻¹⁶ relative, far
// outside the 1e-12 the goldens require.
func NegLogSigmoid(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(nlsOp{}, x)
}

// nlsOp is −log σ(x) (x → y); nlsGradOp its vector-Jacobian product
// ((x, dL/dy) → dL/dx = −σ(−x)·dL/dy).
type nlsOp struct{ pureOp }

type nlsGradOp struct{ pureOp }

func negLogSigmoid64(x float64) float64 {
	return math.Max(-x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}

// sigmoidNeg64 is σ(−x), computed without overflow.
func sigmoidNeg64(x float64) float64 {
	if x >= 0 {
		e := math.Exp(-x)
		return e / (1 + e)
	}
	return 1 / (1 + math.Exp(x))
}

func (nlsOp) Arity() int                   { return 1 }
func (nlsOp) Type() hm.Type                { return elementwiseType(1) }
func (op nlsOp) WriteHash(h hash.Hash)     { fmt.Fprint(h, "gatedpo.NegLogSigmoid") }
func (op nlsOp) Hashcode() uint32          { return hashOf(op) }
func (nlsOp) String() string               { return "NegLogSigmoid" }
func (op nlsOp) DiffWRT(n int) []bool      { return []bool{true} }
func (nlsGradOp) Arity() int               { return 2 }
func (nlsGradOp) Type() hm.Type            { return elementwiseType(2) }
func (op nlsGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gatedpo.NegLogSigmoidGrad") }
func (op nlsGradOp) Hashcode() uint32      { return hashOf(op) }
func (nlsGradOp) String() string           { return "NegLogSigmoidGrad" }
func (op nlsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op nlsGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}

// SymDiff: dL/dx = −σ(−x)·dL/dy.
func (op nlsOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(nlsGradOp{}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func (op nlsOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return mapElementwise(op, in, func(x, _ float64) float64 { return negLogSigmoid64(x) })
}

func (op nlsGradOp) Do(in ...G.Value) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return mapElementwise(op, in, func(x, g float64) float64 { return -sigmoidNeg64(x) * g })
}

// mapElementwise applies f(x, g) to every element of in[0] (with g the
// matching element of in[1] when there is one, else 0), in float64, and
// returns a fresh value of in[0]'s kind, shape and dtype (float32 results
// rounded once). Scalars (*G.F32, *G.F64) and dense tensors are accepted.
func mapElementwise(op G.Op, in []G.Value, f func(x, g float64) float64) (G.Value, error) {
	grad := func(int) float64 { return 0 }
	if len(in) > 1 {
		switch g := in[1].(type) {
		case *G.F64:
			grad = func(int) float64 { return float64(*g) }
		case *G.F32:
			grad = func(int) float64 { return float64(*g) }
		case tensor.Tensor:
			switch gd := g.Data().(type) {
			case []float64:
				grad = func(i int) float64 { return gd[i] }
			case []float32:
				grad = func(i int) float64 { return float64(gd[i]) }
			default:
				return nil, fmt.Errorf("%v: unsupported gradient data %T", op, gd)
			}
		default:
			return nil, fmt.Errorf("%v: unsupported gradient value %T", op, in[1])
		}
	}
	switch v := in[0].(type) {
	case *G.F64:
		g := grad(0)
		return G.NewF64(f(float64(*v), g)), nil
	case *G.F32:
		g := grad(0)
		return G.NewF32(float32(f(float64(*v), g))), nil
	case tensor.Tensor:
		shape := v.Shape().Clone()
		return dispatch(v, func() (G.Value, error) {
			xd := v.Data().([]float32)
			out := make([]float32, len(xd))
			for i, x := range xd {
				g := grad(i)
				out[i] = float32(f(float64(x), g))
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
		}, func() (G.Value, error) {
			xd := v.Data().([]float64)
			out := make([]float64, len(xd))
			for i, x := range xd {
				g := grad(i)
				out[i] = f(x, g)
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
		})
	}
	return nil, fmt.Errorf("%v: unsupported value %T", op, in[0])
}

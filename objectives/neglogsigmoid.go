package objectives

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NegLogSigmoid returns −log σ(x) elementwise, evaluated stably as
//
//	−log σ(x) = max(−x, 0) + log1p(exp(−|x|))
//
// (PyTorch's −F.logsigmoid), with derivative −σ(−x). Gorgonia's Softplus
// is not used because it returns x itself for x > 16, an error of e⁻¹⁶
// relative, far outside the 1e-12 the goldens require.
func NegLogSigmoid(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(nlsOp{backward: false}, x)
}

// nlsOp is −log σ(x) (backward = false) or its vector-Jacobian product
// (backward = true: inputs x, dL/dy → dL/dx = −σ(−x)·dL/dy).
type nlsOp struct{ backward bool }

// The G.Op, G.SDOp methods of nlsOp follow.

func (op nlsOp) Arity() int {
	if op.backward {
		return 2
	}
	return 1
}

func (op nlsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.backward {
		return hm.NewFnType(a, a, a)
	}
	return hm.NewFnType(a, a)
}

func (op nlsOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", op, len(in), op.Arity())
	}
	if s, ok := in[0].(tensor.Shape); ok {
		return s.Clone(), nil
	}
	return nil, fmt.Errorf("%v: input has no shape", op)
}

// negLogSigmoid64 is −log σ(x) = max(−x, 0) + log1p(exp(−|x|)).
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

func (op nlsOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.Arity() {
		return nil, fmt.Errorf("%v: got %d values, want %d", op, len(vals), op.Arity())
	}
	f := func(i int, x []float64, gr []float64) float64 {
		if op.backward {
			return -sigmoidNeg64(x[i]) * gr[i] // d(−log σ(x))/dx = −σ(−x)
		}
		return negLogSigmoid64(x[i])
	}
	switch v := vals[0].(type) {
	case *G.F64:
		x := []float64{float64(*v)}
		var gr []float64
		if op.backward {
			g, ok := vals[1].(*G.F64)
			if !ok {
				return nil, fmt.Errorf("%v: gradient is %T", op, vals[1])
			}
			gr = []float64{float64(*g)}
		}
		return G.NewF64(f(0, x, gr)), nil
	case *G.F32:
		x := []float64{float64(*v)}
		var gr []float64
		if op.backward {
			g, ok := vals[1].(*G.F32)
			if !ok {
				return nil, fmt.Errorf("%v: gradient is %T", op, vals[1])
			}
			gr = []float64{float64(*g)}
		}
		return G.NewF32(float32(f(0, x, gr))), nil
	case tensor.Tensor:
		shape := v.Shape().Clone()
		switch xd := v.Data().(type) {
		case []float64:
			var gr []float64
			if op.backward {
				gr = vals[1].Data().([]float64)
			}
			out := make([]float64, len(xd))
			for i := range out {
				out[i] = f(i, xd, gr)
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
		case []float32:
			x := make([]float64, len(xd))
			for i, e := range xd {
				x[i] = float64(e)
			}
			var gr []float64
			if op.backward {
				g32 := vals[1].Data().([]float32)
				gr = make([]float64, len(g32))
				for i, e := range g32 {
					gr[i] = float64(e)
				}
			}
			out := make([]float32, len(xd))
			for i := range out {
				out[i] = float32(f(i, x, gr))
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(out)), nil
		}
	}
	return nil, fmt.Errorf("%v: unsupported value %T", op, vals[0])
}

func (op nlsOp) ReturnsPtr() bool     { return false }
func (op nlsOp) CallsExtern() bool    { return false }
func (op nlsOp) OverwritesInput() int { return -1 }

func (op nlsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo/objectives.%v", op) }

func (op nlsOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op nlsOp) String() string {
	if op.backward {
		return "NegLogSigmoidGrad"
	}
	return "NegLogSigmoid"
}

// DiffWRT: the forward op is differentiable in x; the backward op is not
// differentiated (no second-order gradients are needed).
func (op nlsOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	if !op.backward && inputs == 1 {
		d[0] = true
	}
	return d
}

// SymDiff: y = −log σ(x) has dy/dx = −σ(−x), so dL/dx = −σ(−x)·dL/dy.
func (op nlsOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.backward {
		return nil, fmt.Errorf("%v is not differentiable", op)
	}
	dx, err := G.ApplyOp(nlsOp{backward: true}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

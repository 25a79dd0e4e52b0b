package graph

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph/blasvec"
)

// GELUErf applies the exact GELU, gelu(x) = 0.5·x·(1 + erf(x/√2)),
// elementwise (PyTorch's gelu(approximate="none"), Hugging Face's "gelu"),
// as one op with a hand-written gradient
// d/dx = 0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π). Computed in float64
// (math.Erf); in float32 by blasvec.GELUErf32 / GELUErfGrad32 (relative
// error of the output ≤ 6e-7, lower tail included).
func GELUErf(x *G.Node) (*G.Node, error) { return G.ApplyOp(&geluErfOp{}, x) }

// geluErfOp is the forward (grad false: x -> y) or the backward (grad true:
// (x, dy) -> dx). It has the plumbing of GELUTanh's geluOp but not its
// per-instance cache (the backward evaluates erf again), so it stays a
// separate, stateless op type.
type geluErfOp struct {
	pureOp
	grad bool
}

func (op *geluErfOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op *geluErfOp) Type() hm.Type         { return elementwiseType(op.Arity()) }
func (op *geluErfOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.GELUErf{%t}", op.grad) }
func (op *geluErfOp) Hashcode() uint32      { return hashOf(op) }
func (op *geluErfOp) String() string {
	if op.grad {
		return "GELUErfGrad"
	}
	return "GELUErf"
}
func (op *geluErfOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *geluErfOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, geluErfDo[float32], geluErfDo[float64])
}

var invSqrt2Pi = 1 / math.Sqrt(2*math.Pi)

func geluErfDo[T elem](op *geluErfOp, in []G.Value) (G.Value, error) {
	grad := op.grad
	s, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	x := s[0]
	var dy []T
	if grad {
		dy = s[1]
	}
	out, y := reuseDense[T](&op.outBufs, 0, in[0].Shape().Clone()...)
	if x32, ok := any(x).([]float32); ok { // float32: blasvec's 8-lane kernels
		y32 := any(y).([]float32)
		parallelRange(len(x), 4096, func(lo, hi int) {
			if grad {
				blasvec.GELUErfGrad32(y32[lo:hi], x32[lo:hi], any(dy).([]float32)[lo:hi])
			} else {
				blasvec.GELUErf32(y32[lo:hi], x32[lo:hi])
			}
		})
		return out, nil
	}
	parallelRange(len(x), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			e := math.Erf(v / math.Sqrt2)
			if !grad {
				y[i] = T(0.5 * v * (1 + e))
				continue
			}
			d := 0.5*(1+e) + v*math.Exp(-0.5*v*v)*invSqrt2Pi
			y[i] = T(d * float64(dy[i]))
		}
	})
	return out, nil
}

func (op *geluErfOp) DiffWRT(int) []bool { return []bool{true} }
func (op *geluErfOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("GELUErfGrad: second-order gradients are not supported")
	}
	dx, err := G.ApplyOp(&geluErfOp{grad: true}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// SwiGLU returns silu(gate) ⊙ up for gate and up of one shape, silu(a) =
// a·σ(a): the gated MLP activation of Llama and Qwen2. One op with a
// hand-written gradient, computed in float64 (float32: blasvec.SwiGLU32
// and its gradients, relative error ≤ 5e-7):
//
//	d gate = dy ⊙ up ⊙ σ(gate)·(1 + gate·(1 − σ(gate))),  d up = dy ⊙ silu(gate)
func SwiGLU(gate, up *G.Node) (*G.Node, error) {
	if !gate.Shape().Eq(up.Shape()) {
		return nil, fmt.Errorf("SwiGLU: gate %v and up %v differ in shape", gate.Shape(), up.Shape())
	}
	return G.ApplyOp(&swigluOp{wrt: -1}, gate, up)
}

// swigluOp: wrt −1 is the forward (gate, up) -> y; wrt 0 / 1 the backward
// (gate, up, dy) -> d gate / d up.
type swigluOp struct {
	pureOp
	wrt int
}

func (op *swigluOp) Arity() int {
	if op.wrt >= 0 {
		return 3
	}
	return 2
}
func (op *swigluOp) Type() hm.Type         { return elementwiseType(op.Arity()) }
func (op *swigluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.SwiGLU{%d}", op.wrt) }
func (op *swigluOp) Hashcode() uint32      { return hashOf(op) }
func (op *swigluOp) String() string {
	if op.wrt >= 0 {
		return fmt.Sprintf("SwiGLUGrad{wrt=%d}", op.wrt)
	}
	return "SwiGLU"
}
func (op *swigluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *swigluOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, swigluDo[float32], swigluDo[float64])
}

func swigluDo[T elem](op *swigluOp, in []G.Value) (G.Value, error) {
	for _, v := range in[1:] {
		if !v.Shape().Eq(in[0].Shape()) {
			return nil, fmt.Errorf("%v: operand shapes %v and %v differ", op, in[0].Shape(), v.Shape())
		}
	}
	wrt := op.wrt
	s, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	g, u := s[0], s[1]
	var dy []T
	if wrt >= 0 {
		dy = s[2]
	}
	out, y := reuseDense[T](&op.outBufs, 0, in[0].Shape().Clone()...)
	if g32, ok := any(g).([]float32); ok { // float32: blasvec's 8-lane kernels
		y32, u32 := any(y).([]float32), any(u).([]float32)
		parallelRange(len(g), 4096, func(lo, hi int) {
			switch wrt {
			case -1:
				blasvec.SwiGLU32(y32[lo:hi], g32[lo:hi], u32[lo:hi])
			case 0:
				blasvec.SwiGLUGateGrad32(y32[lo:hi], g32[lo:hi], u32[lo:hi], any(dy).([]float32)[lo:hi])
			default:
				blasvec.SwiGLUUpGrad32(y32[lo:hi], g32[lo:hi], any(dy).([]float32)[lo:hi])
			}
		})
		return out, nil
	}
	parallelRange(len(g), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a := float64(g[i])
			sg := 1 / (1 + math.Exp(-a))
			switch wrt {
			case -1:
				y[i] = T(a * sg * float64(u[i]))
			case 0:
				y[i] = T(float64(dy[i]) * float64(u[i]) * sg * (1 + a*(1-sg)))
			default:
				y[i] = T(float64(dy[i]) * a * sg)
			}
		}
	})
	return out, nil
}

func (op *swigluOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *swigluOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.wrt >= 0 {
		return nil, fmt.Errorf("SwiGLUGrad: second-order gradients are not supported")
	}
	dg, err := G.ApplyOp(&swigluOp{wrt: 0}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	du, err := G.ApplyOp(&swigluOp{wrt: 1}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dg, du}, nil
}

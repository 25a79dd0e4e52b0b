package gating

import (
	"fmt"
	"hash"
	"hash/fnv"
	"strconv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Apply inserts the gate into a graph on the policy's rejected per-token
// log-probs and returns the gated node lp̃ (docs/method.md §3):
//
//	lp̃_t = g_t·lp_t + (1 − g_t)·sg(lp_t)
//
// implemented as one Op whose forward pass is the identity (bit-exact: the
// output is a copy of lp) and whose backward pass multiplies the incoming
// gradient by g_t. lp and mask are [n, m] nodes of the same dtype (float32
// or float64); mask is 1 where position t's token is a rejected response
// token, 0 elsewhere (positions outside the mask pass gradients unchanged).
// lmax is the detached per-position log max_v π(v|·), [n, m], read only
// when s.Relative (nil is allowed otherwise); no gradient flows into mask or
// lmax. When the gate is off (s.Off()) Apply returns lp itself and inserts
// nothing, so the graph is the ungated one.
func Apply(s Spec, lp, mask, lmax *G.Node) (gated *G.Node, err error) {
	if s.Off() {
		return lp, nil
	}
	children, err := opInputs(s, lp, mask, lmax)
	if err != nil {
		return nil, err
	}
	defer recoverGorgonia(&err)
	return G.ApplyOp(&gateOp{spec: s, mode: modeForward}, children...)
}

// ValuesNode returns a forward-only node holding the gates g [n, m] that
// Apply would use, with 0 outside the mask (the goldens' rejected_gates
// convention). Register it with G.Read to log gate statistics. It has no
// gradient and must not feed a loss. For an off gate g is the mask itself
// (1 on every response token).
func ValuesNode(s Spec, lp, mask, lmax *G.Node) (values *G.Node, err error) {
	children, err := opInputs(s, lp, mask, lmax)
	if err != nil {
		return nil, err
	}
	defer recoverGorgonia(&err)
	return G.ApplyOp(&gateOp{spec: s, mode: modeValues}, children...)
}

func opInputs(s Spec, lp, mask, lmax *G.Node) (G.Nodes, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("gating: %w", err)
	}
	if lp == nil || mask == nil {
		return nil, fmt.Errorf("gating: lp and mask nodes are required")
	}
	if lp.Dims() != 2 || !lp.Shape().Eq(mask.Shape()) {
		return nil, fmt.Errorf("gating: lp %v and mask %v must both be [n, m]", lp.Shape(), mask.Shape())
	}
	if lp.Dtype() != mask.Dtype() {
		return nil, fmt.Errorf("gating: lp is %v but mask is %v", lp.Dtype(), mask.Dtype())
	}
	children := G.Nodes{lp, mask}
	if s.Relative && !s.Off() {
		if lmax == nil {
			return nil, fmt.Errorf("gating: a relative gate needs the per-position max log-prob node")
		}
		if !lmax.Shape().Eq(lp.Shape()) || lmax.Dtype() != lp.Dtype() {
			return nil, fmt.Errorf("gating: lmax %v %v must match lp %v %v", lmax.Shape(), lmax.Dtype(), lp.Shape(), lp.Dtype())
		}
		children = append(children, lmax)
	}
	return children, nil
}

func recoverGorgonia(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("gating: building the gate node: %v", r)
	}
}

// opMode selects which of the three computations a gateOp performs.
type opMode int

const (
	modeForward  opMode = iota // (lp, mask[, lmax]) → lp (copy); differentiable in lp
	modeBackward               // (lp, mask[, lmax], dL/dlp̃) → g ⊙ dL/dlp̃ (1 outside the mask)
	modeValues                 // (lp, mask[, lmax]) → g (0 outside the mask); forward only
)

var modeNames = [...]string{"Gate", "GateGrad", "GateValues"}

// gateOp is the gated-gradient Op. One type serves the forward identity,
// its backward pass and the forward-only gate values, distinguished by mode
// (part of the hash, so the three never merge).
type gateOp struct {
	spec Spec
	mode opMode
}

func (op *gateOp) nIn() int {
	n := 2
	if op.spec.Relative && !op.spec.Off() {
		n = 3
	}
	if op.mode == modeBackward {
		n++
	}
	return n
}

// Arity is 2 (lp, mask), plus lmax for a relative gate, plus the incoming
// gradient for the backward mode.
func (op *gateOp) Arity() int { return op.nIn() }

// Type is a → … → a: every input and the output share one tensor type.
func (op *gateOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, op.nIn()+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}

// InferShape returns the shape of lp.
func (op *gateOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != op.nIn() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", op, len(in), op.nIn())
	}
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: input 0 has no shape", op)
	}
	return s.Clone(), nil
}

// Do runs the op on values. It always returns a fresh tensor.
func (op *gateOp) Do(vals ...G.Value) (G.Value, error) {
	if len(vals) != op.nIn() {
		return nil, fmt.Errorf("%v: got %d values, want %d", op, len(vals), op.nIn())
	}
	lpT, ok := vals[0].(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("%v: lp is %T, want a tensor", op, vals[0])
	}
	if op.mode == modeForward {
		// Identity forward: a copy, never the input itself (GORGONIA.md);
		// a view is materialised into a fresh contiguous tensor.
		if d, ok := lpT.(*tensor.Dense); ok && (d.IsView() || d.RequiresIterator()) {
			return d.Materialize(), nil
		}
		return lpT.Clone().(tensor.Tensor), nil
	}
	shape := lpT.Shape()
	if len(shape) != 2 {
		return nil, fmt.Errorf("%v: lp has shape %v, want [n, m]", op, shape)
	}
	n, m := shape[0], shape[1]
	var f [4][]float64
	for i := 0; i < len(vals); i++ {
		d, err := float64s(vals[i])
		if err != nil {
			return nil, fmt.Errorf("%v: input %d: %w", op, i, err)
		}
		if len(d) != n*m {
			return nil, fmt.Errorf("%v: input %d has %d values, want %d", op, i, len(d), n*m)
		}
		f[i] = d
	}
	var lmax []float64
	if op.spec.Relative && !op.spec.Off() {
		lmax = f[2]
	}
	outside := 0.0
	if op.mode == modeBackward {
		outside = 1
	}
	g, err := Values(op.spec, f[0], lmax, f[1], n, m, outside)
	if err != nil {
		return nil, err
	}
	if op.mode == modeBackward {
		grad := f[len(vals)-1]
		for i := range g {
			g[i] *= grad[i] // d L / d lp_t = g_t · d L / d lp̃_t
		}
	}
	return newLike(lpT, g)
}

// ReturnsPtr is false: Do returns a new tensor.
func (op *gateOp) ReturnsPtr() bool { return false }

// CallsExtern is false: pure Go.
func (op *gateOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *gateOp) OverwritesInput() int { return -1 }

// WriteHash writes every parameter (kind, τ, level, relative, T, α, mode)
// so that two gates that differ in any of them never merge into one node.
func (op *gateOp) WriteHash(h hash.Hash) {
	s := op.spec
	fmt.Fprintf(h, "gatedpo/gating.%s{kind=%s,tau=%s,level=%s,relative=%t,temperature=%s,alpha=%s}",
		modeNames[op.mode], s.Kind, fmtF(s.Tau), s.Level, s.Relative, fmtF(s.Temperature), fmtF(s.Alpha))
}

// Hashcode is the FNV-1a hash of WriteHash.
func (op *gateOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// String names the op and its gate, e.g. "Gate{ramp tau=0.05}".
func (op *gateOp) String() string { return modeNames[op.mode] + "{" + op.spec.String() + "}" }

// DiffWRT: only the forward mode is differentiable, and only in lp (the
// mask and lmax are data; g is computed from detached values).
func (op *gateOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	if op.mode == modeForward && inputs > 0 {
		d[0] = true
	}
	return d
}

// SymDiff returns the gradient of the gate's output with respect to lp.
//
// Derivation. The forward value is lp̃_t = g_t·lp_t + (1 − g_t)·sg(lp_t)
// with g_t = g(sg(x_t)) a function of detached values only (docs/method.md §3).
// The stop-gradients make ∂g_t/∂lp = 0 and ∂sg(lp_t)/∂lp = 0, so
//
//	∂lp̃_t/∂lp_s = g_t·δ_ts   and   ∂L/∂lp_t = g_t · ∂L/∂lp̃_t,
//
// while numerically lp̃_t = lp_t. The Op therefore copies lp forward and
// multiplies the incoming gradient by g backward (1 outside the response
// mask, where no gate is defined). mask and lmax get no gradient (nil).
func (op *gateOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (retVal G.Nodes, err error) {
	if op.mode != modeForward {
		return nil, fmt.Errorf("%v is not differentiable", op)
	}
	if len(inputs) != op.nIn() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", op, len(inputs), op.nIn())
	}
	defer recoverGorgonia(&err)
	bwIn := append(append(G.Nodes{}, inputs...), grad)
	dlp, err := G.ApplyOp(&gateOp{spec: op.spec, mode: modeBackward}, bwIn...)
	if err != nil {
		return nil, err
	}
	retVal = make(G.Nodes, len(inputs))
	retVal[0] = dlp
	return retVal, nil
}

// DoDiff is the LispMachine's version of SymDiff: it adds g ⊙ dL/dlp̃ to the
// gradient held by lp.
func (op *gateOp) DoDiff(ctx G.ExecutionContext, inputs G.Nodes, output *G.Node) error {
	if op.mode != modeForward {
		return fmt.Errorf("%v is not differentiable", op)
	}
	outGrad, err := output.Grad()
	if err != nil {
		return err
	}
	inGrad, err := inputs[0].Grad()
	if err != nil {
		return err
	}
	vals := make([]G.Value, 0, len(inputs)+1)
	for _, n := range inputs {
		vals = append(vals, n.Value())
	}
	vals = append(vals, outGrad)
	d, err := (&gateOp{spec: op.spec, mode: modeBackward}).Do(vals...)
	if err != nil {
		return err
	}
	acc, ok := inGrad.(tensor.Tensor)
	if !ok {
		return fmt.Errorf("%v: input gradient is %T", op, inGrad)
	}
	_, err = tensor.Add(acc, d.(tensor.Tensor), tensor.UseUnsafe())
	return err
}

func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// float64s returns the values of a float32 or float64 tensor as float64.
func float64s(v G.Value) ([]float64, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("value is %T, want a tensor", v)
	}
	if d, ok := t.(*tensor.Dense); ok && (d.IsView() || d.RequiresIterator()) {
		t = d.Materialize() // a view's Data() need not be its elements in order
	}
	switch d := t.Data().(type) {
	case []float64:
		return d, nil
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %v is not float32 or float64", t.Dtype())
}

// newLike returns a new tensor with like's shape and dtype holding data.
func newLike(like tensor.Tensor, data []float64) (G.Value, error) {
	shape := like.Shape().Clone()
	switch like.Dtype() {
	case tensor.Float64:
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
	case tensor.Float32:
		d32 := make([]float32, len(data))
		for i, x := range data {
			d32[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d32)), nil
	}
	return nil, fmt.Errorf("gating: dtype %v is not float32 or float64", like.Dtype())
}

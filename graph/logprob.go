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

// TokenLogProbs is the fused, numerically stable log-softmax + target
// gather of a language model. logits [n·t, V] (row s·t+p = sequence s,
// position p) and ids [n, t] give the [n, t−1] node
//
//	lp[s, p] = log_softmax(logits[s·t+p])[ids[s, p+1]],  p = 0 … t−2
//
// (position p predicts token p+1). Each row subtracts its own maximum
// before exponentiating (Gorgonia's LogSoftMax seeds the max from the
// whole tensor). Gradient: dlogits[r, v] = g[r]·(1{v = target} − softmax[r, v]),
// zero on the last position of every sequence; ids get none.
func TokenLogProbs(logits, ids *G.Node) (*G.Node, error) {
	ls, is := logits.Shape(), ids.Shape()
	if len(ls) != 2 || len(is) != 2 || ls[0] != is[0]*is[1] || is[1] < 2 {
		return nil, fmt.Errorf("TokenLogProbs: logits %v and ids %v do not match (want [n·t, V] and [n, t], t ≥ 2)", ls, is)
	}
	return G.ApplyOp(newLSG(is[0], is[1], true), logits, ids)
}

// TargetLogProbs is the same fused op without the shift: logits [R, V] and
// targets [R] (class indices stored as floats) give the [R] node
// log_softmax(logits[r])[targets[r]]. Used by the toy model.
func TargetLogProbs(logits, targets *G.Node) (*G.Node, error) {
	ls, ts := logits.Shape(), targets.Shape()
	if len(ls) != 2 || ts.TotalSize() != ls[0] || len(ts) != 1 {
		return nil, fmt.Errorf("TargetLogProbs: logits %v and targets %v do not match (want [R, V] and [R])", ls, ts)
	}
	return G.ApplyOp(newLSG(ls[0], 1, false), logits, targets)
}

func newLSG(n, t int, shift bool) *lsgOp {
	return &lsgOp{n: n, t: t, shift: shift, id: nextOpID(), lse: &lseCache{}}
}

// lseCache keeps, from the last forward run, per row: the maximum logit,
// the log-sum-exp, the normaliser z = Σ_v exp(x_v − max), and the
// unnormalised probabilities exp(x_v − max) in the run's dtype (so the
// backward needs no exponentials).
//
// The backward turns the exp buffer into the gradient in place (consumed is
// then set until the next forward), so a graph holds one [rows, V] buffer
// for this op, not two.
type lseCache struct {
	lseStats
	z        []float64
	exp      dtypeBufs
	consumed bool
}

// lseStats are the per-row maximum logit and log-sum-exp a fused
// log-prob op keeps from its forward run (read by maxLogProbOp).
type lseStats struct{ max, lse []float64 }

// expShiftSum writes exp(row[v] − m) into dst (which may be row itself),
// with m the row maximum, and returns m and z = Σ_v exp(row[v] − m),
// summed in float64. It is the forward of every fused log-softmax here.
func expShiftSum[T elem](dst, row []T) (m, z float64) {
	if r32, ok := any(row).([]float32); ok { // float32: vectorised max and exp-and-sum (blasvec)
		m32 := blasvec.Max32(r32)
		return float64(m32), blasvec.ExpShiftSum32(any(dst).([]float32), r32, m32)
	}
	exp := expFor[T]()
	m = math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	for v, xv := range row {
		ev := exp(float64(xv) - m)
		dst[v] = T(ev)
		z += ev
	}
	return m, z
}

// lsgOp is the fused log-softmax + gather. shift selects the language-model
// layout (n sequences of t positions, targets ids[s, p+1]); otherwise
// targets are given per row (t = 1, n = R).
type lsgOp struct {
	pureOp
	n, t  int
	shift bool
	id    uint64 // unique per instance: the op caches log-sum-exp
	lse   *lseCache
}

func (op *lsgOp) Arity() int { return 2 }
func (op *lsgOp) Type() hm.Type {
	if op.shift {
		return fnType(2, 2, 2)
	}
	return fnType(2, 1, 1)
}
func (op *lsgOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.LogSoftmaxGather{%d,%d,%t,#%d}", op.n, op.t, op.shift, op.id)
}
func (op *lsgOp) Hashcode() uint32 { return hashOf(op) }
func (op *lsgOp) String() string {
	if op.shift {
		return fmt.Sprintf("TokenLogProbs{n=%d,t=%d}", op.n, op.t)
	}
	return fmt.Sprintf("TargetLogProbs{R=%d}", op.n)
}
func (op *lsgOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.shift {
		return tensor.Shape{op.n, op.t - 1}, nil
	}
	return tensor.Shape{op.n}, nil
}

// rowTarget maps logits row r to its output index and target id (−1 when
// the row has no target: the last position of a sequence).
func rowTarget(n, t int, shift bool, r int, tg []float64) (out int, target int) {
	if !shift {
		if tg == nil {
			return r, -1
		}
		return r, int(tg[r])
	}
	s, p := r/t, r%t
	if p == t-1 {
		return -1, -1
	}
	if tg == nil {
		return s*(t-1) + p, -1
	}
	return s*(t-1) + p, int(tg[s*t+p+1])
}

func (op *lsgOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, lsgForward[float32], lsgForward[float64])
}

// rowLSE is the log-sum-exp of one row, max-subtracted, accumulated in
// float64; it also returns the row maximum.
func rowLSE[T elem](row []T) (lse, max float64) {
	max = math.Inf(-1)
	for _, v := range row {
		if float64(v) > max {
			max = float64(v)
		}
	}
	exp := expFor[T]()
	var z float64
	for _, v := range row {
		z += exp(float64(v) - max)
	}
	return max + math.Log(z), max
}

func lsgForward[T elem](op *lsgOp, in []G.Value) (G.Value, error) {
	if s := in[0].Shape(); len(s) != 2 || s[0] != op.n*op.t {
		return nil, fmt.Errorf("%v: logits have shape %v, want [%d, V]", op, s, op.n*op.t)
	}
	x, err := sliceOf[T](in[0])
	if err != nil {
		return nil, err
	}
	rows, vocab := in[0].Shape()[0], in[0].Shape()[1]
	tg, err := checkedIDs[T](in[1], vocab)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", op, err)
	}
	var out *tensor.Dense
	var y []T
	if op.shift {
		out, y = reuseDense[T](&op.outBufs, 0, op.n, op.t-1)
	} else {
		out, y = reuseDense[T](&op.outBufs, 0, op.n)
	}
	c := op.lse
	if len(c.lse) != rows {
		c.max, c.lse, c.z = make([]float64, rows), make([]float64, rows), make([]float64, rows)
	}
	e := sizedBuf[T](&c.exp, rows*vocab)
	c.consumed = false
	parallelRange(rows, 32, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*vocab : (r+1)*vocab]
			m, z := expShiftSum(e[r*vocab:(r+1)*vocab], row)
			l := m + math.Log(z)
			c.max[r], c.lse[r], c.z[r] = m, l, z
			if o, target := rowTarget(op.n, op.t, op.shift, r, tg); o >= 0 {
				y[o] = T(float64(row[target]) - l)
			}
		}
	})
	return out, nil
}

func (op *lsgOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *lsgOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&lsgGradOp{backwardOf[*lsgOp]{tag: "LogSoftmaxGatherGrad", suffix: "Grad", fwd: op}}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// lsgGradOp: (logits, targets, g) -> dlogits, using the cached
// log-sum-exp of the forward run.
type lsgGradOp struct{ backwardOf[*lsgOp] }

func (op *lsgGradOp) Arity() int { return 3 }
func (op *lsgGradOp) Type() hm.Type {
	if op.fwd.shift {
		return fnType(2, 2, 2, 2)
	}
	return fnType(2, 1, 1, 2)
}
func (op *lsgGradOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, lsgBackward[float32], lsgBackward[float64])
}

// lsgBackward reads the exp buffer the forward cached; headBackward, which
// keeps no logits, recomputes them instead (so the two stay apart).
func lsgBackward[T elem](gop *lsgGradOp, in []G.Value) (G.Value, error) {
	op := gop.fwd
	// in[0] (the logits) is not read: the forward cached exp(x − max).
	rows, vocab := in[0].Shape()[0], in[0].Shape()[1]
	tg, err := checkedIDs[T](in[1], vocab)
	if err != nil {
		return nil, fmt.Errorf("%vGrad: %v", op, err)
	}
	g, err := sliceOf[T](in[2])
	if err != nil {
		return nil, err
	}
	c := op.lse
	var e []T
	if len(c.z) == rows && !c.consumed {
		e = sizedBuf[T](&c.exp, rows*vocab)
	}
	if e == nil {
		return nil, fmt.Errorf("%vGrad: no cached forward softmax (the forward op must run first in the same machine run, once per backward)", op)
	}
	// The gradient overwrites the exp buffer row by row (each element is
	// read before it is written): the op's only [rows, V] buffer becomes
	// the output. The forward keeps it: its next run overwrites it (the
	// gradient is valid until the next run, as every op output), and
	// ReleaseValues pools it.
	c.consumed = true
	dx := e
	out := tensor.New(tensor.WithShape(rows, vocab), tensor.WithBacking(dx))
	parallelRange(rows, 32, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			drow := dx[r*vocab : (r+1)*vocab]
			o, target := rowTarget(op.n, op.t, op.shift, r, tg)
			if o < 0 {
				clear(drow)
				continue
			}
			gr := float64(g[o])
			if gr == 0 {
				clear(drow)
				continue
			}
			k := -gr / c.z[r] // dlogits = g·(onehot − e/z)
			for v, ev := range drow {
				drow[v] = T(k * float64(ev))
			}
			drow[target] += T(gr)
		}
	})
	return out, nil
}

// LogProbMaxOf returns the forward-only node max_v log_softmax(logits)[v]
// for the rows of a TokenLogProbs or TargetLogProbs node lp (same shape as
// lp). It reads the row maxima and log-sum-exps that lp's op cached, so it
// costs no exponentials; lp is its input only to order it after lp's op.
// G.Grad treats it as a constant.
func LogProbMaxOf(lp *G.Node) (*G.Node, error) {
	src, ok := lp.Op().(*lsgOp)
	if !ok {
		return nil, fmt.Errorf("LogProbMaxOf: %v is not a TokenLogProbs/TargetLogProbs node", lp)
	}
	return G.ApplyOp(&maxLogProbOp{name: "LogProbMaxOf", src: src, n: src.n, t: src.t, shift: src.shift, st: &src.lse.lseStats}, lp)
}

// maxLogProbOp: (lp) -> max_v log_softmax(logits)[v] = max − lse per
// output row of lp, from the statistics st its source op src (the op of
// lp: TokenLogProbs, TargetLogProbs or HeadTokenLogProbs) cached; name is
// the public function that made it.
type maxLogProbOp struct {
	forwardOnly
	name  string
	src   G.Op
	n, t  int
	shift bool
	st    *lseStats
}

func (op *maxLogProbOp) Arity() int { return 1 }
func (op *maxLogProbOp) Type() hm.Type {
	if op.shift {
		return fnType(2, 2)
	}
	return fnType(1, 1)
}
func (op *maxLogProbOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "gatedpo."+op.name+"/")
	op.src.WriteHash(h)
}
func (op *maxLogProbOp) Hashcode() uint32 { return hashOf(op) }
func (op *maxLogProbOp) String() string   { return op.name + "(" + op.src.String() + ")" }
func (op *maxLogProbOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return elementwiseShape(op, in)
}
func (op *maxLogProbOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, maxLogProbDo[float32], maxLogProbDo[float64])
}
func maxLogProbDo[T elem](op *maxLogProbOp, in []G.Value) (G.Value, error) {
	st := op.st
	if len(st.lse) != op.n*op.t {
		return nil, fmt.Errorf("%v: no cached forward statistics", op)
	}
	out, y := newDense[T](in[0].Shape().Clone()...)
	for r := range st.lse {
		if o, _ := rowTarget(op.n, op.t, op.shift, r, nil); o >= 0 {
			y[o] = T(st.max[r] - st.lse[r])
		}
	}
	return out, nil
}

// Row statistics of the softmax of each logits row, forward only.
const (
	StatMaxLogProb = "max_logp"  // max_v log π(v)
	StatEntropy    = "entropy"   // H(π) = −Σ_v π(v) log π(v), in nats
	StatCollision  = "collision" // Σ_v π(v)²
)

// TokenLogProbMax returns the [n, t−1] node max_v log_softmax(logits[s·t+p])[v]
// for the language-model layout of TokenLogProbs. Forward only: no
// gradient flows into it (it is treated as a constant by G.Grad).
func TokenLogProbMax(logits *G.Node, n, t int) (*G.Node, error) {
	return TokenLogitStat(logits, n, t, StatMaxLogProb)
}

// TokenLogitStat returns a forward-only [n, t−1] node with one statistic
// (StatMaxLogProb, StatEntropy or StatCollision) of the next-token
// distribution at positions 0 … t−2 of each sequence, from logits
// [n·t, V]. Used by probes; G.Grad treats it as a constant.
func TokenLogitStat(logits *G.Node, n, t int, stat string) (*G.Node, error) {
	switch stat {
	case StatMaxLogProb, StatEntropy, StatCollision:
	default:
		return nil, fmt.Errorf("TokenLogitStat: unknown statistic %q", stat)
	}
	if s := logits.Shape(); len(s) != 2 || s[0] != n*t || t < 2 {
		return nil, fmt.Errorf("TokenLogitStat: logits %v do not match n=%d, t=%d", s, n, t)
	}
	return G.ApplyOp(&logitStatOp{n: n, t: t, stat: stat}, logits)
}

// RowLogitStats computes, in plain Go, the three statistics of every row of
// a [R, V] logits slice (row-major): max log-prob, entropy and collision.
func RowLogitStats(logits []float64, vocab int) (maxLogp, entropy, collision []float64) {
	rows := len(logits) / vocab
	maxLogp, entropy, collision = make([]float64, rows), make([]float64, rows), make([]float64, rows)
	for r := 0; r < rows; r++ {
		maxLogp[r], entropy[r], collision[r] = rowStat(logits[r*vocab : (r+1)*vocab])
	}
	return
}

// rowStat returns max log-prob, entropy and collision of softmax(row).
func rowStat[T elem](row []T) (maxLogp, entropy, collision float64) {
	l, m := rowLSE(row)
	exp := expFor[T]()
	for _, v := range row {
		lp := float64(v) - l
		p := exp(lp)
		entropy -= p * lp
		collision += p * p
	}
	return m - l, entropy, collision
}

type logitStatOp struct {
	forwardOnly
	n, t int
	stat string
}

func (op *logitStatOp) Arity() int    { return 1 }
func (op *logitStatOp) Type() hm.Type { return fnType(2, 2) }
func (op *logitStatOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gatedpo.LogitStat{%d,%d,%s}", op.n, op.t, op.stat)
}
func (op *logitStatOp) Hashcode() uint32 { return hashOf(op) }
func (op *logitStatOp) String() string   { return fmt.Sprintf("TokenLogitStat{%s}", op.stat) }
func (op *logitStatOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.t - 1}, nil
}
func (op *logitStatOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, logitStatDo[float32], logitStatDo[float64])
}
func logitStatDo[T elem](op *logitStatOp, in []G.Value) (G.Value, error) {
	v := in[0]
	x, err := sliceOf[T](v)
	if err != nil {
		return nil, err
	}
	vocab := v.Shape()[1]
	out, y := newDense[T](op.n, op.t-1)
	parallelRange(op.n*(op.t-1), 32, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			s, p := o/(op.t-1), o%(op.t-1)
			r := s*op.t + p
			m, e, c := rowStat(x[r*vocab : (r+1)*vocab])
			switch op.stat {
			case StatMaxLogProb:
				y[o] = T(m)
			case StatEntropy:
				y[o] = T(e)
			default:
				y[o] = T(c)
			}
		}
	})
	return out, nil
}

// MaskedRowSum returns Σ_j x[i, j]·mask[i, j] for x, mask [n, m]: an [n]
// node (the sequence log-prob when x holds token log-probs and mask the
// response mask shifted to the predicted tokens). The gradient is
// g[i]·mask[i, j] for x; the mask gets none.
func MaskedRowSum(x, mask *G.Node) (*G.Node, error) {
	if !x.Shape().Eq(mask.Shape()) || len(x.Shape()) != 2 {
		return nil, fmt.Errorf("MaskedRowSum: x %v and mask %v must be equal 2-D shapes", x.Shape(), mask.Shape())
	}
	return G.ApplyOp(&maskedRowSumOp{}, x, mask)
}

// maskedRowSumOp: forward (x, mask) -> [n]; with grad set,
// (mask, g) -> [n, m] = g[i]·mask[i, j].
type maskedRowSumOp struct {
	pureOp
	grad bool
}

func (op *maskedRowSumOp) Arity() int { return 2 }
func (op *maskedRowSumOp) Type() hm.Type {
	if op.grad {
		return fnType(2, 1, 2)
	}
	return fnType(2, 2, 1)
}
func (op *maskedRowSumOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gatedpo.MaskedRowSum{%t}", op.grad) }
func (op *maskedRowSumOp) Hashcode() uint32      { return hashOf(op) }
func (op *maskedRowSumOp) String() string {
	if op.grad {
		return "MaskedRowSumGrad"
	}
	return "MaskedRowSum"
}
func (op *maskedRowSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	if op.grad {
		return s.Clone(), nil
	}
	return tensor.Shape{s[0]}, nil
}
func (op *maskedRowSumOp) Do(in ...G.Value) (G.Value, error) {
	return doOp(op, in, maskedRowSumDo[float32], maskedRowSumDo[float64])
}
func maskedRowSumDo[T elem](op *maskedRowSumOp, in []G.Value) (G.Value, error) {
	ps, err := slicesOf[T](in...)
	if err != nil {
		return nil, err
	}
	a, b := ps[0], ps[1]
	if op.grad { // a = mask [n,m], b = g [n]
		s := in[0].Shape()
		out, y := newDense[T](s[0], s[1])
		for i := 0; i < s[0]; i++ {
			for j := 0; j < s[1]; j++ {
				y[i*s[1]+j] = b[i] * a[i*s[1]+j]
			}
		}
		return out, nil
	}
	s := in[0].Shape()
	out, y := newDense[T](s[0])
	for i := 0; i < s[0]; i++ {
		var acc T
		for j := 0; j < s[1]; j++ {
			acc += a[i*s[1]+j] * b[i*s[1]+j]
		}
		y[i] = acc
	}
	return out, nil
}
func (op *maskedRowSumOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *maskedRowSumOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("MaskedRowSumGrad: second-order gradients are not supported")
	}
	d, err := G.ApplyOp(&maskedRowSumOp{grad: true}, in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

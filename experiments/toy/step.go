package toy

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
)

// Step is a compiled single-step loss on a models.Toy: positive classes
// pushed up (−log p_k), negative classes pushed down (+log p̃_k, gated),
// all in the toy's default context. Build it once with NewStep and call
// Take repeatedly:
//
//	z  = xᵀW                      [K] logits (one row per scored class)
//	lp = log_softmax(z)[k]        graph.TargetLogProbs (row-wise stable)
//	positive step on k:  L += −lp_k            (push k up)
//	negative step on k:  L += +lp̃_k            (push k down; lp̃ = gating.Apply(gate, lp))
//	W ← W − lr·∇_W L
//
// For a softmax, ∇_z(−log p_k) = p − e_k, so a negative step changes
// log p_j (j ≠ k) by η‖x‖²(p_j + p_k − ‖p‖²) to first order (docs/method.md §3,
// "Squeezing"): when p_k is small on a peaky distribution only the argmax
// gains, and the gate scales that step by g(p_k).
type Step struct {
	toy      *models.Toy
	pos, neg []int
	gate     gating.Spec
	g        *G.ExprGraph
	m        G.VM
	w        *G.Node
	lmaxT    *tensor.Dense // [len(neg), 1] detached log max_v p_v (relative gates)
	lmaxX    []float64     // the context the gated log-probs are scored in
	lossV    G.Value
}

// NewStep builds L = −Σ_{k∈pos} log p_k + Σ_{k∈neg} log p̃_k on toy's
// weights (shared storage: Take updates toy.W in place). The gate acts on
// the pushed-down classes' log-probs only; an off gate inserts nothing.
func NewStep(toy *models.Toy, pos, neg []int, gate gating.Spec) (ts *Step, err error) {
	if len(pos)+len(neg) == 0 {
		return nil, fmt.Errorf("toy step: no class to push")
	}
	for _, k := range append(append([]int{}, pos...), neg...) {
		if k < 0 || k >= toy.K {
			return nil, fmt.Errorf("toy step: class %d outside [0, %d)", k, toy.K)
		}
	}
	if err := gate.Validate(); err != nil {
		return nil, fmt.Errorf("toy step: gate: %w", err)
	}
	defer recoverBuild("toy step", &err)
	ts = newStep(toy, pos, neg, gate)
	var terms []*G.Node
	if len(pos) > 0 {
		lp := ts.classLogps("pos", toy.X, pos) // [|pos|]
		terms = append(terms, G.Must(G.Neg(G.Must(G.Sum(lp)))))
	}
	if len(neg) > 0 {
		gated, err := ts.gated("neg", toy.X, neg)
		if err != nil {
			return nil, err
		}
		terms = append(terms, G.Must(G.Sum(gated)))
	}
	loss := terms[0]
	if len(terms) == 2 {
		loss = G.Must(G.Add(terms[0], terms[1]))
	}
	return ts, ts.compile(loss)
}

func newStep(toy *models.Toy, pos, neg []int, gate gating.Spec) *Step {
	g := G.NewGraph()
	ts := &Step{toy: toy, pos: pos, neg: neg, gate: gate, g: g}
	ts.w = G.NewMatrix(g, tensor.Float64, G.WithShape(toy.D, toy.K), G.WithName("toy.W"), G.WithValue(toy.W))
	return ts
}

// gated returns the gated log-probs [|classes|, 1] of classes in context
// x: gating.Apply on log p(k|x) with an all-ones mask and the detached
// log max_v p(v|x) (read by relative gates), refreshed before each run.
func (ts *Step) gated(name string, x []float64, classes []int) (*G.Node, error) {
	n := len(classes)
	lp := G.Must(G.Reshape(ts.classLogps(name, x, classes), tensor.Shape{n, 1}))
	ones := tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(fill(n, 1)))
	mask := G.NewMatrix(ts.g, tensor.Float64, G.WithShape(n, 1), G.WithName("toy."+name+"_mask"), G.WithValue(ones))
	ts.lmaxT = tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(make([]float64, n)))
	ts.lmaxX = x
	lmax := G.NewMatrix(ts.g, tensor.Float64, G.WithShape(n, 1), G.WithName("toy."+name+"_lmax"), G.WithValue(ts.lmaxT))
	return gating.Apply(ts.gate, lp, mask, lmax)
}

func (ts *Step) compile(loss *G.Node) error {
	G.Read(loss, &ts.lossV)
	if _, err := G.Grad(loss, ts.w); err != nil {
		return err
	}
	ts.m = graph.NewTapeMachine(ts.g)
	return nil
}

// classLogps returns log p(k|x) for every k of classes: the logits row xᵀW
// repeated once per class ([R, d]·[d, K] → [R, K]), then the fused
// log-softmax gather.
func (ts *Step) classLogps(name string, x []float64, classes []int) *G.Node {
	R, d := len(classes), ts.toy.D
	xs := make([]float64, R*d)
	tg := make([]float64, R)
	for r, k := range classes {
		copy(xs[r*d:], x)
		tg[r] = float64(k)
	}
	xn := G.NewMatrix(ts.g, tensor.Float64, G.WithShape(R, d), G.WithName("toy.x_"+name),
		G.WithValue(tensor.New(tensor.WithShape(R, d), tensor.WithBacking(xs))))
	targets := G.NewVector(ts.g, tensor.Float64, G.WithShape(R), G.WithName("toy.targets_"+name),
		G.WithValue(tensor.New(tensor.WithShape(R), tensor.WithBacking(tg))))
	logits := G.Must(G.Mul(xn, ts.w)) // [R, K]
	lp, err := graph.TargetLogProbs(logits, targets)
	if err != nil {
		panic(err)
	}
	return lp
}

// Gradient evaluates the loss and returns it with ∇_W L (row-major [D·K]),
// without changing W.
func (ts *Step) Gradient() (loss float64, grad []float64, err error) {
	if ts.lmaxT != nil {
		mx := math.Inf(-1)
		for _, v := range ts.toy.LogProbsAt(ts.lmaxX) {
			mx = math.Max(mx, v)
		}
		d := ts.lmaxT.Data().([]float64)
		for i := range d {
			d[i] = mx // log max_v p(v|x), detached (read by relative gates only)
		}
	}
	ts.m.Reset()
	if err := ts.m.RunAll(); err != nil {
		return 0, nil, err
	}
	gv, err := ts.w.Grad()
	if err != nil {
		return 0, nil, err
	}
	return ts.lossV.Data().(float64), append([]float64(nil), gv.Data().([]float64)...), nil
}

// Take takes one gradient-descent step W ← W − lr·∇_W L and returns the
// loss before the step.
func (ts *Step) Take(lr float64) (float64, error) {
	loss, grad, err := ts.Gradient()
	if err != nil {
		return 0, err
	}
	w := ts.toy.W.Data().([]float64)
	for i := range w {
		w[i] -= lr * grad[i]
	}
	return loss, nil
}

// Close releases the machine.
func (ts *Step) Close() { ts.m.Close() }

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func recoverBuild(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: building the graph panicked: %v", what, r)
	}
}

package models

// The toy "simple softmax model" of SCIENCE.md §4 (Ren & Sutherland's
// learning-dynamics notebook): p = softmax(Wᵀx), x ∈ R^d, W ∈ R^{d×K},
// K classes. It takes a feature vector, not tokens. Gradient steps are
// taken on W through a Gorgonia graph:
//
//	z  = xᵀW                      [K] logits (one row per scored class)
//	lp = log_softmax(z)[k]        graph.TargetLogProbs (row-wise stable)
//	positive step on k:  L += −lp_k            (push k up)
//	negative step on k:  L += +lp̃_k            (push k down; lp̃ = gating.Apply(gate, lp))
//	W ← W − lr·∇_W L
//
// For a softmax, ∇_z(−log p_k) = p − e_k, so a negative step changes
// log p_j (j ≠ k) by η‖x‖²(p_j + p_k − ‖p‖²) to first order (SCIENCE.md §3):
// when p_k is small on a peaky distribution only the argmax gains — the
// squeezing effect — and the gate scales that step by g(p_k).

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/objectives"
)

// Toy is the softmax model p = softmax(Wᵀx) in float64.
type Toy struct {
	D, K int
	X    []float64     // feature vector [D]
	W    *tensor.Dense // weights [D, K], row-major: W[i*K+j]
}

// NewToy returns a toy model with a copy of x [d] and w [d·k] (row-major
// [d, k]).
func NewToy(x, w []float64, d, k int) (*Toy, error) {
	if d < 1 || k < 2 || len(x) != d || len(w) != d*k {
		return nil, fmt.Errorf("toy: need x of %d and W of %d×%d values, got %d and %d", d, d, k, len(x), len(w))
	}
	wt := tensor.New(tensor.WithShape(d, k), tensor.WithBacking(append([]float64(nil), w...)))
	return &Toy{D: d, K: k, X: append([]float64(nil), x...), W: wt}, nil
}

// Logits returns z = Wᵀx [K].
func (t *Toy) Logits() []float64 {
	w := t.W.Data().([]float64)
	z := make([]float64, t.K)
	for i := 0; i < t.D; i++ {
		for j := 0; j < t.K; j++ {
			z[j] += t.X[i] * w[i*t.K+j]
		}
	}
	return z
}

// LogProbs returns log softmax(Wᵀx) [K], computed stably in plain Go.
func (t *Toy) LogProbs() []float64 {
	z := t.Logits()
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - m)
	}
	lse := m + math.Log(s)
	for j := range z {
		z[j] -= lse
	}
	return z
}

// Probs returns softmax(Wᵀx) [K].
func (t *Toy) Probs() []float64 {
	lp := t.LogProbs()
	for j := range lp {
		lp[j] = math.Exp(lp[j])
	}
	return lp
}

// ToyStep is a compiled single-step loss on a Toy: positive classes pushed
// up (−log p_k), negative classes pushed down (+log p_k, gated). Build it
// once with NewToyStep and call Step repeatedly.
type ToyStep struct {
	toy      *Toy
	pos, neg []int
	gate     gating.Spec
	g        *G.ExprGraph
	m        G.VM
	w        *G.Node
	lmaxT    *tensor.Dense // [len(neg), 1] detached log max_v p_v (relative gates)
	lossV    G.Value
}

// NewToyStep builds L = −Σ_{k∈pos} log p_k + Σ_{k∈neg} log p̃_k on toy's
// weights (shared storage: Step updates toy.W in place). The gate acts on
// the pushed-down classes' log-probs only; an off gate inserts nothing.
func NewToyStep(toy *Toy, pos, neg []int, gate gating.Spec) (ts *ToyStep, err error) {
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
	g := G.NewGraph()
	ts = &ToyStep{toy: toy, pos: pos, neg: neg, gate: gate, g: g}
	ts.w = G.NewMatrix(g, tensor.Float64, G.WithShape(toy.D, toy.K), G.WithName("toy.W"), G.WithValue(toy.W))
	var terms []*G.Node
	if len(pos) > 0 {
		lp := ts.classLogps("pos", pos) // [|pos|]
		terms = append(terms, G.Must(G.Neg(G.Must(G.Sum(lp)))))
	}
	if len(neg) > 0 {
		n := len(neg)
		lp := G.Must(G.Reshape(ts.classLogps("neg", neg), tensor.Shape{n, 1})) // [|neg|, 1]
		ones := tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(fill(n, 1)))
		mask := G.NewMatrix(g, tensor.Float64, G.WithShape(n, 1), G.WithName("toy.neg_mask"), G.WithValue(ones))
		ts.lmaxT = tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(make([]float64, n)))
		lmax := G.NewMatrix(g, tensor.Float64, G.WithShape(n, 1), G.WithName("toy.neg_lmax"), G.WithValue(ts.lmaxT))
		gated, err := gating.Apply(gate, lp, mask, lmax)
		if err != nil {
			return nil, err
		}
		terms = append(terms, G.Must(G.Sum(gated)))
	}
	loss := terms[0]
	if len(terms) == 2 {
		loss = G.Must(G.Add(terms[0], terms[1]))
	}
	G.Read(loss, &ts.lossV)
	if _, err := G.Grad(loss, ts.w); err != nil {
		return nil, err
	}
	ts.m = graph.NewTapeMachine(g)
	return ts, nil
}

// classLogps returns log p_k for every k of classes: the logits row xᵀW
// repeated once per class ([R, d]·[d, K] → [R, K]), then the fused
// log-softmax gather.
func (ts *ToyStep) classLogps(name string, classes []int) *G.Node {
	R, d := len(classes), ts.toy.D
	xs := make([]float64, R*d)
	tg := make([]float64, R)
	for r, k := range classes {
		copy(xs[r*d:], ts.toy.X)
		tg[r] = float64(k)
	}
	x := G.NewMatrix(ts.g, tensor.Float64, G.WithShape(R, d), G.WithName("toy.x_"+name),
		G.WithValue(tensor.New(tensor.WithShape(R, d), tensor.WithBacking(xs))))
	targets := G.NewVector(ts.g, tensor.Float64, G.WithShape(R), G.WithName("toy.targets_"+name),
		G.WithValue(tensor.New(tensor.WithShape(R), tensor.WithBacking(tg))))
	logits := G.Must(G.Mul(x, ts.w)) // [R, K]
	lp, err := graph.TargetLogProbs(logits, targets)
	if err != nil {
		panic(err)
	}
	return lp
}

// Gradient evaluates the loss and returns it with ∇_W L (row-major [D·K]),
// without changing W.
func (ts *ToyStep) Gradient() (loss float64, grad []float64, err error) {
	if ts.lmaxT != nil {
		lp := ts.toy.LogProbs()
		mx := math.Inf(-1)
		for _, v := range lp {
			mx = math.Max(mx, v)
		}
		d := ts.lmaxT.Data().([]float64)
		for i := range d {
			d[i] = mx // log max_v p_v, detached (read by relative gates only)
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

// Step takes one gradient-descent step W ← W − lr·∇_W L and returns the
// loss before the step.
func (ts *ToyStep) Step(lr float64) (float64, error) {
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
func (ts *ToyStep) Close() { ts.m.Close() }

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// ToyF1Row is one row of the single-step toy experiment (SCIENCE.md §6
// F1). Its fields are those of results.ToyF1Row, so a plain conversion
// `results.ToyF1Row(row)` works.
type ToyF1Row struct {
	Row         int       `json:"row"`          // 1..6
	Title       string    `json:"title"`        // what the row shows
	K           int       `json:"k"`            // number of classes
	Positive    []int     `json:"positive"`     // classes pushed up
	Negative    []int     `json:"negative"`     // classes pushed down
	LR          float64   `json:"lr"`           // step size
	Gate        string    `json:"gate"`         // gate description ("none" if ungated)
	Before      []float64 `json:"before"`       // probabilities before the step, length K
	After       []float64 `json:"after"`        // probabilities after the step, length K
	ArgmaxAfter int       `json:"argmax_after"` // class with the highest probability after the step
}

// ToyF1Gate is the gate of F1 row 6: a token-level ramp at τ = 0.01 (the
// gate SCIENCE.md §6b found most effective at tiny scale).
var ToyF1Gate = gating.Spec{Kind: gating.KindRamp, Tau: 0.01, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}

// Toy F1 geometry (see ToyF1 and toyPeakyLogits). Rows 1–4: K = 50, d = 4,
// x drawn from N(0, I) and rescaled to ‖x‖ = 2.
const (
	toyF1K        = 50
	toyF1D        = 4
	toyF1Peak     = 10 // argmax class of the peaky W (class 11 is "next to the peak")
	toyLargeK     = 1000
	toyLargeD     = 50
	toyLargeClass = 100
)

// toyPeakyLogits are the logits the peaky W of rows 3–4 produces: the peak
// at 7, its two neighbours at 4.5, the next two at 2, the rest N(0, 0.25).
func toyPeakyLogits(rng *rand.Rand, k, peak int) []float64 {
	z := make([]float64, k)
	for j := range z {
		z[j] = 0.5 * rng.NormFloat64()
	}
	z[peak] = 7
	for _, off := range []int{-1, 1} {
		if j := peak + off; j >= 0 && j < k {
			z[j] = 4.5
		}
		if j := peak + 2*off; j >= 0 && j < k {
			z[j] = 2
		}
	}
	return z
}

// weightsFor returns W = B + x(z − Bᵀx)ᵀ/‖x‖², the smallest change of a
// base B that makes Wᵀx equal the target logits z exactly.
func weightsFor(x, base, z []float64, d, k int) []float64 {
	w := append([]float64(nil), base...)
	nx := 0.0
	for _, v := range x {
		nx += v * v
	}
	for j := 0; j < k; j++ {
		bz := 0.0
		for i := 0; i < d; i++ {
			bz += x[i] * base[i*k+j]
		}
		for i := 0; i < d; i++ {
			w[i*k+j] += x[i] * (z[j] - bz) / nx
		}
	}
	return w
}

// ToyF1 computes the six rows of SCIENCE.md §6 F1 from one seed (math/rand/v2
// PCG via graph.NewRNG): (1) positive step on 21 from a uniform W (W = 0),
// lr .5; (2) negative on 42 from a flat W = 1 + .05·N(0,1), lr .3; (3)
// negative on 11, next to the peak (class 10) of a peaky W, lr .5; (4)
// negative on 42 plus positive on 25, same peaky W, lr .5; (5) x ∈ R⁵⁰,
// W = .5·N(0,1) of 50×1000, negative on 100, lr 1; (6) row 5's step gated
// by ToyF1Gate.
func ToyF1(seed uint64) ([]ToyF1Row, error) {
	rng := graph.NewRNG(seed)
	x := make([]float64, toyF1D)
	nx := 0.0
	for i := range x {
		x[i] = rng.NormFloat64()
		nx += x[i] * x[i]
	}
	for i := range x {
		x[i] *= 2 / math.Sqrt(nx) // ‖x‖ = 2
	}
	d, k := toyF1D, toyF1K
	uniform := make([]float64, d*k)
	flat := make([]float64, d*k)
	for i := range flat {
		flat[i] = 1 + 0.05*rng.NormFloat64()
	}
	base := make([]float64, d*k)
	for i := range base {
		base[i] = 0.1 * rng.NormFloat64()
	}
	peaky := weightsFor(x, base, toyPeakyLogits(rng, k, toyF1Peak), d, k)

	xl := make([]float64, toyLargeD)
	for i := range xl {
		xl[i] = rng.NormFloat64()
	}
	wl := make([]float64, toyLargeD*toyLargeK)
	for i := range wl {
		wl[i] = 0.5 * rng.NormFloat64()
	}
	off := gating.DefaultSpec()
	specs := []struct {
		title    string
		x, w     []float64
		d, k     int
		pos, neg []int
		lr       float64
		gate     gating.Spec
	}{
		{"positive step on 21 from a uniform W", x, uniform, d, k, []int{21}, nil, 0.5, off},
		{"negative step on 42 from a flat W", x, flat, d, k, nil, []int{42}, 0.3, off},
		{"negative step on 11, next to the peak of a peaky W", x, peaky, d, k, nil, []int{11}, 0.5, off},
		{"negative on 42 plus positive on 25, peaky W", x, peaky, d, k, []int{25}, []int{42}, 0.5, off},
		{"large vocabulary: negative step on 100", xl, wl, toyLargeD, toyLargeK, nil, []int{toyLargeClass}, 1, off},
		{"large vocabulary: negative step on 100, gated", xl, wl, toyLargeD, toyLargeK, nil, []int{toyLargeClass}, 1, ToyF1Gate},
	}
	rows := make([]ToyF1Row, 0, len(specs))
	for i, s := range specs {
		toy, err := NewToy(s.x, s.w, s.d, s.k)
		if err != nil {
			return nil, err
		}
		before := toy.Probs()
		st, err := NewToyStep(toy, s.pos, s.neg, s.gate)
		if err != nil {
			return nil, fmt.Errorf("F1 row %d: %w", i+1, err)
		}
		_, err = st.Step(s.lr)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("F1 row %d: %w", i+1, err)
		}
		after := toy.Probs()
		rows = append(rows, ToyF1Row{Row: i + 1, Title: s.title, K: s.k, Positive: nonNil(s.pos), Negative: nonNil(s.neg),
			LR: s.lr, Gate: s.gate.String(), Before: before, After: after, ArgmaxAfter: argmax(after)})
	}
	return rows, nil
}

func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// ToyF1bConfig configures the multi-step toy experiment (SCIENCE.md §6
// F1b): DPO on one preference pair (x, y⁺, y⁻) of the toy model, with the
// initial model as the frozen reference, for Steps gradient-descent steps.
type ToyF1bConfig struct {
	K, D     int     // classes and feature size (default 50 and 4)
	Chosen   int     // y⁺ (default 20)
	Rejected int     // y⁻ (default 30)
	Steps    int     // optimizer steps (default 200)
	LR       float64 // gradient-descent step size (default 0.5)
	Beta     float64 // DPO β (default 1)
}

// DefaultToyF1bConfig returns the defaults: K 50, d 4, y⁺ 20, y⁻ 30,
// 200 steps, lr 0.5, β 1, from a peaky W (the peak at class 10 with logit
// 7; y⁺ at logit 3, y⁻ at 2.5; ‖x‖ = 2).
func DefaultToyF1bConfig() ToyF1bConfig {
	return ToyF1bConfig{K: 50, D: 4, Chosen: 20, Rejected: 30, Steps: 200, LR: 0.5, Beta: 1}
}

// ToyF1bPoint is one step of a multi-step toy trace (the columns of
// results.ToyF1bColumns other than method and seed). Step 0 is before
// any update.
type ToyF1bPoint struct {
	Step         int     `json:"step"`
	LogpChosen   float64 `json:"logp_chosen"`   // log p(y⁺)
	LogpRejected float64 `json:"logp_rejected"` // log p(y⁻)
	Top1Mass     float64 `json:"top1_mass"`     // max_v p_v
	Entropy      float64 `json:"entropy"`       // −Σ_v p_v log p_v (nats)
}

// ToyF1bMethod names a trace: "dpo" when ungated, else the gate's String().
func ToyF1bMethod(gate gating.Spec) string {
	if gate.Off() {
		return "dpo"
	}
	return gate.String()
}

// ToyF1b runs the multi-step toy for one seed and gate: per step the DPO
// loss −log σ(β[(log p(y⁺) − log p_ref(y⁺)) − (log p̃(y⁻) − log p_ref(y⁻))])
// (objectives "dpo", with the gate on log p(y⁻)), and returns Steps+1
// points. The seed draws x and the base of W (graph.NewRNG).
func ToyF1b(cfg ToyF1bConfig, seed uint64, gate gating.Spec) ([]ToyF1bPoint, error) {
	if cfg.K < 3 || cfg.D < 1 || cfg.Steps < 0 || cfg.Chosen == cfg.Rejected ||
		cfg.Chosen < 0 || cfg.Chosen >= cfg.K || cfg.Rejected < 0 || cfg.Rejected >= cfg.K || !(cfg.Beta > 0) || !(cfg.LR > 0) {
		return nil, fmt.Errorf("toy F1b: invalid config %+v", cfg)
	}
	if err := gate.Validate(); err != nil {
		return nil, fmt.Errorf("toy F1b: gate: %w", err)
	}
	rng := graph.NewRNG(seed)
	x := make([]float64, cfg.D)
	nx := 0.0
	for i := range x {
		x[i] = rng.NormFloat64()
		nx += x[i] * x[i]
	}
	for i := range x {
		x[i] *= 2 / math.Sqrt(nx)
	}
	base := make([]float64, cfg.D*cfg.K)
	for i := range base {
		base[i] = 0.1 * rng.NormFloat64()
	}
	peak := toyF1Peak % cfg.K
	if peak == cfg.Chosen || peak == cfg.Rejected {
		peak = (max(cfg.Chosen, cfg.Rejected) + 1) % cfg.K
	}
	z := toyPeakyLogits(rng, cfg.K, peak)
	z[cfg.Chosen], z[cfg.Rejected] = 3, 2.5
	toy, err := NewToy(x, weightsFor(x, base, z, cfg.D, cfg.K), cfg.D, cfg.K)
	if err != nil {
		return nil, err
	}
	ref := toy.LogProbs()
	st, err := newToyDPO(toy, cfg, ref[cfg.Chosen], ref[cfg.Rejected], gate)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	points := make([]ToyF1bPoint, 0, cfg.Steps+1)
	for step := 0; ; step++ {
		lp := toy.LogProbs()
		pt := ToyF1bPoint{Step: step, LogpChosen: lp[cfg.Chosen], LogpRejected: lp[cfg.Rejected]}
		for _, l := range lp {
			p := math.Exp(l)
			pt.Top1Mass = math.Max(pt.Top1Mass, p)
			if p > 0 {
				pt.Entropy -= p * l
			}
		}
		points = append(points, pt)
		if step == cfg.Steps {
			return points, nil
		}
		if _, err := st.Step(cfg.LR); err != nil {
			return nil, fmt.Errorf("toy F1b step %d: %w", step, err)
		}
	}
}

// newToyDPO builds the DPO loss of one (y⁺, y⁻) pair on toy as a ToyStep:
// objectives.Build("dpo", β) over [1]-vectors, the gate on log p(y⁻).
func newToyDPO(toy *Toy, cfg ToyF1bConfig, refC, refR float64, gate gating.Spec) (ts *ToyStep, err error) {
	defer recoverBuild("toy dpo", &err)
	g := G.NewGraph()
	ts = &ToyStep{toy: toy, pos: []int{cfg.Chosen}, neg: []int{cfg.Rejected}, gate: gate, g: g}
	ts.w = G.NewMatrix(g, tensor.Float64, G.WithShape(toy.D, toy.K), G.WithName("toy.W"), G.WithValue(toy.W))
	vec := func(name string, v float64) *G.Node {
		return G.NewVector(g, tensor.Float64, G.WithShape(1), G.WithName("toy."+name),
			G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{v}))))
	}
	pc := ts.classLogps("chosen", []int{cfg.Chosen}) // [1]
	pr := G.Must(G.Reshape(ts.classLogps("rejected", []int{cfg.Rejected}), tensor.Shape{1, 1}))
	mask := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 1), G.WithName("toy.rej_mask"),
		G.WithValue(tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{1}))))
	ts.lmaxT = tensor.New(tensor.WithShape(1, 1), tensor.WithBacking([]float64{0}))
	lmax := G.NewMatrix(g, tensor.Float64, G.WithShape(1, 1), G.WithName("toy.rej_lmax"), G.WithValue(ts.lmaxT))
	gated, err := gating.Apply(gate, pr, mask, lmax)
	if err != nil {
		return nil, err
	}
	res, err := objectives.Build(objectives.Spec{Name: objectives.DPO, Beta: cfg.Beta}, objectives.Inputs{
		PolicyChosen: pc, PolicyRejected: G.Must(G.Reshape(gated, tensor.Shape{1})),
		ReferenceChosen: vec("ref_chosen", refC), ReferenceRejected: vec("ref_rejected", refR),
		ChosenLens: vec("one_c", 1), RejectedLens: vec("one_r", 1),
	})
	if err != nil {
		return nil, err
	}
	G.Read(res.Loss, &ts.lossV)
	if _, err := G.Grad(res.Loss, ts.w); err != nil {
		return nil, err
	}
	ts.m = graph.NewTapeMachine(g)
	return ts, nil
}

package graph

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"gatedpo/graph/blasvec"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// OptimKind names an optimizer.
type OptimKind string

// The optimizers. Each follows the PyTorch 1.13 torch.optim algorithm of the
// same name with its defaults for the options not listed (no amsgrad, no
// maximize, no nesterov).
const (
	// Adam is torch.optim.Adam. WeightDecay there is an L2 term added to
	// the gradient before the moment updates (coupled decay).
	//
	//	g ← g + wd·θ
	//	m ← β1·m + (1−β1)·g
	//	v ← β2·v + (1−β2)·g²
	//	θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
	//
	// ε is added after the square root and after the second-moment bias
	// correction, exactly as PyTorch does (not inside the root, and not
	// to the uncorrected √v as in the paper's "ε-hat" form).
	Adam OptimKind = "adam"
	// AdamW is torch.optim.AdamW: decoupled weight decay applied to the
	// parameter before the Adam update, scaled by the scheduled lr.
	//
	//	θ ← θ·(1 − lr·wd)
	//	then the Adam update above without the L2 term.
	AdamW OptimKind = "adamw"
	// RMSprop is torch.optim.RMSprop: no bias correction, ε outside the root.
	//
	//	g ← g + wd·θ
	//	s ← α·s + (1−α)·g²                     (square_avg)
	//	centered: a ← α·a + (1−α)·g; d = √(s − a²) + ε   else d = √s + ε
	//	momentum μ > 0: b ← μ·b + g/d; θ ← θ − lr·b      else θ ← θ − lr·g/d
	RMSprop OptimKind = "rmsprop"
)

// ParseOptimKind maps "adam", "adamw", "rmsprop" to an OptimKind.
func ParseOptimKind(s string) (OptimKind, error) {
	switch OptimKind(s) {
	case Adam, AdamW, RMSprop:
		return OptimKind(s), nil
	}
	return "", fmt.Errorf("graph: unknown optimizer %q (want adam, adamw or rmsprop)", s)
}

// OptimConfig configures an Optimizer. Zero values of the optional fields
// take PyTorch's defaults (use DefaultOptimConfig to see them filled in).
type OptimConfig struct {
	// Kind selects the algorithm: Adam, AdamW or RMSprop.
	Kind OptimKind
	// LR is the peak learning rate; the schedule multiplies it. Required (> 0).
	LR float64
	// Beta1, Beta2 are Adam's moment decay rates (default 0.9, 0.999).
	Beta1, Beta2 float64
	// Alpha is RMSprop's square-average decay rate (default 0.99).
	Alpha float64
	// Eps is the denominator guard (default 1e-8 for all three, as in PyTorch).
	Eps float64
	// WeightDecay: L2-in-gradient for Adam and RMSprop, decoupled for
	// AdamW (PyTorch default 0 for Adam/RMSprop, 0.01 for AdamW; here the
	// zero value means 0 for all three: set it explicitly).
	WeightDecay float64
	// Momentum is RMSprop's momentum (default 0).
	Momentum float64
	// Centered selects centred RMSprop (default false).
	Centered bool
	// MaxGradNorm > 0 rescales all gradients together so that their global
	// L2 norm is at most MaxGradNorm, as torch.nn.utils.clip_grad_norm_
	// (coefficient MaxGradNorm / (norm + 1e-6), applied only when < 1).
	// 0 disables clipping.
	MaxGradNorm float64
	// Schedule multiplies LR per step (warm-up, then constant/linear/cosine).
	Schedule Schedule
}

// DefaultOptimConfig returns cfg with every unset optional field replaced
// by its PyTorch default.
func DefaultOptimConfig(cfg OptimConfig) OptimConfig {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.99
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if cfg.Schedule.Kind == "" {
		cfg.Schedule.Kind = ScheduleConstant
	}
	return cfg
}

// Validate reports a configuration the optimizer cannot run, with what to change.
func (c OptimConfig) Validate() error {
	if _, err := ParseOptimKind(string(c.Kind)); err != nil {
		return err
	}
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("graph: lr = %g, want a finite value > 0", c.LR)
	case c.Beta1 < 0 || c.Beta1 >= 1, c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("graph: betas = (%g, %g), want each in [0, 1)", c.Beta1, c.Beta2)
	case c.Alpha < 0 || c.Alpha >= 1:
		return fmt.Errorf("graph: rmsprop alpha = %g, want [0, 1)", c.Alpha)
	case !(c.Eps >= 0):
		return fmt.Errorf("graph: eps = %g, want ≥ 0", c.Eps)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("graph: weight_decay = %g, want ≥ 0", c.WeightDecay)
	case !(c.Momentum >= 0):
		return fmt.Errorf("graph: momentum = %g, want ≥ 0", c.Momentum)
	case !(c.MaxGradNorm >= 0):
		return fmt.Errorf("graph: max_grad_norm = %g, want ≥ 0 (0 = no clipping)", c.MaxGradNorm)
	}
	return c.Schedule.Validate()
}

// StepInfo describes one optimizer step, for the training log.
type StepInfo struct {
	// Step is the number of steps taken, this one included (1 after the first).
	Step int
	// LR is the learning rate this step used (peak LR × schedule factor).
	LR float64
	// GradNorm is the global L2 norm of all gradients before clipping.
	GradNorm float64
	// ClipScale is the factor the gradients were multiplied by (1 = unclipped).
	ClipScale float64
}

// ErrNonFiniteGrad is returned by Step when the global gradient norm is NaN
// or ±Inf. The step is then skipped: parameters, state and the step count
// are left unchanged, and the gradients are still zeroed.
var ErrNonFiniteGrad = errors.New("graph: non-finite gradient norm, step skipped")

// Optimizer updates parameter tensors in place from their gradients. It is
// deterministic: the update is elementwise, and the gradient norm is a
// float64 sum of per-chunk partial sums (fixed 32768-element chunks in the
// order of the parameters given to Step) added in chunk order, so neither
// depends on GOMAXPROCS although chunks run in parallel. State is held
// per parameter name, so the parameter order may change between calls
// and across a checkpoint.
//
// Arithmetic is done in the parameter's own dtype (float32 or float64), as
// PyTorch does; the moments are stored in that dtype too. The per-step
// scalars (bias corrections, the scheduled lr, the clip coefficient) are
// computed in float64 and rounded once. The float32 Adam/AdamW update runs
// 8 lanes at a time (blasvec.AdamStep32) with the rounding of the scalar
// loop, so it gives the same bits as optUpdate.
type Optimizer struct {
	cfg   OptimConfig
	step  int
	slots map[string]*optParamSlots
}

// optParamSlots is one parameter's optimizer state. Which slices are used
// depends on the kind: Adam/AdamW use first (exp_avg) and second
// (exp_avg_sq); RMSprop uses second (square_avg), third (momentum_buffer)
// when Momentum > 0 and first (grad_avg) when Centered. Exactly one of the
// f32/f64 sets is non-nil.
type optParamSlots struct {
	dtype tensor.Dtype
	shape tensor.Shape
	f32   [3][]float32
	f64   [3][]float64
}

// NewOptimizer validates cfg (after DefaultOptimConfig) and returns an
// optimizer with empty state.
func NewOptimizer(cfg OptimConfig) (*Optimizer, error) {
	cfg = DefaultOptimConfig(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Optimizer{cfg: cfg, slots: map[string]*optParamSlots{}}, nil
}

// Config returns the configuration in use, defaults filled in.
func (o *Optimizer) Config() OptimConfig { return o.cfg }

// Steps returns the number of steps taken so far (restored by LoadState).
func (o *Optimizer) Steps() int { return o.step }

// LRAt returns the learning rate that step k (1-based) uses.
func (o *Optimizer) LRAt(k int) float64 { return o.cfg.LR * o.cfg.Schedule.Factor(k) }

// Step takes one optimizer step for the parameters of one graph (after a
// TapeMachine RunAll over a graph built with G.Grad over their nodes),
// keying state by Param.Name. See StepTensors for what a step does.
func (o *Optimizer) Step(params []Param) (StepInfo, error) {
	names := make([]string, len(params))
	nodes := make([]*G.Node, len(params))
	for i, p := range params {
		names[i], nodes[i] = p.Name, p.Node
	}
	return o.StepNodes(names, nodes)
}

// StepNodes takes one step for the named parameter nodes, reading each
// node's value and gradient (after a TapeMachine RunAll over a graph built
// with G.Grad). names[i] keys nodes[i]'s state. See StepTensors.
func (o *Optimizer) StepNodes(names []string, nodes []*G.Node) (StepInfo, error) {
	if len(names) != len(nodes) {
		return StepInfo{}, fmt.Errorf("graph: %d names for %d nodes", len(names), len(nodes))
	}
	values := make([]*tensor.Dense, len(nodes))
	grads := make([]*tensor.Dense, len(nodes))
	for i, n := range nodes {
		v, ok := n.Value().(*tensor.Dense)
		if !ok {
			return StepInfo{}, fmt.Errorf("graph: parameter %q has value %T, want *tensor.Dense (run the machine first)", names[i], n.Value())
		}
		gv, err := n.Grad()
		if err != nil {
			return StepInfo{}, fmt.Errorf("graph: parameter %q has no gradient (build the graph with G.Grad over it): %w", names[i], err)
		}
		g, ok := gv.(*tensor.Dense)
		if !ok {
			return StepInfo{}, fmt.Errorf("graph: parameter %q has gradient %T, want *tensor.Dense", names[i], gv)
		}
		values[i], grads[i] = v, g
	}
	return o.StepTensors(names, values, grads)
}

// StepTensors takes one optimizer step: it computes the global gradient
// norm over all grads, the clip coefficient and the scheduled lr, updates
// every values[i] in place from grads[i], and then zeroes every gradient
// tensor (after all updates, so gradients shared between parameters are
// read intact). A TapeMachine recomputes gradients from scratch on each
// RunAll, so the zeroing is a safety net, not a requirement of Gorgonia's
// symbolic mode.
//
// Values and grads must be contiguous, non-view *tensor.Dense of the same
// shape and dtype (float32 or float64). On a non-finite norm it returns
// ErrNonFiniteGrad and changes nothing but the gradients.
func (o *Optimizer) StepTensors(names []string, values, grads []*tensor.Dense) (StepInfo, error) {
	if len(names) != len(values) || len(names) != len(grads) {
		return StepInfo{}, fmt.Errorf("graph: %d names, %d values, %d grads", len(names), len(values), len(grads))
	}
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		if seen[name] {
			return StepInfo{}, fmt.Errorf("graph: parameter name %q given twice", name)
		}
		seen[name] = true
		if err := optCheckPair(name, values[i], grads[i]); err != nil {
			return StepInfo{}, err
		}
		if s, ok := o.slots[name]; ok {
			if s.dtype != values[i].Dtype() || !s.shape.Eq(values[i].Shape()) {
				return StepInfo{}, fmt.Errorf("graph: parameter %q is %v %v, optimizer state is %v %v",
					name, values[i].Dtype(), values[i].Shape(), s.dtype, s.shape)
			}
		}
	}
	defer optZeroAll(grads)

	// Global L2 norm: float64 partial sums over fixed chunks, added in
	// chunk order (deterministic whatever the number of goroutines).
	sizes := make([]int, len(grads))
	for i, g := range grads {
		sizes[i] = g.Shape().TotalSize()
	}
	chunks := optChunks(sizes)
	partial := make([]float64, len(chunks))
	optRun(chunks, func(c int, ch optChunk) {
		switch d := grads[ch.param].Data().(type) {
		case []float32:
			partial[c] = optSumSquares(d[ch.lo:ch.hi])
		case []float64:
			partial[c] = optSumSquares(d[ch.lo:ch.hi])
		}
	})
	var sq float64
	for _, p := range partial {
		sq += p
	}
	norm := math.Sqrt(sq)
	k := o.step + 1
	info := StepInfo{Step: k, LR: o.LRAt(k), GradNorm: norm, ClipScale: 1}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		info.Step = o.step
		return info, ErrNonFiniteGrad
	}
	if o.cfg.MaxGradNorm > 0 {
		// torch.nn.utils.clip_grad_norm_: coef = max_norm / (total_norm + 1e-6), clamped to ≤ 1.
		if c := o.cfg.MaxGradNorm / (norm + 1e-6); c < 1 {
			info.ClipScale = c
		}
	}
	sc := o.scalars(k, info.LR, info.ClipScale)
	slots := make([]*optParamSlots, len(names))
	for i, name := range names {
		if slots[i] = o.slots[name]; slots[i] == nil {
			slots[i] = optNewSlots(o.cfg, values[i])
			o.slots[name] = slots[i]
		}
	}
	optRun(chunks, func(_ int, ch optChunk) { // elementwise: any schedule gives the same bits
		s, lo, hi := slots[ch.param], ch.lo, ch.hi
		switch v := values[ch.param].Data().(type) {
		case []float32:
			st := s.f32
			for j := range st {
				if st[j] != nil {
					st[j] = st[j][lo:hi]
				}
			}
			optUpdate32(o.cfg, sc, v[lo:hi], grads[ch.param].Data().([]float32)[lo:hi], &st)
		case []float64:
			st := s.f64
			for j := range st {
				if st[j] != nil {
					st[j] = st[j][lo:hi]
				}
			}
			optUpdate(o.cfg, sc, v[lo:hi], grads[ch.param].Data().([]float64)[lo:hi], &st)
		}
	})
	o.step = k
	return info, nil
}

// optChunk is a range [lo, hi) of one parameter's elements.
type optChunk struct{ param, lo, hi int }

// optChunkSize is the number of elements per chunk: small enough to
// balance two or more goroutines, large enough that scheduling is free.
const optChunkSize = 1 << 15

// optChunks cuts parameters of the given sizes into chunks of at most
// optChunkSize elements, in parameter order.
func optChunks(sizes []int) []optChunk {
	var cs []optChunk
	for p, n := range sizes {
		for lo := 0; lo < n; lo += optChunkSize {
			cs = append(cs, optChunk{p, lo, min(n, lo+optChunkSize)})
		}
	}
	return cs
}

// optRun calls body for every chunk, on up to GOMAXPROCS goroutines when
// there is enough work. Chunks are independent, so results do not depend
// on the schedule.
func optRun(chunks []optChunk, body func(c int, ch optChunk)) {
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	if workers < 2 {
		for c, ch := range chunks {
			body(c, ch)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := int(next.Add(1) - 1); c < len(chunks); c = int(next.Add(1) - 1) {
				body(c, chunks[c])
			}
		}()
	}
	wg.Wait()
}

// optStepScalars holds the per-step constants, computed in float64.
type optStepScalars struct {
	lr, clip     float64
	bc1, sqrtBC2 float64 // Adam bias corrections 1−β1ᵏ and √(1−β2ᵏ)
	decayMul     float64 // AdamW: 1 − lr·wd
	stepSize     float64 // Adam: lr / bc1
}

func (o *Optimizer) scalars(k int, lr, clip float64) optStepScalars {
	c := o.cfg
	bc1 := 1 - math.Pow(c.Beta1, float64(k))
	bc2 := 1 - math.Pow(c.Beta2, float64(k))
	return optStepScalars{
		lr: lr, clip: clip,
		bc1: bc1, sqrtBC2: math.Sqrt(bc2),
		decayMul: 1 - lr*c.WeightDecay,
		stepSize: lr / bc1,
	}
}

type optFloat interface{ ~float32 | ~float64 }

func optSqrt[T optFloat](x T) T { return T(math.Sqrt(float64(x))) }

func optSumSquares[T optFloat](d []T) float64 {
	var s float64
	for _, x := range d {
		s += float64(x) * float64(x)
	}
	return s
}

// optUpdate applies one step of cfg.Kind to p from g, in T arithmetic.
func optUpdate[T optFloat](cfg OptimConfig, sc optStepScalars, p, g []T, st *[3][]T) {
	clip := T(sc.clip)
	scaled := sc.clip != 1
	wd := T(cfg.WeightDecay)
	eps := T(cfg.Eps)
	switch cfg.Kind {
	case Adam, AdamW:
		b1, b2 := T(cfg.Beta1), T(cfg.Beta2)
		omb1, omb2 := T(1-cfg.Beta1), T(1-cfg.Beta2) // PyTorch rounds 1−β (a Python float) once
		stepSize := T(sc.stepSize)
		sqrtBC2 := T(sc.sqrtBC2)
		decay := T(sc.decayMul)
		l2 := cfg.Kind == Adam && cfg.WeightDecay != 0
		decoupled := cfg.Kind == AdamW && cfg.WeightDecay != 0
		m, v := st[0][:len(p)], st[1][:len(p)]
		for i := range p {
			gi := g[i]
			if scaled {
				gi *= clip
			}
			if l2 {
				gi += wd * p[i]
			}
			if decoupled {
				p[i] *= decay
			}
			m[i] = b1*m[i] + omb1*gi
			v[i] = b2*v[i] + omb2*gi*gi
			p[i] -= stepSize * (m[i] / (optSqrt(v[i])/sqrtBC2 + eps))
		}
	case RMSprop:
		a := T(cfg.Alpha)
		oma := T(1 - cfg.Alpha)
		lr := T(sc.lr)
		mu := T(cfg.Momentum)
		sqAvg := st[1][:len(p)]
		for i := range p {
			gi := g[i]
			if scaled {
				gi *= clip
			}
			if cfg.WeightDecay != 0 {
				gi += wd * p[i]
			}
			sqAvg[i] = a*sqAvg[i] + oma*gi*gi
			var d T
			if cfg.Centered {
				ga := st[0]
				ga[i] = a*ga[i] + oma*gi
				d = optSqrt(sqAvg[i]-ga[i]*ga[i]) + eps
			} else {
				d = optSqrt(sqAvg[i]) + eps
			}
			if cfg.Momentum > 0 {
				b := st[2]
				b[i] = mu*b[i] + gi/d
				p[i] -= lr * b[i]
			} else {
				p[i] -= lr * (gi / d)
			}
		}
	}
}

// optUpdate32 is optUpdate for float32: Adam and AdamW go to the 8-lane
// blasvec.AdamStep32, which rounds every operation as optUpdate's loop does
// (same bits), RMSprop to the loop.
func optUpdate32(cfg OptimConfig, sc optStepScalars, p, g []float32, st *[3][]float32) {
	switch cfg.Kind {
	case Adam, AdamW:
		c := optAdam32(cfg, sc)
		blasvec.AdamStep32(p, g, st[0], st[1], &c)
	default:
		optUpdate(cfg, sc, p, g, st)
	}
}

// optAdam32 rounds the Adam/AdamW constants to float32 as optUpdate does.
func optAdam32(cfg OptimConfig, sc optStepScalars) blasvec.Adam32 {
	return blasvec.Adam32{
		Clip: float32(sc.clip), WD: float32(cfg.WeightDecay), Decay: float32(sc.decayMul),
		B1: float32(cfg.Beta1), B2: float32(cfg.Beta2),
		OmB1: float32(1 - cfg.Beta1), OmB2: float32(1 - cfg.Beta2),
		StepSize: float32(sc.stepSize), SqrtBC2: float32(sc.sqrtBC2), Eps: float32(cfg.Eps),
		Scaled:    sc.clip != 1,
		L2:        cfg.Kind == Adam && cfg.WeightDecay != 0,
		Decoupled: cfg.Kind == AdamW && cfg.WeightDecay != 0,
	}
}

// optSlotNames returns the PyTorch state_dict names of the state slices in
// use for cfg, by slot index (empty = unused).
func optSlotNames(cfg OptimConfig) [3]string {
	switch cfg.Kind {
	case Adam, AdamW:
		return [3]string{"exp_avg", "exp_avg_sq", ""}
	}
	var n [3]string
	n[1] = "square_avg"
	if cfg.Centered {
		n[0] = "grad_avg"
	}
	if cfg.Momentum > 0 {
		n[2] = "momentum_buffer"
	}
	return n
}

func optNewSlots(cfg OptimConfig, like *tensor.Dense) *optParamSlots {
	s := &optParamSlots{dtype: like.Dtype(), shape: like.Shape().Clone()}
	n := like.Shape().TotalSize()
	for i, name := range optSlotNames(cfg) {
		if name == "" {
			continue
		}
		if s.dtype == tensor.Float32 {
			s.f32[i] = make([]float32, n)
		} else {
			s.f64[i] = make([]float64, n)
		}
	}
	return s
}

func optCheckPair(name string, v, g *tensor.Dense) error {
	if v == nil || g == nil {
		return fmt.Errorf("graph: parameter %q has a nil value or gradient", name)
	}
	if v.Dtype() != g.Dtype() || !v.Shape().Eq(g.Shape()) {
		return fmt.Errorf("graph: parameter %q is %v %v but its gradient is %v %v", name, v.Dtype(), v.Shape(), g.Dtype(), g.Shape())
	}
	if v.Dtype() != tensor.Float32 && v.Dtype() != tensor.Float64 {
		return fmt.Errorf("graph: parameter %q has dtype %v, want float32 or float64", name, v.Dtype())
	}
	for _, t := range []*tensor.Dense{v, g} {
		if t.Shape().IsScalar() || t.IsMaterializable() || t.RequiresIterator() || t.DataSize() != t.Shape().TotalSize() {
			return fmt.Errorf("graph: parameter %q: value and gradient must be contiguous non-scalar tensors that own their data (materialise views first)", name)
		}
	}
	return nil
}

func optZeroAll(grads []*tensor.Dense) {
	done := make(map[*tensor.Dense]bool, len(grads))
	for _, g := range grads {
		if g != nil && !done[g] {
			g.Zero()
			done[g] = true
		}
	}
}

// OptimState is an optimizer's complete state, for checkpoints: the step
// count and one tensor per (parameter, slot), keyed "<param>.<slot>" with
// PyTorch's slot names (exp_avg, exp_avg_sq for Adam/AdamW; square_avg,
// momentum_buffer, grad_avg for RMSprop). The tensors have the parameter's
// shape and dtype, so an exported state can be written with any
// safetensors writer and loaded back bit-identically.
type OptimState struct {
	// Kind is the optimizer the state belongs to.
	Kind OptimKind
	// Step is the number of steps taken.
	Step int
	// Tensors holds the slots, keyed "<param name>.<slot name>".
	Tensors map[string]*tensor.Dense
}

// State returns a deep copy of the optimizer's state.
func (o *Optimizer) State() OptimState {
	st := OptimState{Kind: o.cfg.Kind, Step: o.step, Tensors: map[string]*tensor.Dense{}}
	names := optSlotNames(o.cfg)
	for pname, s := range o.slots {
		for i, sname := range names {
			if sname == "" {
				continue
			}
			var t *tensor.Dense
			if s.dtype == tensor.Float32 {
				t = tensor.New(tensor.WithShape(s.shape.Clone()...), tensor.WithBacking(append([]float32(nil), s.f32[i]...)))
			} else {
				t = tensor.New(tensor.WithShape(s.shape.Clone()...), tensor.WithBacking(append([]float64(nil), s.f64[i]...)))
			}
			st.Tensors[pname+"."+sname] = t
		}
	}
	return st
}

// StateKeys returns the sorted keys of State().Tensors, for deterministic
// writing.
func (s OptimState) StateKeys() []string {
	keys := make([]string, 0, len(s.Tensors))
	for k := range s.Tensors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LoadState replaces the optimizer's state with a deep copy of st. Every
// parameter must come with exactly the slots of this optimizer's kind
// and configuration, of one shape and dtype; a parameter's shape and
// dtype are checked against its value at the next Step.
func (o *Optimizer) LoadState(st OptimState) error {
	if st.Kind != o.cfg.Kind {
		return fmt.Errorf("graph: optimizer state is for %q, this optimizer is %q", st.Kind, o.cfg.Kind)
	}
	if st.Step < 0 {
		return fmt.Errorf("graph: optimizer state has step %d < 0", st.Step)
	}
	names := optSlotNames(o.cfg)
	slots := map[string]*optParamSlots{}
	for key, t := range st.Tensors {
		pname, idx := "", -1
		for i, n := range names {
			if n != "" && len(key) > len(n)+1 && key[len(key)-len(n)-1:] == "."+n {
				pname, idx = key[:len(key)-len(n)-1], i
				break
			}
		}
		if idx < 0 {
			return fmt.Errorf("graph: optimizer state key %q is not <param>.<slot> with a slot of %s %v", key, o.cfg.Kind, names)
		}
		if t == nil || t.Shape().IsScalar() || t.IsMaterializable() || t.RequiresIterator() || (t.Dtype() != tensor.Float32 && t.Dtype() != tensor.Float64) {
			return fmt.Errorf("graph: optimizer state %q must be a contiguous float32 or float64 tensor", key)
		}
		s := slots[pname]
		if s == nil {
			s = &optParamSlots{dtype: t.Dtype(), shape: t.Shape().Clone()}
			slots[pname] = s
		}
		if s.dtype != t.Dtype() || !s.shape.Eq(t.Shape()) {
			return fmt.Errorf("graph: optimizer state %q is %v %v, other slots of %q are %v %v", key, t.Dtype(), t.Shape(), pname, s.dtype, s.shape)
		}
		if s.dtype == tensor.Float32 {
			s.f32[idx] = append([]float32(nil), t.Data().([]float32)...)
		} else {
			s.f64[idx] = append([]float64(nil), t.Data().([]float64)...)
		}
	}
	for pname, s := range slots {
		for i, n := range names {
			if n == "" {
				continue
			}
			if (s.dtype == tensor.Float32 && s.f32[i] == nil) || (s.dtype == tensor.Float64 && s.f64[i] == nil) {
				return fmt.Errorf("graph: optimizer state for %q lacks slot %q", pname, n)
			}
		}
	}
	o.slots = slots
	o.step = st.Step
	return nil
}

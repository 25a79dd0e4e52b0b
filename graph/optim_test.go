package graph

import (
	"errors"
	"math"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// optTestDense builds a tensor of dtype dt holding xs (rounded to float32 if asked).
func optTestDense(dt string, xs []float64, shape ...int) *tensor.Dense {
	if dt == "float32" {
		f := make([]float32, len(xs))
		for i, x := range xs {
			f[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), xs...)))
}

func optTestFloats(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	panic("unexpected dtype")
}

// TestOptimMatchesTorch runs the Go optimizers on the same parameters,
// gradients, clip norm and lr schedule as torch.optim in
// scripts/optim_torch_golden.py and compares the parameters after every step.
//
// Tolerance: float64 1e-12 absolute (parameters are O(1); the only
// difference allowed is the order of the norm summation, which moves the
// clip coefficient by a few ulps). float32 2e-6 absolute (≈ 16 ulps at 1):
// the Go optimizer accumulates the gradient norm in float64 while PyTorch
// does it in float32, so the clip coefficient differs in its last bits,
// and four steps of float32 rounding follow.
func TestOptimMatchesTorch(t *testing.T) {
	for _, c := range torchOptimCases {
		t.Run(c.name, func(t *testing.T) {
			cfg := OptimConfig{
				Kind: OptimKind(c.kind), LR: torchOptimLR,
				Beta1: c.beta1, Beta2: c.beta2, Alpha: c.alpha, Eps: c.eps,
				WeightDecay: c.wd, Momentum: c.momentum, Centered: c.centered,
				MaxGradNorm: c.maxNorm,
				Schedule:    Schedule{Kind: ScheduleLinear, WarmupSteps: torchOptimWarmup, TotalSteps: torchOptimSteps},
			}
			if c.kind == "rmsprop" {
				cfg.Beta1, cfg.Beta2 = 0, 0
			} else {
				cfg.Alpha = 0
			}
			o, err := NewOptimizer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-12
			if c.dtype == "float32" {
				tol = 2e-6
			}
			a := optTestDense(c.dtype, torchOptimA0, 2, 3)
			b := optTestDense(c.dtype, torchOptimB0, 3)
			for k := 0; k < torchOptimSteps; k++ {
				ga := optTestDense(c.dtype, torchOptimGradsA[k], 2, 3)
				gb := optTestDense(c.dtype, torchOptimGradsB[k], 3)
				info, err := o.StepTensors([]string{"a", "b"}, []*tensor.Dense{a, b}, []*tensor.Dense{ga, gb})
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Abs(info.GradNorm - c.norms[k]); d > 1e-12*c.norms[k]+tol {
					t.Errorf("step %d: grad norm %v, torch %v", k+1, info.GradNorm, c.norms[k])
				}
				if want := torchOptimLR * hfLinearWithWarmup(k+1, torchOptimWarmup, torchOptimSteps); math.Abs(info.LR-want) > 1e-15*torchOptimLR {
					t.Errorf("step %d: lr %v, want %v", k+1, info.LR, want)
				}
				for name, pair := range map[string][2][]float64{"a": {optTestFloats(a), c.afterA[k]}, "b": {optTestFloats(b), c.afterB[k]}} {
					for i := range pair[0] {
						if d := math.Abs(pair[0][i] - pair[1][i]); d > tol {
							t.Errorf("step %d %s[%d]: got %.17g, torch %.17g (|Δ| %.3g > %.3g)", k+1, name, i, pair[0][i], pair[1][i], d, tol)
						}
					}
				}
			}
		})
	}
}

// hfLinearWithWarmup is the learning-rate multiplier of optimizer step k
// (1-based) written out by hand, independently of Schedule.Factor: during
// warm-up k/W (the documented choice of counting the step being taken,
// where HuggingFace has s/W), then HuggingFace's
// get_linear_schedule_with_warmup at its 0-based step s = k − 1:
// max(0, (N − s)/(N − W)).
func hfLinearWithWarmup(k, w, n int) float64 {
	if k <= w {
		return float64(k) / float64(w)
	}
	s := k - 1
	return math.Max(0, float64(n-s)/float64(n-w))
}

// hfCosineWithWarmup is HuggingFace's get_cosine_schedule_with_warmup
// (num_cycles 0.5) at 0-based step s = k − 1 after the same warm-up:
// max(0, 0.5·(1 + cos(π·2·0.5·p))), p = (s − W)/(N − W).
func hfCosineWithWarmup(k, w, n int) float64 {
	if k <= w {
		return float64(k) / float64(w)
	}
	p := float64(k-1-w) / float64(n-w)
	return math.Max(0, 0.5*(1+math.Cos(math.Pi*2*0.5*p)))
}

// TestScheduleHandFormulas checks Schedule.Factor against the schedule
// formulas written out by hand (hfLinearWithWarmup, hfCosineWithWarmup)
// at every step of a 40-step run with 7 warm-up steps, 1e-15 relative.
func TestScheduleHandFormulas(t *testing.T) {
	const w, n = 7, 40
	for k := 1; k <= n; k++ {
		for _, c := range []struct {
			kind ScheduleKind
			want float64
		}{{ScheduleLinear, hfLinearWithWarmup(k, w, n)}, {ScheduleCosine, hfCosineWithWarmup(k, w, n)}, {ScheduleConstant, math.Min(1, float64(k)/w)}} {
			got := Schedule{Kind: c.kind, WarmupSteps: w, TotalSteps: n}.Factor(k)
			if math.Abs(got-c.want) > 1e-15*math.Max(1, c.want) {
				t.Errorf("%s step %d: factor %v, hand formula %v", c.kind, k, got, c.want)
			}
		}
	}
}

// TestOptimFirstStepClosedForm checks the first step of each optimizer
// against its closed form, computed by hand from the PyTorch formulas:
//
//	Adam:    m̂ = g, v̂ = g²           ⇒ θ₁ = θ₀ − lr·g/(|g| + ε)
//	AdamW:                              θ₁ = θ₀(1 − lr·wd) − lr·g/(|g| + ε)
//	Adam+L2: g' = g + wd·θ₀            ⇒ θ₁ = θ₀ − lr·g'/(|g'| + ε)
//	RMSprop: s = (1−α)g²               ⇒ θ₁ = θ₀ − lr·g/(√(1−α)·|g| + ε)
//
// Tolerance 1e-15 absolute in float64: each closed form is a handful of
// correctly rounded operations on O(1) numbers.
func TestOptimFirstStepClosedForm(t *testing.T) {
	p0 := []float64{0.5, -1.25, 2, 0}
	g := []float64{0.3, -2, 1e-3, 4}
	const lr, wd, eps, alpha = 0.1, 0.2, 1e-3, 0.9
	abs := math.Abs
	cases := []struct {
		cfg  OptimConfig
		want func(p, g float64) float64
	}{
		{OptimConfig{Kind: Adam, LR: lr, Eps: eps}, func(p, g float64) float64 { return p - lr*g/(abs(g)+eps) }},
		{OptimConfig{Kind: AdamW, LR: lr, Eps: eps, WeightDecay: wd}, func(p, g float64) float64 { return p*(1-lr*wd) - lr*g/(abs(g)+eps) }},
		{OptimConfig{Kind: Adam, LR: lr, Eps: eps, WeightDecay: wd}, func(p, g float64) float64 {
			g += wd * p
			return p - lr*g/(abs(g)+eps)
		}},
		{OptimConfig{Kind: RMSprop, LR: lr, Eps: eps, Alpha: alpha}, func(p, g float64) float64 {
			return p - lr*g/(math.Sqrt(1-alpha)*abs(g)+eps)
		}},
	}
	for _, c := range cases {
		o, err := NewOptimizer(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := optTestDense("float64", p0, 4)
		gr := optTestDense("float64", g, 4)
		if _, err := o.StepTensors([]string{"p"}, []*tensor.Dense{p}, []*tensor.Dense{gr}); err != nil {
			t.Fatal(err)
		}
		got := p.Data().([]float64)
		for i := range p0 {
			if w := c.want(p0[i], g[i]); abs(got[i]-w) > 1e-15 {
				t.Errorf("%s wd=%g: θ[%d] = %.17g, closed form %.17g", c.cfg.Kind, c.cfg.WeightDecay, i, got[i], w)
			}
		}
	}
}

// TestOptimClipIsGlobal checks that clipping uses the norm over all
// parameters together (3-4-5: two tensors whose own norms are 3 and 4),
// that the reported norm is the pre-clip one, and that no clipping happens
// below the threshold.
func TestOptimClipIsGlobal(t *testing.T) {
	for _, tc := range []struct {
		max, wantScale float64
	}{
		{1, 1 / (5 + 1e-6)},
		{2.5, 2.5 / (5 + 1e-6)},
		{5, 5 / (5 + 1e-6)}, // at the threshold torch still scales by 1 − 2e-7, and so do we
		{10, 1},             // below the threshold: untouched
	} {
		// RMSprop with momentum off and eps large makes the update depend
		// on the gradient scale: θ₁ = −lr·g/(√(1−α)|g| + ε).
		const lr, alpha, eps = 1, 0.75, 1
		o, err := NewOptimizer(OptimConfig{Kind: RMSprop, LR: lr, Alpha: alpha, Eps: eps, MaxGradNorm: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		a, b := optTestDense("float64", []float64{0}, 1), optTestDense("float64", []float64{0}, 1)
		ga, gb := optTestDense("float64", []float64{3}, 1), optTestDense("float64", []float64{-4}, 1)
		info, err := o.StepTensors([]string{"a", "b"}, []*tensor.Dense{a, b}, []*tensor.Dense{ga, gb})
		if err != nil {
			t.Fatal(err)
		}
		if info.GradNorm != 5 {
			t.Errorf("max %g: GradNorm %v, want 5 (pre-clip)", tc.max, info.GradNorm)
		}
		wantScale := tc.wantScale
		if math.Abs(info.ClipScale-wantScale) > 1e-15 {
			t.Errorf("max %g: ClipScale %v, want %v", tc.max, info.ClipScale, wantScale)
		}
		for i, g := range []float64{3, -4} {
			g *= wantScale
			want := -lr * g / (math.Sqrt(1-alpha)*math.Abs(g) + eps)
			got := []*tensor.Dense{a, b}[i].Data().([]float64)[0]
			if math.Abs(got-want) > 1e-15 {
				t.Errorf("max %g: param %d = %.17g, want %.17g", tc.max, i, got, want)
			}
		}
	}
}

// TestOptimZeroesGradsAndSharedGrad checks that gradients are zeroed after
// the step, and that two parameters sharing one gradient tensor (as
// Gorgonia does for x and y in x+y) both get the full gradient.
func TestOptimZeroesGradsAndSharedGrad(t *testing.T) {
	o, _ := NewOptimizer(OptimConfig{Kind: Adam, LR: 0.1})
	a := optTestDense("float32", []float64{1, 2}, 2)
	b := optTestDense("float32", []float64{1, 2}, 2)
	g := optTestDense("float32", []float64{0.5, -0.5}, 2)
	if _, err := o.StepTensors([]string{"a", "b"}, []*tensor.Dense{a, b}, []*tensor.Dense{g, g}); err != nil {
		t.Fatal(err)
	}
	av, bv := a.Data().([]float32), b.Data().([]float32)
	for i := range av {
		if av[i] != bv[i] || av[i] == []float32{1, 2}[i] {
			t.Errorf("shared gradient: a %v b %v, want equal and moved", av, bv)
		}
	}
	for _, x := range g.Data().([]float32) {
		if x != 0 {
			t.Fatalf("gradient not zeroed: %v", g.Data())
		}
	}
}

// TestOptimNonFinite checks that a NaN gradient skips the step entirely.
func TestOptimNonFinite(t *testing.T) {
	o, _ := NewOptimizer(OptimConfig{Kind: AdamW, LR: 0.1, WeightDecay: 0.1})
	p := optTestDense("float64", []float64{1, 2}, 2)
	g := optTestDense("float64", []float64{math.NaN(), 1}, 2)
	info, err := o.StepTensors([]string{"p"}, []*tensor.Dense{p}, []*tensor.Dense{g})
	if !errors.Is(err, ErrNonFiniteGrad) || !math.IsNaN(info.GradNorm) {
		t.Fatalf("err %v norm %v, want ErrNonFiniteGrad and NaN", err, info.GradNorm)
	}
	if d := p.Data().([]float64); d[0] != 1 || d[1] != 2 || o.Steps() != 0 || len(o.State().Tensors) != 0 {
		t.Errorf("skipped step changed something: p %v steps %d state %d", d, o.Steps(), len(o.State().Tensors))
	}
}

// TestOptimStateRoundTrip checks that stopping after 3 steps, exporting
// the state, loading it into a fresh optimizer and running 3 more steps is
// bit-identical to 6 uninterrupted steps, for every kind and dtype.
func TestOptimStateRoundTrip(t *testing.T) {
	cfgs := []OptimConfig{
		{Kind: Adam, LR: 0.01, WeightDecay: 0.01, MaxGradNorm: 1},
		{Kind: AdamW, LR: 0.01, WeightDecay: 0.1, Schedule: Schedule{Kind: ScheduleCosine, WarmupSteps: 2, TotalSteps: 6}},
		{Kind: RMSprop, LR: 0.01, Momentum: 0.9, Centered: true, MaxGradNorm: 0.5},
		{Kind: RMSprop, LR: 0.01},
	}
	grad := func(step, n int) []float64 {
		g := make([]float64, n)
		for i := range g {
			g[i] = math.Sin(float64(7*step+3*i+1)) * 2
		}
		return g
	}
	run := func(o *Optimizer, ps map[string]*tensor.Dense, dt string, from, to int) {
		for k := from; k < to; k++ {
			names := []string{"w", "b"}
			vals := []*tensor.Dense{ps["w"], ps["b"]}
			grads := []*tensor.Dense{optTestDense(dt, grad(k, 6), 2, 3), optTestDense(dt, grad(k+100, 3), 3)}
			if k%2 == 1 { // the order of parameters may change between steps
				names[0], names[1], vals[0], vals[1], grads[0], grads[1] = names[1], names[0], vals[1], vals[0], grads[1], grads[0]
			}
			if _, err := o.StepTensors(names, vals, grads); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, dt := range []string{"float32", "float64"} {
		for _, cfg := range cfgs {
			fresh := func() map[string]*tensor.Dense {
				return map[string]*tensor.Dense{"w": optTestDense(dt, []float64{.1, .2, .3, -.4, .5, -.6}, 2, 3), "b": optTestDense(dt, []float64{1, 0, -1}, 3)}
			}
			straight, _ := NewOptimizer(cfg)
			ps1 := fresh()
			run(straight, ps1, dt, 0, 6)

			first, _ := NewOptimizer(cfg)
			ps2 := fresh()
			run(first, ps2, dt, 0, 3)
			st := first.State()
			if st.Step != 3 || len(st.Tensors) == 0 {
				t.Fatalf("%s: state step %d with %d tensors", cfg.Kind, st.Step, len(st.Tensors))
			}
			run(first, fresh(), dt, 3, 4) // mutating the source must not touch the export
			second, _ := NewOptimizer(cfg)
			if err := second.LoadState(st); err != nil {
				t.Fatal(err)
			}
			run(second, ps2, dt, 3, 6)
			for _, name := range []string{"w", "b"} {
				x, y := optTestFloats(ps1[name]), optTestFloats(ps2[name])
				for i := range x {
					if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
						t.Errorf("%s %s momentum=%g: %s[%d] resumed %v, straight %v", dt, cfg.Kind, cfg.Momentum, name, i, y[i], x[i])
					}
				}
			}
		}
	}
}

// TestOptimLoadStateErrors checks that mismatched states are refused.
func TestOptimLoadStateErrors(t *testing.T) {
	adam, _ := NewOptimizer(OptimConfig{Kind: Adam, LR: 1})
	rms, _ := NewOptimizer(OptimConfig{Kind: RMSprop, LR: 1})
	p := optTestDense("float32", []float64{1, 2}, 2)
	if _, err := adam.StepTensors([]string{"p"}, []*tensor.Dense{p}, []*tensor.Dense{optTestDense("float32", []float64{1, 1}, 2)}); err != nil {
		t.Fatal(err)
	}
	st := adam.State()
	if err := rms.LoadState(st); err == nil {
		t.Error("rmsprop accepted an adam state")
	}
	delete(st.Tensors, "p.exp_avg_sq")
	fresh, _ := NewOptimizer(OptimConfig{Kind: Adam, LR: 1})
	if err := fresh.LoadState(st); err == nil {
		t.Error("adam accepted a state without exp_avg_sq")
	}
	// A state whose shape disagrees with the parameter is caught at Step.
	full := adam.State()
	if err := fresh.LoadState(full); err != nil {
		t.Fatal(err)
	}
	q := optTestDense("float32", []float64{1, 2, 3}, 3)
	if _, err := fresh.StepTensors([]string{"p"}, []*tensor.Dense{q}, []*tensor.Dense{optTestDense("float32", []float64{1, 1, 1}, 3)}); err == nil {
		t.Error("step accepted a parameter whose shape differs from its state")
	}
}

// TestOptimConfigValidate checks that bad configurations are refused.
func TestOptimConfigValidate(t *testing.T) {
	for _, c := range []OptimConfig{
		{Kind: "sgd", LR: 1},
		{Kind: Adam},
		{Kind: Adam, LR: 1, Beta1: 1},
		{Kind: Adam, LR: 1, MaxGradNorm: -1},
		{Kind: Adam, LR: 1, Schedule: Schedule{Kind: ScheduleLinear, WarmupSteps: 10, TotalSteps: 10}},
		{Kind: Adam, LR: 1, Schedule: Schedule{Kind: "step"}},
	} {
		if _, err := NewOptimizer(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestOptimStepNodes runs the optimizer on a Gorgonia graph through a
// TapeMachine for two steps, resetting the machine in between, and checks
// the update against the closed-form first Adam step.
func TestOptimStepNodes(t *testing.T) {
	g := G.NewGraph()
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 2), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))))
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 2), G.WithName("x"))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(w, x)))) // dL/dw = x
	if _, err := G.Grad(loss, w); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	o, _ := NewOptimizer(OptimConfig{Kind: Adam, LR: 0.5, Eps: 1e-8})
	xs := []float32{1, -1, 0.5, -0.5}
	if err := G.Let(x, tensor.New(tensor.WithShape(2, 2), tensor.WithBacking(xs))); err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 2; step++ {
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		info, err := o.StepNodes([]string{"w"}, []*G.Node{w})
		if err != nil {
			t.Fatal(err)
		}
		if want := math.Sqrt(2.5); math.Abs(info.GradNorm-want) > 1e-6 {
			t.Errorf("step %d: grad norm %v, want %v", step+1, info.GradNorm, want)
		}
		m.Reset()
	}
	// Constant gradient ⇒ m̂ = g, v̂ = g² at every step ⇒ each step moves by lr·sign(g).
	got := w.Value().Data().([]float32)
	want := []float32{0, 3, 2, 5}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("w = %v, want %v", got, want)
			break
		}
	}
}

// BenchmarkOptimAdamStep measures one Adam step with clipping over the
// parameters of the D128 benchmark model (0.54 M float32 values).
func BenchmarkOptimAdamStep(b *testing.B) {
	sizes := []int{512 * 128, 128 * 128, 512 * 128}
	for l := 0; l < 2; l++ {
		sizes = append(sizes, 4*128*128, 2*4*128*128, 4*128)
	}
	names := make([]string, len(sizes))
	vals := make([]*tensor.Dense, len(sizes))
	grads := make([]*tensor.Dense, len(sizes))
	for i, n := range sizes {
		names[i] = string(rune('a' + i))
		vals[i] = tensor.New(tensor.WithShape(n), tensor.WithBacking(make([]float32, n)))
		grads[i] = tensor.New(tensor.WithShape(n), tensor.WithBacking(make([]float32, n)))
	}
	o, _ := NewOptimizer(OptimConfig{Kind: Adam, LR: 1e-4, MaxGradNorm: 1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := o.StepTensors(names, vals, grads); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOptimDeterministicAcrossProcs checks that the chunked parallel
// update and norm give the same bits with 1 and 4 goroutines.
func TestOptimDeterministicAcrossProcs(t *testing.T) {
	run := func(procs int) ([]float32, float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		const n = 3*optChunkSize + 123
		p := make([]float32, n)
		g := make([]float32, n)
		o, _ := NewOptimizer(OptimConfig{Kind: AdamW, LR: 0.01, WeightDecay: 0.1, MaxGradNorm: 1})
		var norm float64
		for step := 0; step < 3; step++ {
			for i := range g {
				g[i] = float32(math.Sin(float64(i*(step+1)))) * 0.01
			}
			info, err := o.StepTensors([]string{"p"},
				[]*tensor.Dense{tensor.New(tensor.WithShape(n), tensor.WithBacking(p))},
				[]*tensor.Dense{tensor.New(tensor.WithShape(n), tensor.WithBacking(g))})
			if err != nil {
				t.Fatal(err)
			}
			norm = info.GradNorm
		}
		return p, norm
	}
	p1, n1 := run(1)
	p4, n4 := run(4)
	if n1 != n4 {
		t.Errorf("grad norm %v with 1 goroutine, %v with 4", n1, n4)
	}
	for i := range p1 {
		if math.Float32bits(p1[i]) != math.Float32bits(p4[i]) {
			t.Fatalf("element %d: %v with 1 goroutine, %v with 4", i, p1[i], p4[i])
		}
	}
}

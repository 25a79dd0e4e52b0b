package toy

import (
	"math"
	"strings"
	"testing"

	"gatedpo/gating"
)

// defaultGridGates are the gates of experiments/config/grids/default.toml, the
// ones the default sweep draws in F1b.
var defaultGridGates = []gating.Spec{
	{Kind: gating.KindRamp, Tau: 1e-2, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5},
	{Kind: gating.KindRamp, Tau: 1e-3, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5},
	{Kind: gating.KindSigmoid, Tau: 1e-2, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5},
	{Kind: gating.KindSigmoid, Tau: 1e-3, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5},
}

func argmaxOf(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// TestF1bSqueezing runs the real multi-step toy (default config, seeds
// 1–3) and checks the squeezing signature: under ungated DPO the argmax of
// the rejected context x⁻ stays the peak class and gains (top-1 mass of x⁻
// up by more than 0.08), while log p(y⁻|x⁻) falls by more than 2 nats;
// every gate of the default grid ends with a top-1 mass of x⁻ at least
// 0.05 below DPO's (and below its own start), and with a higher
// log p(y⁺|x⁺).
func TestF1bSqueezing(t *testing.T) {
	cfg := DefaultF1bConfig()
	for _, seed := range []uint64{1, 2, 3} {
		model, _, xm, err := f1bSetup(cfg, seed)
		if err != nil {
			t.Fatal(err)
		}
		if a := argmaxOf(model.LogProbsAt(xm)); a != cfg.Peak {
			t.Fatalf("seed %d: x⁻ starts with argmax %d, want the peak %d", seed, a, cfg.Peak)
		}
		dpo, lmEnd, err := runF1b(cfg, seed, gating.DefaultSpec(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(dpo) != cfg.Steps+1 {
			t.Fatalf("%d points, want %d", len(dpo), cfg.Steps+1)
		}
		d0, d := dpo[0], dpo[cfg.Steps]
		if a := argmaxOf(lmEnd); a != cfg.Peak || math.Abs(math.Exp(lmEnd[a])-d.Top1MassRejected) > 1e-15 {
			t.Errorf("seed %d: DPO ends with x⁻ argmax %d (p %v), want the peak %d with the recorded top-1 mass %v",
				seed, a, math.Exp(lmEnd[a]), cfg.Peak, d.Top1MassRejected)
		}
		if !(d.Top1MassRejected > d0.Top1MassRejected+0.08) {
			t.Errorf("seed %d: DPO did not squeeze x⁻: top-1 mass %v → %v", seed, d0.Top1MassRejected, d.Top1MassRejected)
		}
		if !(d.LogpRejected < d0.LogpRejected-2) {
			t.Errorf("seed %d: DPO did not push y⁻ down: %v → %v", seed, d0.LogpRejected, d.LogpRejected)
		}
		for _, gate := range defaultGridGates {
			pts, err := F1b(cfg, seed, gate)
			if err != nil {
				t.Fatal(err)
			}
			g := pts[cfg.Steps]
			if pts[0] != d0 {
				t.Fatalf("%s: step 0 differs from DPO's: %+v vs %+v", Method(gate), pts[0], d0)
			}
			if !(g.Top1MassRejected < d.Top1MassRejected-0.05) || !(g.Top1MassRejected < d0.Top1MassRejected) {
				t.Errorf("seed %d %s: x⁻ top-1 mass %v → %v, DPO → %v; want the gate to prevent the rise", seed, Method(gate),
					d0.Top1MassRejected, g.Top1MassRejected, d.Top1MassRejected)
			}
			if !(g.LogpChosen > d.LogpChosen) {
				t.Errorf("seed %d %s: log p(y⁺|x⁺) ends at %v, DPO at %v", seed, Method(gate), g.LogpChosen, d.LogpChosen)
			}
			if seed == 1 {
				t.Logf("%-22s x⁻ top-1 %.3f → %.3f, log p(y⁻|x⁻) %.2f → %.2f, log p(y⁺|x⁺) %.2f → %.2f", Method(gate),
					g0(pts).Top1MassRejected, g.Top1MassRejected, g0(pts).LogpRejected, g.LogpRejected, g0(pts).LogpChosen, g.LogpChosen)
			}
		}
		if seed == 1 {
			t.Logf("%-22s x⁻ top-1 %.3f → %.3f, log p(y⁻|x⁻) %.2f → %.2f, log p(y⁺|x⁺) %.2f → %.2f", "dpo",
				d0.Top1MassRejected, d.Top1MassRejected, d0.LogpRejected, d.LogpRejected, d0.LogpChosen, d.LogpChosen)
		}
	}
	if Method(defaultGridGates[0]) != "ramp tau=0.01" || Method(gating.DefaultSpec()) != "dpo" {
		t.Error("method names")
	}
}

func g0(p []F1bPoint) F1bPoint { return p[0] }

// TestF1bSetup: the two contexts have ‖x‖ = 2 and the configured cosine,
// and W gives each its target logits: the peak at 7, y⁺ at 3 in x⁺, y⁻ at
// the configured valley in x⁻ (1e-12).
func TestF1bSetup(t *testing.T) {
	cfg := DefaultF1bConfig()
	model, xp, xm, err := f1bSetup(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	var np, nm, dot float64
	for i := range xp {
		np += xp[i] * xp[i]
		nm += xm[i] * xm[i]
		dot += xp[i] * xm[i]
	}
	if math.Abs(np-4) > 1e-12 || math.Abs(nm-4) > 1e-12 || math.Abs(dot/4-cfg.Overlap) > 1e-12 {
		t.Errorf("‖x⁺‖² %v, ‖x⁻‖² %v, cos %v", np, nm, dot/4)
	}
	zp, zm := model.LogitsAt(xp), model.LogitsAt(xm)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"peak|x⁺", zp[cfg.Peak], 7}, {"y⁺|x⁺", zp[cfg.Chosen], 3}, {"peak|x⁻", zm[cfg.Peak], 7}, {"y⁻|x⁻", zm[cfg.Rejected], cfg.RejectedLogit}} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("logit %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestF1bGradientFD: the DPO graph over the two contexts matches the
// plain-Go loss (1e-13 relative) and its ∇_W matches central finite
// differences (1e-8 of max|grad|); with a gate, the loss value is the
// same and the gradient is the chosen part plus g(p(y⁻|x⁻)) times the
// rejected part (1e-13 of max|grad|).
func TestF1bGradientFD(t *testing.T) {
	cfg := DefaultF1bConfig()
	model, xp, xm, err := f1bSetup(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	w := model.W.Data().([]float64)
	for i := range w { // move off the reference so the margin is not 0
		w[i] += 0.3 * math.Sin(float64(i))
	}
	refC, refR := -4.0, -9.0
	loss := func() float64 {
		m := cfg.Beta * ((model.LogProbsAt(xp)[cfg.Chosen] - refC) - (model.LogProbsAt(xm)[cfg.Rejected] - refR))
		return math.Log1p(math.Exp(-m))
	}
	grad := func(gate gating.Spec) (float64, []float64) {
		st, err := newDPO(model, xp, xm, cfg, refC, refR, gate)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		l, g, err := st.Gradient()
		if err != nil {
			t.Fatal(err)
		}
		return l, g
	}
	l, g := grad(gating.DefaultSpec())
	if want := loss(); math.Abs(l-want) > 1e-13*math.Abs(want) {
		t.Errorf("loss %v, want %v", l, want)
	}
	sc := 0.0
	for _, v := range g {
		sc = math.Max(sc, math.Abs(v))
	}
	const h = 1e-5
	for i := range w {
		orig := w[i]
		w[i] = orig + h
		lp := loss()
		w[i] = orig - h
		lm := loss()
		w[i] = orig
		if fd := (lp - lm) / (2 * h); math.Abs(fd-g[i]) > 1e-8*sc {
			t.Errorf("dL/dW[%d] = %v, FD %v", i, g[i], fd)
		}
	}
	// Split the ungated gradient into its chosen and rejected parts: the
	// rejected part alone is what an infinitely strict gate removes.
	gate := gating.Spec{Kind: gating.KindRamp, Tau: 0.5, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}
	gv := gate.OfLog(model.LogProbsAt(xm)[cfg.Rejected])
	hard := gating.Spec{Kind: gating.KindHard, Tau: 1, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5} // g = 0 here
	lg, gg := grad(gate)
	_, gc := grad(hard)
	if lg != l {
		t.Errorf("gated loss %v, ungated %v: the gate must not change the value", lg, l)
	}
	for i := range g {
		want := gc[i] + gv*(g[i]-gc[i])
		if math.Abs(gg[i]-want) > 1e-13*sc {
			t.Errorf("gated dL/dW[%d] = %v, want chosen part + g·rejected part = %v (g = %v)", i, gg[i], want, gv)
		}
	}
}

// TestF1bConfigErrors: a bad config or gate is an error naming the problem.
func TestF1bConfigErrors(t *testing.T) {
	for _, mut := range []func(*F1bConfig){
		func(c *F1bConfig) { c.Chosen = c.Rejected },
		func(c *F1bConfig) { c.Peak = c.Chosen },
		func(c *F1bConfig) { c.Overlap = 1 },
		func(c *F1bConfig) { c.K = 3 },
		func(c *F1bConfig) { c.Rejected = 50 },
		func(c *F1bConfig) { c.LR = 0 },
	} {
		cfg := DefaultF1bConfig()
		mut(&cfg)
		if _, err := F1b(cfg, 1, gating.DefaultSpec()); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Errorf("%+v: err %v", cfg, err)
		}
	}
	bad := gating.Spec{Kind: "ramp", Tau: -1, Level: "token", Temperature: 1, Alpha: 0.5}
	if _, err := F1b(DefaultF1bConfig(), 1, bad); err == nil || !strings.Contains(err.Error(), "gate") {
		t.Errorf("bad gate: err %v", err)
	}
}

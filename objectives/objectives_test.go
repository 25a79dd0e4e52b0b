package objectives

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/internal/sharedtest"
)

// sharedDir returns ../shared next to the module root (found by walking up
// from the package directory to go.mod), or skips the test when it or its
// golden/golden.json is absent.
func sharedDir(t *testing.T) string {
	t.Helper()
	return sharedtest.Dir(t, "golden/golden.json")
}

type goldenCase struct {
	ID           string               `json:"id"`
	Objective    Spec                 `json:"objective"`
	Loss         float64              `json:"loss"`
	PerPairLoss  []float64            `json:"per_pair_loss"`
	PerPairTerms map[string][]float64 `json:"per_pair_terms"`
	Logps        Logps                `json:"logps"`
	Metrics      map[string]float64   `json:"metrics"`
}

type goldenFile struct {
	Batch struct {
		ChosenRespLens   []float64 `json:"chosen_resp_lens"`
		RejectedRespLens []float64 `json:"rejected_resp_lens"`
	} `json:"batch"`
	Cases []goldenCase `json:"cases"`
}

// loadGolden reads ../shared/<set>/golden.json (set "golden" or
// "golden-extra"), or skips the test when it is absent.
func loadGolden(t *testing.T, set string) goldenFile {
	t.Helper()
	path := filepath.Join(sharedDir(t), set, "golden.json")
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("golden vectors absent (%s): skipping", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(raw, &gf); err != nil {
		t.Fatal(err)
	}
	return gf
}

// evalObjective builds s on constant inputs and returns loss, per-pair loss,
// terms, and the gradients of the loss wrt pc and pr.
type evalResult struct {
	loss           float64
	perPair        []float64
	terms          map[string][]float64
	gradPC, gradPR []float64
}

func vec(g *G.ExprGraph, name string, v []float64) *G.Node {
	return G.NewVector(g, tensor.Float64, G.WithShape(len(v)), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float64(nil), v...)))))
}

func evalObjective(t *testing.T, s Spec, lp Logps, nc, nr []float64) evalResult {
	t.Helper()
	g := G.NewGraph()
	in := Inputs{
		PolicyChosen: vec(g, "pc", lp.PolicyChosen), PolicyRejected: vec(g, "pr", lp.PolicyRejected),
		ReferenceChosen: vec(g, "rc", lp.ReferenceChosen), ReferenceRejected: vec(g, "rr", lp.ReferenceRejected),
		ChosenLens: vec(g, "nc", nc), RejectedLens: vec(g, "nr", nr),
	}
	res, err := Build(s, in)
	if err != nil {
		t.Fatal(err)
	}
	var lossV, perV G.Value
	G.Read(res.Loss, &lossV)
	G.Read(res.PerPair, &perV)
	termV := map[string]*G.Value{}
	for k, n := range res.Terms {
		termV[k] = new(G.Value)
		G.Read(n, termV[k])
	}
	wrt := G.Nodes{in.PolicyChosen}
	if s.ReadsRejected() {
		wrt = append(wrt, in.PolicyRejected)
	}
	if _, err := G.Grad(res.Loss, wrt...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := evalResult{loss: lossV.Data().(float64), perPair: append([]float64(nil), perV.Data().([]float64)...), terms: map[string][]float64{}}
	for k, v := range termV {
		out.terms[k] = append([]float64(nil), (*v).Data().([]float64)...)
	}
	gv, _ := in.PolicyChosen.Grad()
	out.gradPC = append([]float64(nil), gv.Data().([]float64)...)
	if s.ReadsRejected() {
		gv, _ = in.PolicyRejected.Grad()
		out.gradPR = append([]float64(nil), gv.Data().([]float64)...)
	}
	return out
}

// closeRel reports |a−b| ≤ tol·scale.
func closeRel(a, b, tol, scale float64) bool { return math.Abs(a-b) <= tol*math.Max(scale, 1e-300) }

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// TestGoldenObjectives: every golden case's loss, per-pair loss, per-pair
// terms and metrics, recomputed from the case's four log-prob vectors,
// match golden.json to 1e-12 relative to each quantity's max-abs
// (docs/method.md §8 forward tolerance). The gated cases' logps are the
// ungated values (the gate never changes a forward value), so this also
// shows loss, rewards and metrics are unchanged by any gate.
func TestGoldenObjectives(t *testing.T) { checkGoldenObjectives(t, "golden") }

// TestGoldenExtraObjectives: the same for ../shared/golden-extra (dpop,
// apo_zero, apo_down, nca_pair, alone and gated), including their per-pair
// terms (dpop "penalty", apo "chosen" and "rejected").
func TestGoldenExtraObjectives(t *testing.T) { checkGoldenObjectives(t, "golden-extra") }

func checkGoldenObjectives(t *testing.T, set string) {
	gf := loadGolden(t, set)
	nc, nr := gf.Batch.ChosenRespLens, gf.Batch.RejectedRespLens
	worst := 0.0
	for _, c := range gf.Cases {
		s := c.Objective
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		r := evalObjective(t, s, c.Logps, nc, nr)
		check := func(what string, got, want []float64) {
			sc := maxAbs(want)
			for i := range want {
				worst = math.Max(worst, math.Abs(got[i]-want[i])/sc)
				if !closeRel(got[i], want[i], 1e-12, sc) {
					t.Errorf("%s: %s[%d] = %.17g, want %.17g", c.ID, what, i, got[i], want[i])
				}
			}
		}
		check("loss", []float64{r.loss}, []float64{c.Loss})
		check("per_pair_loss", r.perPair, c.PerPairLoss)
		if len(r.terms) != len(c.PerPairTerms) {
			t.Errorf("%s: terms %v, want the keys of %v", c.ID, r.terms, c.PerPairTerms)
		}
		for k, want := range c.PerPairTerms {
			got, ok := r.terms[k]
			if !ok {
				t.Errorf("%s: missing term %s", c.ID, k)
				continue
			}
			check("term "+k, got, want)
		}
		m := Metrics(s, c.Logps)
		if len(m) != len(c.Metrics) {
			t.Errorf("%s: metrics %v, want keys of %v", c.ID, m, c.Metrics)
		}
		for k, want := range c.Metrics {
			check("metric "+k, []float64{m[k]}, []float64{want})
		}
	}
	t.Logf("%s: worst relative error %.3g over %d cases", set, worst, len(gf.Cases))
}

// TestObjectiveGradientsFD: for every objective (and the rpo norms, ipo
// length normalisation and dpo label smoothing), dLoss/dpc and dLoss/dpr
// from the graph's backward pass match central finite differences of the
// graph's own forward loss (re-evaluated at pc ± h, pr ± h) to 1e-8
// relative to max|grad| (step 1e-5 on values of order 10, losses of order
// 30: truncation ~h²·|L”'| ≈ 1e-10, rounding ~1e-16·30/1e-5 ≈ 3e-10). The
// forward values themselves are pinned to the PyTorch goldens by
// TestObjectivesGolden, so together they check the gradients of the
// published formulas; pr is skipped for objectives that do not read it.
func TestObjectiveGradientsFD(t *testing.T) {
	lp, nc, nr, specs := objectiveCases()
	for _, s := range specs {
		r := evalObjective(t, s, lp, nc, nr)
		lossAt := func(l Logps) float64 { return evalObjective(t, s, l, nc, nr).loss }
		sc := math.Max(maxAbs(r.gradPC), maxAbs(r.gradPR))
		const h = 1e-5
		for _, which := range []string{"pc", "pr"} {
			if which == "pr" && !s.ReadsRejected() {
				continue
			}
			for i := 0; i < 4; i++ {
				plus, minus := copyLogps(lp), copyLogps(lp)
				target := func(l *Logps) []float64 {
					if which == "pc" {
						return l.PolicyChosen
					}
					return l.PolicyRejected
				}
				target(&plus)[i] += h
				target(&minus)[i] -= h
				fd := (lossAt(plus) - lossAt(minus)) / (2 * h)
				got := r.gradPC[i]
				if which == "pr" {
					got = r.gradPR[i]
				}
				if !closeRel(got, fd, 1e-8, sc) {
					t.Errorf("%v: d/d%s[%d] = %.12g, FD %.12g", s, which, i, got, fd)
				}
			}
		}
	}
}

func copyLogps(l Logps) Logps {
	c := func(v []float64) []float64 { return append([]float64(nil), v...) }
	return Logps{c(l.PolicyChosen), c(l.PolicyRejected), c(l.ReferenceChosen), c(l.ReferenceRejected)}
}

// sigmoidNeg64 is σ(−x) (the derivative of log σ at x, with a minus),
// for hand computations.
func sigmoidNeg64(x float64) float64 { return 1 / (1 + math.Exp(x)) }

// TestDPOPPenaltyKink: at r⁺ = 0 exactly the penalty max(0, −r⁺) is 0 and
// its subgradient is 0, so dpop's gradient equals dpo's (same β) bit for
// bit; just below 0 the penalty adds β·λ·σ(−z) to −dL/dpc·B, just above it
// adds nothing.
func TestDPOPPenaltyKink(t *testing.T) {
	const beta, lambda = 0.1, 5.0
	lp := Logps{
		PolicyChosen:      []float64{-12.5, -7.25, -7.25 - 1e-9, -7.25 + 1e-9},
		PolicyRejected:    []float64{-10, -9, -9, -9},
		ReferenceChosen:   []float64{-12.5, -7.25, -7.25, -7.25},
		ReferenceRejected: []float64{-11, -8, -8, -8},
	}
	nc, nr := []float64{5, 3, 3, 3}, []float64{4, 6, 6, 6}
	dpop := evalObjective(t, Spec{Name: DPOP, Beta: beta, Lambda: lambda}, lp, nc, nr)
	dpo := evalObjective(t, Spec{Name: DPO, Beta: beta}, lp, nc, nr)
	for i := 0; i < 2; i++ { // r⁺ = 0 exactly
		if dpop.terms["penalty"][i] != 0 {
			t.Errorf("pair %d: penalty %v at r⁺ = 0", i, dpop.terms["penalty"][i])
		}
		if dpop.gradPC[i] != dpo.gradPC[i] || dpop.gradPR[i] != dpo.gradPR[i] || dpop.perPair[i] != dpo.perPair[i] {
			t.Errorf("pair %d at r⁺ = 0: dpop loss %v grads %v %v, dpo %v %v %v", i,
				dpop.perPair[i], dpop.gradPC[i], dpop.gradPR[i], dpo.perPair[i], dpo.gradPC[i], dpo.gradPR[i])
		}
	}
	B := float64(len(nc))
	// r⁺ = −1e-9: dL/dpc = −β(1+λ)σ(−z)/B with z = β(h − λ·1e-9).
	rw, rl := lp.PolicyChosen[2]-lp.ReferenceChosen[2], lp.PolicyRejected[2]-lp.ReferenceRejected[2]
	z := beta * (rw - rl - lambda*(-rw))
	if want := -beta * (1 + lambda) * sigmoidNeg64(z) / B; !closeRel(dpop.gradPC[2], want, 1e-12, math.Abs(want)) {
		t.Errorf("r⁺ < 0: dL/dpc = %v, want %v", dpop.gradPC[2], want)
	}
	if dpop.terms["penalty"][2] <= 0 || dpop.terms["penalty"][3] != 0 {
		t.Errorf("penalties %v, want > 0 below the kink and 0 above", dpop.terms["penalty"])
	}
	if !closeRel(dpop.gradPC[3], dpo.gradPC[3], 1e-15, math.Abs(dpo.gradPC[3])) {
		t.Errorf("r⁺ > 0: dL/dpc = %v, dpo's %v", dpop.gradPC[3], dpo.gradPC[3])
	}
}

// TestAnchoredObjectivesExtreme: at log-ratios far outside the sigmoid's
// range the bounded objectives (apo_zero, apo_down) and nca_pair stay
// finite with finite gradients (σ is exp(−softplus), never exp of a large
// positive number), and the saturated values are exact.
func TestAnchoredObjectivesExtreme(t *testing.T) {
	lp := Logps{
		PolicyChosen:      []float64{-1, -20000, -1, -20000},
		PolicyRejected:    []float64{-20000, -1, -1, -20000},
		ReferenceChosen:   []float64{-20000, -1, -1, -1},
		ReferenceRejected: []float64{-1, -20000, -20000, -1},
	}
	nc, nr := []float64{3, 3, 3, 3}, []float64{3, 3, 3, 3}
	for _, name := range []string{APOZero, APODown, NCAPair, DPOP} {
		s, _ := Default(name)
		r := evalObjective(t, s, lp, nc, nr)
		for _, v := range [][]float64{{r.loss}, r.perPair, r.gradPC, r.gradPR} {
			for _, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Errorf("%s: non-finite value in loss %v, per-pair %v, grads %v %v", name, r.loss, r.perPair, r.gradPC, r.gradPR)
				}
			}
		}
		// β·|r| ≈ 2000: every σ saturates at exactly 0 or 1 (pairs 0, 1), σ(0) = ½ (pair 2)
		want := map[string][]float64{APOZero: {0, 2, 1.5}, APODown: {1, 1, 1.5}}[name]
		for i, w := range want {
			if r.perPair[i] != w {
				t.Errorf("%s: pair %d loss %v, want %v", name, i, r.perPair[i], w)
			}
		}
	}
}

// TestObjectivesFloat32: every objective builds and runs on float32 nodes
// (the sweeps' default dtype) and agrees with float64 to float32 rounding,
// in the loss and in dLoss/dpc, dLoss/dpr.
func TestObjectivesFloat32(t *testing.T) {
	lp := Logps{
		PolicyChosen:      []float64{-43.4, -10.8, -58.2, -9.2},
		PolicyRejected:    []float64{-10.0, -49.2, -8.6, -31.9},
		ReferenceChosen:   []float64{-44.7, -9.5, -57.8, -7.8},
		ReferenceRejected: []float64{-9.0, -50.3, -8.7, -30.6},
	}
	nc, nr := []float64{6, 4, 9, 5}, []float64{4, 9, 6, 11}
	vec32 := func(g *G.ExprGraph, name string, v []float64) *G.Node {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return G.NewVector(g, tensor.Float32, G.WithShape(len(v)), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(f))))
	}
	for _, name := range Names {
		s, _ := Default(name)
		want := evalObjective(t, s, lp, nc, nr)
		g := G.NewGraph()
		in := Inputs{
			PolicyChosen: vec32(g, "pc", lp.PolicyChosen), PolicyRejected: vec32(g, "pr", lp.PolicyRejected),
			ReferenceChosen: vec32(g, "rc", lp.ReferenceChosen), ReferenceRejected: vec32(g, "rr", lp.ReferenceRejected),
			ChosenLens: vec32(g, "nc", nc), RejectedLens: vec32(g, "nr", nr),
		}
		res, err := Build(s, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var lossV G.Value
		G.Read(res.Loss, &lossV)
		wrt := G.Nodes{in.PolicyChosen}
		if s.ReadsRejected() {
			wrt = append(wrt, in.PolicyRejected)
		}
		if _, err := G.Grad(res.Loss, wrt...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := float64(lossV.Data().(float32)); !closeRel(got, want.loss, 1e-5, math.Abs(want.loss)) {
			t.Errorf("%s: float32 loss %v, float64 %v", name, got, want.loss)
		}
		gv, _ := in.PolicyChosen.Grad()
		sc := math.Max(maxAbs(want.gradPC), maxAbs(want.gradPR))
		for i, x := range gv.Data().([]float32) {
			if !closeRel(float64(x), want.gradPC[i], 1e-5, sc) {
				t.Errorf("%s: float32 dL/dpc[%d] %v, float64 %v", name, i, x, want.gradPC[i])
			}
		}
		m.Close()
	}
}

// objectiveCases returns the log-probs (four pairs), response lengths and
// objective settings (every default and the non-default options) the
// gradient and reduction tests evaluate.
func objectiveCases() (lp Logps, nc, nr []float64, specs []Spec) {
	lp = Logps{
		PolicyChosen:      []float64{-43.4, -10.8, -58.2, -9.2},
		PolicyRejected:    []float64{-10.0, -49.2, -8.6, -31.9},
		ReferenceChosen:   []float64{-44.7, -9.5, -57.8, -7.8},
		ReferenceRejected: []float64{-9.0, -50.3, -8.7, -30.6},
	}
	nc, nr = []float64{6, 4, 9, 5}, []float64{4, 9, 6, 11}
	for _, name := range Names {
		s, _ := Default(name)
		specs = append(specs, s)
	}
	specs = append(specs,
		Spec{Name: DPO, Beta: 0.5, LabelSmoothing: 0.2},
		Spec{Name: IPO, Beta: 0.1, LengthNormalize: true},
		Spec{Name: RPO, Beta: 0.1, Alpha: 0.7, SFTNorm: SFTNormSum},
		Spec{Name: RPO, Beta: 0.1, Alpha: 0.7, SFTNorm: SFTNormToken},
		Spec{Name: CalDPO, Beta: 0.1, CalWeight: 0.5},
		Spec{Name: DPOP, Beta: 0.1, Lambda: 50},
		Spec{Name: DPOP, Beta: 0.5, Lambda: 2},
		Spec{Name: APOZero, Beta: 0.5},
		Spec{Name: APODown, Beta: 0.5},
		Spec{Name: NCAPair, Beta: 0.5},
	)
	return lp, nc, nr, specs
}

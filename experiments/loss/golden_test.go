package loss

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
	"gatedpo/models"
	"gatedpo/objectives"
)

type goldenLossCase struct {
	ID            string               `json:"id"`
	Loss          float64              `json:"loss"`
	PerPairLoss   []float64            `json:"per_pair_loss"`
	PerPairTerms  map[string][]float64 `json:"per_pair_terms"`
	Logps         objectives.Logps     `json:"logps"`
	Metrics       map[string]float64   `json:"metrics"`
	RejectedGates [][]float64          `json:"rejected_gates"`
	GateStats     *gating.Stats        `json:"gate_stats"`
	GradNorms     map[string]float64   `json:"grad_norms"`
	GradGlobal    float64              `json:"grad_global_norm"`
	GradsFile     string               `json:"grads_file"`
}

// goldenRun holds what one case produced.
type goldenRun struct {
	res   PrefResult
	grads map[string][]float64
}

// goldenCase is one objective × gate case of a golden set, as golden.json
// lists it (the same list as its cases.toml, in the same order: the config
// package's tests check that the two agree).
type goldenCase struct {
	ID        string          `json:"id"`
	Objective objectives.Spec `json:"objective"`
	Gate      gating.Spec     `json:"gate"`
}

// goldenCases reads the case list of dir/golden.json.
func goldenCases(t *testing.T, dir string) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	if len(gold.Cases) == 0 {
		t.Fatalf("%s: no cases", dir)
	}
	for _, c := range gold.Cases {
		if err := c.Objective.Validate(); err != nil {
			t.Fatalf("%s: case %s: objective: %v", dir, c.ID, err)
		}
		if err := c.Gate.Validate(); err != nil {
			t.Fatalf("%s: case %s: gate: %v", dir, c.ID, err)
		}
	}
	return gold.Cases
}

// runGoldenCases evaluates every case of the golden set on the golden
// policy, reference and batch, in float64.
func runGoldenCases(t *testing.T, dir string) ([]goldenCase, map[string]goldenRun) {
	t.Helper()
	cases := goldenCases(t, dir)
	batch, err := LoadBatchJSON(filepath.Join(dir, "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := models.Load(filepath.Join(dir, "policy.safetensors"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := models.Load(filepath.Join(dir, "reference.safetensors"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	B := len(batch.ChosenIDs)
	rg, err := NewSeqGraph(ref, 2*B, batch.T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	rc, rr, err := ReferenceLogps(rg, batch)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]goldenRun{}
	for _, c := range cases {
		out[c.ID] = runCase(t, policy, batch, rc, rr, c.Objective, c.Gate)
	}
	return cases, out
}

func runCase(t *testing.T, policy models.LM, batch data.Batch, rc, rr []float64, obj objectives.Spec, gate gating.Spec) goldenRun {
	t.Helper()
	pg, err := NewPrefGraph(policy, len(batch.ChosenIDs), batch.T, PrefOptions{Objective: obj, Gate: gate, Grad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	return runGraph(t, pg, batch, rc, rr)
}

// runGraph runs pg (forward and backward) on batch and returns its result
// and gradients, then releases its values.
func runGraph(t *testing.T, pg *PrefGraph, batch data.Batch, rc, rr []float64) goldenRun {
	t.Helper()
	if err := pg.SetBatch(batch, rc, rr); err != nil {
		t.Fatal(err)
	}
	if err := pg.Run(); err != nil {
		t.Fatal(err)
	}
	res, err := pg.Result()
	if err != nil {
		t.Fatal(err)
	}
	grads, err := pg.Grads()
	if err != nil {
		t.Fatal(err)
	}
	pg.Release()
	return goldenRun{res, grads}
}

// sharedGoldenDir returns ../shared/golden beside the module root, or
// skips the test.
func sharedGoldenDir(t *testing.T) string { return sharedGoldenSet(t, "golden") }

// sharedGoldenSet returns ../shared/<set> (golden, golden-extra) beside
// the module root, or skips the test when it has no golden.json.
func sharedGoldenSet(t *testing.T, set string) string {
	t.Helper()
	return filepath.Join(sharedtest.Dir(t, set+"/golden.json"), set)
}

func maxAbsF(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// TestGoldenLossGraph: every case of cases.toml, through the transformer,
// the gate and the objective, matches golden.json and grads_<id>.safetensors
// within docs/method.md §8: values (loss, per-pair loss and terms, log-probs,
// metrics, continuous gates, gate statistics) to 1e-12 relative to each
// quantity's max-abs; hard/none gates exactly; every parameter's gradient to
// 1e-10 relative to the tensor's max-abs, with the golden's exact zeros
// exactly zero.
func TestGoldenLossGraph(t *testing.T) { checkGoldenLossGraph(t, sharedGoldenDir(t)) }

// TestGoldenExtraLossGraph: the same for ../shared/golden-extra (dpop with
// λ 5 and 50, apo_zero, apo_down, nca_pair, and dpop, apo_zero, nca_pair
// under a ramp or sigmoid gate) on the same model, weights and batch.
func TestGoldenExtraLossGraph(t *testing.T) {
	checkGoldenLossGraph(t, sharedGoldenSet(t, "golden-extra"))
}

func checkGoldenLossGraph(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Cases []goldenLossCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	cases, runs := runGoldenCases(t, dir)
	var worstVal, worstGate, worstGrad float64
	for i, c := range cases {
		gc := gold.Cases[i]
		if gc.ID != c.ID {
			t.Fatalf("case %d: %s vs golden %s", i, c.ID, gc.ID)
		}
		r := runs[c.ID].res
		var caseVal, caseGate, caseGrad float64
		check := func(what string, got, want []float64, tol float64, worst *float64) {
			if len(got) != len(want) {
				t.Errorf("%s: %s has %d values, want %d", c.ID, what, len(got), len(want))
				return
			}
			sc := math.Max(maxAbsF(want), 1e-300)
			for k := range want {
				e := math.Abs(got[k]-want[k]) / sc
				*worst = math.Max(*worst, e)
				switch worst {
				case &worstVal:
					caseVal = math.Max(caseVal, e)
				case &worstGate:
					caseGate = math.Max(caseGate, e)
				case &worstGrad:
					caseGrad = math.Max(caseGrad, e)
				}
				if e > tol {
					t.Errorf("%s: %s[%d] = %.17g, want %.17g", c.ID, what, k, got[k], want[k])
				}
			}
		}
		check("loss", []float64{r.Loss}, []float64{gc.Loss}, 1e-12, &worstVal)
		check("per_pair_loss", r.PerPairLoss, gc.PerPairLoss, 1e-12, &worstVal)
		if len(r.PerPairTerms) != len(gc.PerPairTerms) {
			t.Errorf("%s: per-pair terms %v, want the keys of %v", c.ID, r.PerPairTerms, gc.PerPairTerms)
		}
		for k, v := range gc.PerPairTerms {
			check("term "+k, r.PerPairTerms[k], v, 1e-12, &worstVal)
		}
		check("policy_chosen", r.Logps.PolicyChosen, gc.Logps.PolicyChosen, 1e-12, &worstVal)
		check("policy_rejected", r.Logps.PolicyRejected, gc.Logps.PolicyRejected, 1e-12, &worstVal)
		check("reference_chosen", r.Logps.ReferenceChosen, gc.Logps.ReferenceChosen, 1e-12, &worstVal)
		check("reference_rejected", r.Logps.ReferenceRejected, gc.Logps.ReferenceRejected, 1e-12, &worstVal)
		if len(r.Metrics) != len(gc.Metrics) {
			t.Errorf("%s: metrics %v, want %v", c.ID, r.Metrics, gc.Metrics)
		}
		for k, v := range gc.Metrics {
			check("metric "+k, []float64{r.Metrics[k]}, []float64{v}, 1e-12, &worstVal)
		}
		if gc.RejectedGates != nil {
			tol := 1e-12
			if c.Gate.Kind == gating.KindHard || c.Gate.Kind == gating.KindNone {
				tol = 0
			}
			for p := range gc.RejectedGates {
				check("rejected_gates", r.RejectedGates[p], gc.RejectedGates[p], tol, &worstGate)
			}
			st, w := r.GateStats, *gc.GateStats
			if st.NTokens != w.NTokens || st.NEq1 != w.NEq1 || st.NEq0 != w.NEq0 {
				t.Errorf("%s: gate counts %+v, want %+v", c.ID, st, w)
			}
			check("gate_stats", []float64{st.MeanG, st.FracLtHf, st.MinG, st.MaxG, st.LogpQ10, st.LogpQ50, st.LogpQ90},
				[]float64{w.MeanG, w.FracLtHf, w.MinG, w.MaxG, w.LogpQ10, w.LogpQ50, w.LogpQ90}, 1e-12, &worstGate)
		}
		want, _, err := safetensors.Read(filepath.Join(dir, gc.GradsFile))
		if err != nil {
			t.Fatal(err)
		}
		grads := runs[c.ID].grads
		if len(grads) != len(want) {
			t.Errorf("%s: %d gradients, golden has %d", c.ID, len(grads), len(want))
		}
		for name, wt := range want {
			w := wt.Float64s()
			got := grads[name]
			check("grad "+name, got, w, 1e-10, &worstGrad)
			for k := range w {
				if w[k] == 0 && got[k] != 0 {
					t.Errorf("%s: grad %s[%d] = %g, want exactly 0", c.ID, name, k, got[k])
					break
				}
			}
		}
		t.Logf("%-30s values %.2g  gates %.2g  gradients %.2g", c.ID, caseVal, caseGate, caseGrad)
	}
	t.Logf("%s: worst relative errors: values %.3g (tol 1e-12), gates %.3g (tol 1e-12), gradients %.3g (tol 1e-10)",
		filepath.Base(dir), worstVal, worstGate, worstGrad)
}

// TestGateInvariance: τ = 0 (and kind none) is bit-identical to the
// ungated graph in the loss and every gradient; every gate leaves the loss,
// per-pair loss, log-probs and metrics bit-identical to its ungated
// counterpart, and a binding gate changes the gradient.
func TestGateInvariance(t *testing.T) {
	dir := sharedGoldenDir(t)
	ungated := checkGateInvariance(t, dir, 10)
	gateInvarianceOff(t, dir, ungated)
}

// TestGateInvarianceExtra: the same for golden-extra's gated dpop,
// apo_zero and nca_pair cases.
func TestGateInvarianceExtra(t *testing.T) {
	checkGateInvariance(t, sharedGoldenSet(t, "golden-extra"), 3)
}

// checkGateInvariance runs the cases of dir and checks every gated case
// against its ungated counterpart (at least minChecked of them); it
// returns the ungated runs by objective.
func checkGateInvariance(t *testing.T, dir string, minChecked int) map[objectives.Spec]goldenRun {
	cases, runs := runGoldenCases(t, dir)
	ungated := map[objectives.Spec]goldenRun{}
	for _, c := range cases {
		if c.Gate.Kind == gating.KindNone {
			ungated[c.Objective] = runs[c.ID]
		}
	}
	checked := 0
	for _, c := range cases {
		if c.Gate.Kind == gating.KindNone {
			continue
		}
		u, ok := ungated[c.Objective]
		if !ok {
			continue
		}
		checked++
		g := runs[c.ID]
		if !sameBits([]float64{g.res.Loss}, []float64{u.res.Loss}) || !sameBits(g.res.PerPairLoss, u.res.PerPairLoss) ||
			!sameBits(g.res.Logps.PolicyRejected, u.res.Logps.PolicyRejected) || !sameBits(g.res.Logps.PolicyChosen, u.res.Logps.PolicyChosen) {
			t.Errorf("%s: the gate changed a forward value", c.ID)
		}
		for k, v := range u.res.Metrics {
			if math.Float64bits(g.res.Metrics[k]) != math.Float64bits(v) {
				t.Errorf("%s: metric %s %v != ungated %v", c.ID, k, g.res.Metrics[k], v)
			}
		}
		changed := false
		for name, gu := range u.grads {
			if !sameBits(g.grads[name], gu) {
				changed = true
			}
		}
		if c.Gate.Off() && changed {
			t.Errorf("%s: an off gate changed a gradient", c.ID)
		}
		if !c.Gate.Off() && !changed {
			t.Errorf("%s: the gate changed no gradient (is it binding?)", c.ID)
		}
	}
	if checked < minChecked {
		t.Fatalf("only %d gated cases had an ungated counterpart", checked)
	}
	return ungated
}

// gateInvarianceOff: kind none with τ > 0, and sft under a binding gate,
// are the ungated graph bit for bit.
func gateInvarianceOff(t *testing.T, dir string, ungated map[objectives.Spec]goldenRun) {
	// kind none with τ > 0, and sft under a binding gate, are the ungated graph.
	batch, _ := LoadBatchJSON(filepath.Join(dir, "batch.json"))
	policy, _ := models.Load(filepath.Join(dir, "policy.safetensors"), tensor.Float64)
	u := ungated[objectives.Spec{Name: objectives.DPO, Beta: 0.1}]
	rc, rr := u.res.Logps.ReferenceChosen, u.res.Logps.ReferenceRejected
	none := gating.DefaultSpec()
	none.Tau = 0.5
	ramp := gating.DefaultSpec()
	ramp.Kind, ramp.Tau = gating.KindRamp, 0.5
	sft, _ := objectives.Default(objectives.SFT)
	for _, v := range []struct {
		obj  objectives.Spec
		gate gating.Spec
		ref  goldenRun
	}{
		{objectives.Spec{Name: objectives.DPO, Beta: 0.1}, none, u},
		{sft, ramp, ungated[sft]},
	} {
		got := runCase(t, policy, batch, rc, rr, v.obj, v.gate)
		if !sameBits([]float64{got.res.Loss}, []float64{v.ref.res.Loss}) {
			t.Errorf("%v with %v: loss changed", v.obj, v.gate)
		}
		for name, gu := range v.ref.grads {
			if !sameBits(got.grads[name], gu) {
				t.Errorf("%v with %v: grad %s changed", v.obj, v.gate, name)
			}
		}
	}
}

// sameBits reports whether a and b are equal bit for bit.
func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestSeqGraphSFT: the SFT graph over the chosen rows reproduces the golden
// "sft" case (loss 1e-12, every gradient 1e-10 relative to max-abs).
func TestSeqGraphSFT(t *testing.T) {
	dir := sharedGoldenDir(t)
	batch, err := LoadBatchJSON(filepath.Join(dir, "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := models.Load(filepath.Join(dir, "policy.safetensors"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	B := len(batch.ChosenIDs)
	sg, err := NewSeqGraph(policy, B, batch.T, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sg.Close()
	if err := sg.SetBatch(batch.ChosenIDs, batch.ChosenMask); err != nil {
		t.Fatal(err)
	}
	if err := sg.Run(); err != nil {
		t.Fatal(err)
	}
	const goldenSFTLoss = 5.063549759246046 // golden README, case sft
	if l := sg.LossValue(); math.Abs(l-goldenSFTLoss) > 1e-12*goldenSFTLoss {
		t.Errorf("sft loss %.17g, want %.17g", l, goldenSFTLoss)
	}
	want, _, err := safetensors.Read(filepath.Join(dir, "grads_sft.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	grads, err := paramGrads(sg.Params())
	if err != nil {
		t.Fatal(err)
	}
	for name, wt := range want {
		w := wt.Float64s()
		sc := maxAbsF(w)
		for k := range w {
			if math.Abs(grads[name][k]-w[k]) > 1e-10*sc || (w[k] == 0 && grads[name][k] != 0) {
				t.Fatalf("grad %s[%d] = %v, want %v", name, k, grads[name][k], w[k])
			}
		}
	}
}

// TestPrefGraphFloat32: the golden weights rounded to float32 reproduce
// the dpo and gated dpo losses and log-probs to 1e-4 relative (docs/method.md
// §8, *_f32 weights).
func TestPrefGraphFloat32(t *testing.T) {
	dir := sharedGoldenDir(t)
	batch, _ := LoadBatchJSON(filepath.Join(dir, "batch.json"))
	policy, err := models.Load(filepath.Join(dir, "policy_f32.safetensors"), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := models.Load(filepath.Join(dir, "reference_f32.safetensors"), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	rg, err := NewSeqGraph(ref, 2*len(batch.ChosenIDs), batch.T, false)
	if err != nil {
		t.Fatal(err)
	}
	rc, rr, err := ReferenceLogps(rg, batch)
	rg.Close()
	if err != nil {
		t.Fatal(err)
	}
	gate := gating.Spec{Kind: gating.KindRamp, Tau: 0.05, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}
	r := runCase(t, policy, batch, rc, rr, objectives.Spec{Name: objectives.DPO, Beta: 0.1}, gate).res
	const goldenDPOLoss = 0.7052847717024183
	if math.Abs(r.Loss-goldenDPOLoss) > 1e-4*goldenDPOLoss {
		t.Errorf("float32 dpo loss %v, want %v", r.Loss, goldenDPOLoss)
	}
	wantPC := []float64{-43.428069804084785, -10.758114724866648, -58.16421476714713, -9.174794925806532}
	for i, w := range wantPC {
		if math.Abs(r.Logps.PolicyChosen[i]-w) > 1e-4*math.Abs(w) {
			t.Errorf("float32 pc[%d] = %v, want %v", i, r.Logps.PolicyChosen[i], w)
		}
	}
}

// TestPrefGraphMLPRelativeGate: the loss graph works for the MLP language
// model too, with a relative sequence-level gate: the loss is bit-identical
// to the ungated graph's and the gradient differs (the gate binds).
func TestPrefGraphMLPRelativeGate(t *testing.T) {
	lm, err := models.NewMLP(models.MLPConfig{VocabSize: 30, Window: 3, DEmbed: 8, DHidden: 16, MaxSeqLen: 16}, tensor.Float64, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := data.Batch{
		ChosenIDs:    [][]int{{3, 4, 5, 6, 7, 0}, {8, 9, 10, 11, 0, 0}},
		RejectedIDs:  [][]int{{3, 4, 12, 13, 0, 0}, {8, 9, 14, 15, 16, 17}},
		ChosenMask:   [][]int{{0, 0, 1, 1, 1, 0}, {0, 0, 1, 1, 0, 0}},
		RejectedMask: [][]int{{0, 0, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 1}},
		T:            6,
	}
	rc, rr := []float64{-7, -6}, []float64{-6.5, -12}
	obj := objectives.Spec{Name: objectives.IPO, Beta: 0.1, LengthNormalize: true}
	gate := gating.Spec{Kind: gating.KindSigmoid, Tau: 0.9, Level: gating.LevelSequence, Relative: true, Temperature: 0.5, Alpha: 0.5}
	un := runCase(t, lm, b, rc, rr, obj, gating.DefaultSpec())
	ga := runCase(t, lm, b, rc, rr, obj, gate)
	if math.Float64bits(un.res.Loss) != math.Float64bits(ga.res.Loss) {
		t.Errorf("gate changed the loss: %v vs %v", ga.res.Loss, un.res.Loss)
	}
	g0 := ga.res.RejectedGates[0]
	if !(g0[1] > 0 && g0[1] < 1) || g0[1] != g0[2] || g0[0] != 0 || g0[3] != 0 {
		t.Errorf("sequence gates of pair 0: %v (want one value in (0,1) on positions 1–2, 0 elsewhere)", g0)
	}
	changed := false
	for name, gu := range un.grads {
		for k := range gu {
			if ga.grads[name][k] != gu[k] {
				changed = true
			}
			if math.IsNaN(ga.grads[name][k]) {
				t.Fatalf("NaN gradient in %s", name)
			}
		}
	}
	if !changed {
		t.Error("the gate changed no gradient")
	}
}

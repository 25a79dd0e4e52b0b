package models

import (
	"math"
	"path/filepath"
	"testing"

	"gatedpo/graph"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// seqLogpWeights returns W [n, t−1] with W[i, p] = c[i]·mask[i][p+1]: the
// sequence log-prob LP_i = Σ_p mask[i][p+1]·lp[i, p] weighted by c[i].
func seqLogpWeights(masks [][]int, c []float64) [][]float64 {
	w := make([][]float64, len(masks))
	for i, m := range masks {
		w[i] = make([]float64, len(m)-1)
		for p := range w[i] {
			w[i][p] = c[i] * float64(m[p+1])
		}
	}
	return w
}

// sequenceLogps sums token log-probs lp [n·(t−1)] over the shifted masks.
func sequenceLogps(lp []float64, masks [][]int) []float64 {
	out := make([]float64, len(masks))
	for i, m := range masks {
		tm1 := len(m) - 1
		for p := 0; p < tm1; p++ {
			out[i] += float64(m[p+1]) * lp[i*tm1+p]
		}
	}
	return out
}

// gradOfWeightedLP builds lm on ids, forms L = Σ_i Σ_p W[i,p]·lp[i,p] with
// W from seqLogpWeights, and returns every parameter's gradient by name.
// With c[i] = ∂loss/∂LP_i (computed from forward values), these are exactly
// the gradients of loss (chain rule), so the test needs no objective code.
func gradOfWeightedLP(t testing.TB, lm LM, ids [][]int, w [][]float64) map[string][]float64 {
	t.Helper()
	g := G.NewGraph()
	n, tt := len(ids), len(ids[0])
	f, err := lm.Build(g, n, tt)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetIDs(ids); err != nil {
		t.Fatal(err)
	}
	wt := tensor.New(tensor.Of(lm.Dtype()), tensor.WithShape(n, tt-1))
	for i := range w {
		for p, v := range w[i] {
			if lm.Dtype() == tensor.Float64 {
				wt.Data().([]float64)[i*(tt-1)+p] = v
			} else {
				wt.Data().([]float32)[i*(tt-1)+p] = float32(v)
			}
		}
	}
	wn := G.NewMatrix(g, lm.Dtype(), G.WithShape(n, tt-1), G.WithName("test.lp_weights"), G.WithValue(wt))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(f.TokenLogps, wn))))
	params := f.ParamNodes()
	if _, err := G.Grad(loss, params...); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, p := range f.Params {
		gv, err := p.Node.Grad()
		if err != nil {
			t.Fatal(err)
		}
		out[p.Name] = graph.Float64s(gv)
	}
	return out
}

// goldenCoefficients returns c = ∂loss/∂LP for the golden "sft" and "dpo"
// cases (rows 0..3 chosen, 4..7 rejected), from the golden forward values.
// sft: loss = Σ_i −pc_i / Nc. dpo (β = 0.1): loss = mean_i −log σ(β·h_i),
// h = (pc − rc) − (pr − rr), so ∂loss/∂pc_i = −β·σ(−β·h_i)/4 = −∂loss/∂pr_i.
func goldenCoefficients(t testing.TB, shared, caseID string, b goldenBatch) []float64 {
	fwd := readGolden(t, shared, "forward.safetensors")
	masks := append(append([][]int{}, b.ChosenResponseMask...), b.RejectedResponseMask...)
	pol := sequenceLogps(fwd["policy_token_logps"].F64, masks)
	ref := sequenceLogps(fwd["reference_token_logps"].F64, masks)
	c := make([]float64, 8)
	switch caseID {
	case "sft":
		nc := 0
		for _, l := range b.ChosenRespLens {
			nc += l
		}
		for i := 0; i < 4; i++ {
			c[i] = -1 / float64(nc)
		}
	case "dpo":
		const beta = 0.1
		for i := 0; i < 4; i++ {
			h := (pol[i] - ref[i]) - (pol[i+4] - ref[i+4])
			d := -beta / (1 + math.Exp(beta*h)) / 4 // −β·σ(−βh)/4
			c[i], c[i+4] = d, -d
		}
	default:
		t.Fatalf("no coefficients for case %q", caseID)
	}
	return c
}

// TestGoldenGradients checks every parameter's gradient of the golden sft
// and dpo cases. Tolerance 1e-10 relative to each tensor's max-abs
// (docs/method.md §8: float64 backprop through ~40 ops accumulates a few
// hundred ulps at most; observed ≈1e-14). Where the golden gradient is
// exactly zero (pad row of tok_emb, pos_emb rows ≥ 19, ids only at the
// last real position) ours must be exactly zero too.
func TestGoldenGradients(t *testing.T) {
	shared := sharedDir(t)
	b := loadBatch(t, shared)
	masks := append(append([][]int{}, b.ChosenResponseMask...), b.RejectedResponseMask...)
	lm, err := Load(filepath.Join(shared, "golden", "policy.safetensors"), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	for _, caseID := range []string{"sft", "dpo"} {
		want := readGolden(t, shared, "grads_"+caseID+".safetensors")
		c := goldenCoefficients(t, shared, caseID, b)
		got := gradOfWeightedLP(t, lm, b.ids8(), seqLogpWeights(masks, c))
		var worst float64
		for _, w := range lm.Weights() {
			exp, ok := want[w.Name]
			if !ok {
				t.Fatalf("%s: golden has no gradient for %q", caseID, w.Name)
			}
			e := relMaxErr(got[w.Name], exp.F64)
			worst = math.Max(worst, e)
			if e > 1e-10 {
				t.Errorf("%s: grad %s: max rel err %.3g > 1e-10", caseID, w.Name, e)
			}
			zeros, mism := 0, 0
			for i, v := range exp.F64 {
				if v == 0 {
					zeros++
					if got[w.Name][i] != 0 {
						mism++
					}
				}
			}
			if mism > 0 {
				t.Errorf("%s: grad %s: %d of %d exact golden zeros are nonzero here", caseID, w.Name, mism, zeros)
			}
		}
		t.Logf("%s: worst gradient rel err %.3g over %d tensors (tolerance 1e-10)", caseID, worst, len(lm.Weights()))
	}
}

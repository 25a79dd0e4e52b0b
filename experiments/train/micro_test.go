package train

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/internal/sharedtest"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/objectives"
)

// microModels are the models the micro-batch tests train, in float64: a
// small random transformer (TinyGPT) and, when ../shared is present, the
// tiny Pythia of ../shared/hf/models (a Hugging Face family with its own
// forward: rotary attention, parallel residual).
func microModels(t *testing.T) map[string]func() models.LM {
	out := map[string]func() models.LM{
		"tinygpt": func() models.LM {
			lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 64, DModel: 16, NHeads: 2, NLayers: 2, MaxSeqLen: 48, LNEps: 1e-5}, tensor.Float64, 3)
			if err != nil {
				t.Fatal(err)
			}
			return lm
		},
	}
	out["pythia-tiny"] = func() models.LM {
		dir := sharedtest.Path(t, "hf/models/pythia-tiny/config.json")
		lm, err := hf.LoadDir(filepath.Dir(dir), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		return lm
	}
	return out
}

// microPairs returns n preference pairs of varied prompt and response
// lengths (ids in [1, 64)), the reference log-probs of each, and the
// packed row length of the longest.
func microPairs(n int) ([]data.EncodedPair, []float64, []float64, int) {
	rng := graph.NewRNG(11)
	ids := func(k int) []int {
		s := make([]int, k)
		for i := range s {
			s[i] = 1 + rng.IntN(63)
		}
		return s
	}
	pairs := make([]data.EncodedPair, n)
	rc, rr := make([]float64, n), make([]float64, n)
	packed := 0
	for i := range pairs {
		pairs[i] = data.EncodedPair{Prompt: ids(2 + rng.IntN(6)), Chosen: ids(1 + rng.IntN(9)), Rejected: ids(1 + rng.IntN(9))}
		rc[i] = -float64(len(pairs[i].Chosen)) * (3 + rng.Float64())
		rr[i] = -float64(len(pairs[i].Rejected)) * (3 + rng.Float64())
		packed = max(packed, loss.PackedPairLen(len(pairs[i].Prompt), len(pairs[i].Chosen), len(pairs[i].Rejected)))
	}
	return pairs, rc, rr, packed
}

type microCase struct {
	obj  objectives.Spec
	gate gating.Spec
	pack bool
}

func microCases() []microCase {
	sig := gating.DefaultSpec()
	sig.Kind, sig.Tau, sig.Temperature = gating.KindSigmoid, 0.02, 0.5
	seq := gating.DefaultSpec()
	seq.Kind, seq.Tau, seq.Level = gating.KindRamp, 0.05, gating.LevelSequence
	hard := gating.DefaultSpec()
	hard.Kind, hard.Tau = gating.KindHard, 0.02
	dpo, _ := objectives.Default(objectives.DPO)
	ipo := objectives.Spec{Name: objectives.IPO, Beta: 0.1, LengthNormalize: true}
	rpo, _ := objectives.Default(objectives.RPO)
	sft, _ := objectives.Default(objectives.SFT)
	return []microCase{
		{dpo, sig, false},
		{dpo, seq, true},
		{ipo, hard, false},
		{rpo, sig, true},
		{sft, gating.DefaultSpec(), false}, // a chosen-token mean
	}
}

// relClose reports |a − b| ≤ tol·max(|b|, scale).
func relClose(a, b, tol, scale float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(b), scale)
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// compareOutputs checks loss, metrics and gradient norm within tol.
func compareOutputs(t *testing.T, what string, got, want Output, tol float64) {
	t.Helper()
	if !relClose(got.Loss, want.Loss, tol, 0) {
		t.Errorf("%s: loss %.17g, whole batch %.17g", what, got.Loss, want.Loss)
	}
	if !relClose(got.GradNorm, want.GradNorm, tol, 0) {
		t.Errorf("%s: gradient norm %.17g, whole batch %.17g", what, got.GradNorm, want.GradNorm)
	}
	if len(got.Metrics) != len(want.Metrics) {
		t.Errorf("%s: metrics %v, whole batch %v", what, keys(got.Metrics), keys(want.Metrics))
	}
	for k, w := range want.Metrics {
		g, ok := got.Metrics[k]
		if !ok || !(relClose(g, w, tol, 1e-300) || math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("%s: metric %s = %.17g, whole batch %.17g", what, k, g, w)
		}
	}
}

func keys(m map[string]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestPrefStepMicroBatches: a preference step run in micro-batches of 1
// and 2 pairs (B = 4) gives the whole batch's loss, TRL metrics, gate
// statistics, gradient norm and every parameter's gradient within 1e-12
// relative, in float64, for a TinyGPT and a Hugging Face model, objectives
// that are a pair mean (dpo, ipo, rpo) and a chosen-token mean (sft),
// token- and sequence-level gates, unpacked and packed pairs — at each of
// 3 Adam steps (the micro-batched runs keep their own optimizer state and
// restart each step from the whole-batch run's weights: Adam divides a
// gradient by its running RMS, so a gradient that is zero in exact
// arithmetic, e.g. the attention key bias's, is rounding noise in both
// runs that becomes an update of ~lr·1e-9, and weights left to drift
// would compare at that level, not at the gradients' 1e-12).
func TestPrefStepMicroBatches(t *testing.T) {
	const B, steps = 4, 3
	pairs, rc, rr, packedT := microPairs(B * steps)
	for name, newLM := range microModels(t) {
		for _, c := range microCases() {
			t.Run(fmt.Sprintf("%s/%s/%s-%s/pack=%v", name, c.obj.Name, c.gate.Kind, c.gate.Level, c.pack), func(t *testing.T) {
				base := newLM()
				batch := func(k int) (data.Batch, []float64, []float64) {
					lo, hi := k*B, (k+1)*B
					return data.MakeBatch(pairs[lo:hi], 0, 32), rc[lo:hi], rr[lo:hi]
				}
				type run struct {
					lm   models.LM
					step *PrefStep
				}
				build := func(micro int) run {
					lm := base.Clone()
					opt, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: 1e-2})
					if err != nil {
						t.Fatal(err)
					}
					newStep, tt := NewPrefStep, 32
					if c.pack {
						newStep, tt = NewPackedPrefStep, packedT
					}
					s, err := newStep(lm, opt, c.obj, c.gate, B, micro, tt)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(s.Close)
					return run{lm, s}
				}
				whole := build(0)
				if whole.step.acc != nil || whole.step.Micro != B {
					t.Fatal("micro 0 does not run the whole batch")
				}
				micros := map[int]run{1: build(1), 2: build(2)}
				var first Output
				for k := 0; k < steps; k++ {
					b, bc, br := batch(k)
					// the whole batch's gradients at the current weights
					if err := whole.step.Graph.SetBatch(b, bc, br); err != nil {
						t.Fatal(err)
					}
					if err := whole.step.Graph.Run(); err != nil {
						t.Fatal(err)
					}
					wantGrads, err := whole.step.Graph.Grads()
					if err != nil {
						t.Fatal(err)
					}
					whole.step.Graph.Release()
					want, err := whole.step.Step(b, bc, br)
					if err != nil {
						t.Fatal(err)
					}
					if k == 0 {
						first = want
					}
					for _, micro := range []int{1, 2} {
						r := micros[micro]
						got, err := r.step.accumulate(b, bc, br)
						if err != nil {
							t.Fatal(err)
						}
						checkSums(t, fmt.Sprintf("micro %d step %d", micro, k+1), r.step.acc, wantGrads)
						info, err := r.step.acc.step(r.step.opt)
						if err != nil {
							t.Fatal(err)
						}
						got.GradNorm, got.LR = info.GradNorm, info.LR
						compareOutputs(t, fmt.Sprintf("micro %d step %d", micro, k+1), got, want, 1e-12)
						syncWeights(r.lm, whole.lm)
					}
				}
				if first.Metrics["gate/mean_g"] == 1 && c.gate.Kind != gating.KindNone && c.obj.ReadsRejected() {
					t.Errorf("the gate gates nothing: the case does not test gated micro-batches")
				}
			})
		}
	}
}

// checkSums compares accumulated gradient sums with the whole batch's
// gradients, within 1e-12 relative to each tensor's largest entry.
func checkSums(t *testing.T, what string, acc *accumulator, want map[string][]float64) {
	t.Helper()
	for i, name := range acc.names {
		got, w := graph.Float64s(acc.sums[i]), want[name]
		sc := maxAbs(w)
		for j := range w {
			if !relClose(got[j], w[j], 1e-12, sc) {
				t.Fatalf("%s: gradient of %s[%d] = %.17g, whole batch %.17g (largest |g| %.3g)", what, name, j, got[j], w[j], sc)
			}
		}
	}
}

// syncWeights copies from's weights into to (float64 models): the next
// step of both starts from the same point, so its gradients compare at
// 1e-12 (weights that drifted apart by one Adam step of rounding noise
// would not; see TestPrefStepMicroBatches).
func syncWeights(to, from models.LM) {
	src := from.Weights()
	for i, w := range to.Weights() {
		copy(w.T.Data().([]float64), src[i].T.Data().([]float64))
	}
}

// TestSFTStepMicroBatches: the SFT step (token-mean NLL) in micro-batches
// of 2 and 4 rows (micro_pairs 1 and 2 of a batch of 4 pairs) gives the
// whole batch's loss, gradient norm and gradients within 1e-12 relative
// at each of 3 Adam steps (as TestPrefStepMicroBatches); a micro-batch
// without a response token contributes nothing.
func TestSFTStepMicroBatches(t *testing.T) {
	const rows, steps = 8, 3
	pairs, _, _, _ := microPairs(rows * steps)
	seqs := make([]data.Sequence, len(pairs))
	for i, p := range pairs {
		seqs[i] = data.Sequence{Prompt: p.Prompt, Response: p.Chosen}
	}
	// rows 2 and 3 of the first batch have no response token: the
	// micro-batch of 2 rows holding them is skipped
	seqs[2].Response, seqs[3].Response = nil, nil
	for name, newLM := range microModels(t) {
		t.Run(name, func(t *testing.T) {
			base := newLM()
			type run struct {
				lm   models.LM
				step *SFTStep
			}
			build := func(micro int) run {
				lm := base.Clone()
				opt, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: 1e-2})
				if err != nil {
					t.Fatal(err)
				}
				s, err := NewSFTStep(lm, opt, rows, micro, 24)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return run{lm, s}
			}
			batch := func(k int) data.SeqBatch { return data.MakeSeqBatch(seqs[k*rows:(k+1)*rows], 0, 24) }
			whole := build(0)
			micros := map[int]run{2: build(2), 4: build(4)}
			for k := 0; k < steps; k++ {
				b := batch(k)
				if err := whole.step.Graph.SetBatch(b.IDs, b.Mask); err != nil {
					t.Fatal(err)
				}
				if err := whole.step.Graph.Run(); err != nil {
					t.Fatal(err)
				}
				wantGrads := map[string][]float64{}
				for _, p := range whole.step.Graph.Params() {
					gv, err := p.Node.Grad()
					if err != nil {
						t.Fatal(err)
					}
					wantGrads[p.Name] = append([]float64(nil), graph.Float64s(gv)...)
				}
				whole.step.Graph.Release()
				want, err := whole.step.Step(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, micro := range []int{2, 4} {
					r := micros[micro]
					got, ok, err := r.step.accumulate(b, Output{Metrics: map[string]float64{}})
					if err != nil || !ok {
						t.Fatal(ok, err)
					}
					checkSums(t, fmt.Sprintf("micro %d step %d", micro, k+1), r.step.acc, wantGrads)
					info, err := r.step.acc.step(r.step.opt)
					if err != nil {
						t.Fatal(err)
					}
					got.GradNorm, got.LR = info.GradNorm, info.LR
					compareOutputs(t, fmt.Sprintf("micro %d step %d", micro, k+1), got, want, 1e-12)
					syncWeights(r.lm, whole.lm)
				}
			}
		})
	}
}

// TestMicroBatchRefusals: micro-batches that do not divide the batch, a
// negative size, an objective whose loss has no per-micro-batch shares
// (rpo sft_norm "token") and a batch of the wrong size are errors.
func TestMicroBatchRefusals(t *testing.T) {
	lm := microModels(t)["tinygpt"]()
	opt, _ := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: 1e-3})
	dpo, _ := objectives.Default(objectives.DPO)
	rpoToken := objectives.Spec{Name: objectives.RPO, Beta: 0.1, Alpha: 1, SFTNorm: objectives.SFTNormToken}
	for _, c := range []struct {
		obj          objectives.Spec
		pairs, micro int
	}{{dpo, 4, 3}, {dpo, 4, -1}, {dpo, 4, 8}, {rpoToken, 4, 2}} {
		if s, err := NewPrefStep(lm, opt, c.obj, gating.DefaultSpec(), c.pairs, c.micro, 16); err == nil {
			s.Close()
			t.Errorf("%v, %d pairs in micro-batches of %d: no error", c.obj, c.pairs, c.micro)
		}
	}
	if s, err := NewPrefStep(lm, opt, rpoToken, gating.DefaultSpec(), 4, 4, 16); err != nil {
		t.Errorf("rpo token with micro = the whole batch: %v", err)
	} else {
		s.Close()
	}
	if s, err := NewSFTStep(lm, opt, 8, 3, 16); err == nil {
		s.Close()
		t.Error("SFT rows 8 in micro-batches of 3: no error")
	}
	s, err := NewPrefStep(lm, opt, dpo, gating.DefaultSpec(), 4, 2, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pairs, rc, rr, _ := microPairs(2)
	if _, err := s.Step(data.MakeBatch(pairs, 0, 32), rc, rr); err == nil {
		t.Error("a batch of 2 pairs into a step of 4: no error")
	}
}

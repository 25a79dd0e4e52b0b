package models

import (
	"math"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

// TestGoldenFloat32 runs the golden forward and the sft/dpo gradients in
// float32 from policy_f32.safetensors. Tolerance 1e-4 relative to each
// tensor's max-abs (docs/method.md §8): the f32 weights are rounded copies
// (≈6e-8 relative) and float32 arithmetic through 2 layers with T = 20
// accumulates ≈1e-7–1e-6 (observed ≤ 7e-7).
func TestGoldenFloat32(t *testing.T) {
	shared := sharedDir(t)
	b := loadBatch(t, shared)
	fwd := readGolden(t, shared, "forward.safetensors")
	for _, who := range []string{"policy", "reference"} {
		lm, err := Load(filepath.Join(shared, "golden", who+"_f32.safetensors"), tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		logits, lp, lpmax := runForward(t, lm, b.ids8())
		for _, c := range []struct {
			key string
			got []float64
		}{{who + "_logits", logits}, {who + "_token_logps", lp}, {who + "_token_logp_max", lpmax}} {
			e := relMaxErr(c.got, fwd[c.key].F64)
			t.Logf("float32 %s: max rel err %.3g (tolerance 1e-4)", c.key, e)
			if e > 1e-4 {
				t.Errorf("float32 %s: max rel err %.3g > 1e-4", c.key, e)
			}
		}
	}
	lm, err := Load(filepath.Join(shared, "golden", "policy_f32.safetensors"), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	masks := append(append([][]int{}, b.ChosenResponseMask...), b.RejectedResponseMask...)
	for _, caseID := range []string{"sft", "dpo"} {
		want := readGolden(t, shared, "grads_"+caseID+".safetensors")
		got := gradOfWeightedLP(t, lm, b.ids8(), seqLogpWeights(masks, goldenCoefficients(t, shared, caseID, b)))
		var worst float64
		for _, w := range lm.Weights() {
			e := relMaxErr(got[w.Name], want[w.Name].F64)
			worst = math.Max(worst, e)
			if e > 1e-4 {
				t.Errorf("float32 %s: grad %s: max rel err %.3g > 1e-4", caseID, w.Name, e)
			}
		}
		t.Logf("float32 %s: worst gradient rel err %.3g (tolerance 1e-4)", caseID, worst)
	}
}

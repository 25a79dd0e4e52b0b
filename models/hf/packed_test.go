package hf

import (
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/internal/packcheck"
)

// TestPackedMatchesUnpacked: for every family (GPT-2's learned positions,
// GPT-NeoX's partial rotary, Llama's grouped-query attention with rotary,
// Qwen2), a packed forward gives every token of a prompt and its responses
// the final hidden state it has unpacked: bit-identical in the default
// build (graph.PackedBitIdentical), in float32 and float64.
func TestPackedMatchesUnpacked(t *testing.T) {
	groups := []packcheck.Group{
		{Prompt: []int{5, 17, 250, 3, 9}, Responses: [][]int{{7, 7, 1}, {299}, {12, 40, 41, 42, 43, 8}}},
		{Prompt: []int{11}, Responses: [][]int{{1, 2, 3, 4}, {6, 5}}},
	}
	for name, raw := range variantConfigs {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			m := randomModel(t, raw, dt, 9)
			tol := 0.0
			if !graph.PackedBitIdentical() {
				tol = map[tensor.Dtype]float64{tensor.Float32: 1e-5, tensor.Float64: 1e-12}[dt]
			}
			worst, err := packcheck.Compare(m, groups, tol)
			if err != nil {
				t.Fatalf("%s %v: %v", name, dt, err)
			}
			t.Logf("%s %v: worst relative |packed − unpacked| = %g", name, dt, worst)
		}
	}
}

package models_test

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/internal/packcheck"
	"gatedpo/models"
)

// packGroups are prompts with several responses each (a one-token prompt
// included), for the packed-vs-unpacked comparisons.
func packGroups(vocab int) []packcheck.Group {
	tok := func(seed, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = 1 + (seed*7+i*13)%(vocab-1)
		}
		return out
	}
	return []packcheck.Group{
		{Prompt: tok(1, 6), Responses: [][]int{tok(2, 5), tok(3, 1), tok(4, 9)}},
		{Prompt: tok(5, 1), Responses: [][]int{tok(6, 4), tok(7, 3)}},
		{Prompt: tok(8, 10), Responses: [][]int{tok(9, 2)}},
	}
}

// TestTransformerPackedMatchesUnpacked: a packed forward gives every token
// of a prompt and its responses the logits it has unpacked, bit-identical
// in the default build (graph.PackedBitIdentical), in float32 and float64.
func TestTransformerPackedMatchesUnpacked(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		m, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 2, NLayers: 2, MaxSeqLen: 16, LNEps: 1e-5}, dt, 3)
		if err != nil {
			t.Fatal(err)
		}
		tol := 0.0
		if !graph.PackedBitIdentical() {
			tol = map[tensor.Dtype]float64{tensor.Float32: 1e-5, tensor.Float64: 1e-12}[dt]
		}
		worst, err := packcheck.Compare(m, packGroups(40), tol)
		if err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		t.Logf("%v: worst relative |packed − unpacked| = %g", dt, worst)
	}
}

// TestTransformerPackedPositionLimit: the packed row may be longer than
// max_seq_len, a position id may not.
func TestTransformerPackedPositionLimit(t *testing.T) {
	m, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 2, NLayers: 1, MaxSeqLen: 8, LNEps: 1e-5}, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	long := packcheck.Group{Prompt: []int{1, 2, 3}, Responses: [][]int{{4, 5, 6, 7}, {5, 6, 7, 8, 9}, {1, 2}}} // a row of 2 + 5 + 6 + 3 + 2 = 18 > 8 tokens
	if _, err := packcheck.Compare(m, []packcheck.Group{long}, 1e-12); err != nil {
		t.Fatalf("row longer than max_seq_len: %v", err)
	}
	f, err := m.BuildPacked(G.NewGraph(), 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	err = f.SetLayout([]graph.PackRow{{Prefix: 2, Segs: []int{7, 3}}}) // the first segment reaches position 8
	if err == nil || !strings.Contains(err.Error(), "position limit 8") {
		t.Fatalf("a segment past max_seq_len: error %v", err)
	}
	if err := (&models.Forward{}).SetLayout(nil); err == nil {
		t.Fatal("SetLayout on an unpacked forward succeeded")
	}
}

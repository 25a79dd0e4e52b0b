package probe

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/internal/sharedtest"
	"gatedpo/models/hf"
)

// TestProbeHiddenPathMatchesLogits checks, on the shared tiny Hugging Face
// models in float64 and float32, that the probe's hidden-state path (the
// head applied in Go to the response rows, block by block) gives the same
// statistics as the full-logits path: every per-token log-prob and max
// log-prob and every per-sequence sum and mean, within 1e-10 relative in
// float64 and 1e-4 in float32. The logits block is lowered to 3 rows so
// that a batch spans several blocks, one of them partial. It also checks
// that the hidden-state path never builds the logits node and holds
// nothing after a pass.
func TestProbeHiddenPathMatchesLogits(t *testing.T) {
	shared := sharedtest.Dir(t, "hf/models")
	seqs := []data.Sequence{
		{Prompt: []int{10, 11, 12}, Response: []int{40, 41, 42, 43, 44}},
		{Prompt: []int{20, 21, 22, 23, 24, 25}, Response: []int{50, 51}},
		{Prompt: []int{30}, Response: []int{60, 61, 62, 63, 64, 65, 66, 67, 68, 69}},
		{Prompt: []int{300, 7}, Response: []int{5}},
		{Prompt: []int{1, 2, 3, 4, 5, 6, 7, 8}, Response: []int{251, 252, 253, 254}},
	}
	for _, name := range []string{"gpt2-tiny", "llama-tiny", "pythia-tiny", "qwen2-tiny"} {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				lm, err := hf.Load(filepath.Join(shared, "hf", "models", name), dt)
				if err != nil {
					t.Fatal(err)
				}
				const n, T = 2, 16
				full, err := newProbeGraphPath(lm, n, T, true, false)
				if err != nil {
					t.Fatal(err)
				}
				defer full.close()
				want, err := full.run(seqs, 0)
				if err != nil {
					t.Fatal(err)
				}
				if full.fwd.Hidden == nil || full.fwd.HeadWeight == nil {
					t.Fatal("the Hugging Face forward exposes no hidden states or head weight")
				}
				defer func(b int) { headChunkBytes = b }(headChunkBytes)
				headChunkBytes = 3 * lm.(*hf.Model).Config().Vocab * int(dt.Size())
				hid, err := newProbeGraph(lm, n, T)
				if err != nil {
					t.Fatal(err)
				}
				defer hid.close()
				got, err := hid.run(seqs, 0)
				if err != nil {
					t.Fatal(err)
				}
				if hid.fwd.Logits != nil {
					t.Error("the hidden-state probe graph built the [n·t, V] logits node")
				}
				if h := graph.HeldBytes(hid.g); h > heldByConstants || hid.hiddenV != nil {
					t.Errorf("the hidden-state probe graph holds %d bytes after a pass (hidden states kept: %v)", h, hid.hiddenV != nil)
				}
				tol := 1e-10
				if dt == tensor.Float32 {
					tol = 1e-4
				}
				check := func(what string, a, b float64) {
					if math.IsNaN(a) || math.Abs(a-b) > tol*math.Abs(b) {
						t.Errorf("%s: hidden-state path %v, full logits %v (tolerance %g relative)", what, a, b, tol)
					}
				}
				for i := range seqs {
					g, w := got[i], want[i]
					if g.NTok != w.NTok || g.NTok != len(seqs[i].Response) || len(g.TokLP) != w.NTok || len(g.TokMax) != w.NTok {
						t.Fatalf("sequence %d: %d tokens (%d, %d terms), full logits %d", i, g.NTok, len(g.TokLP), len(g.TokMax), w.NTok)
					}
					check(fmt.Sprintf("seq %d LP", i), g.LP, w.LP)
					check(fmt.Sprintf("seq %d LPArgmax", i), g.LPArgmax, w.LPArgmax)
					check(fmt.Sprintf("seq %d Top1", i), g.Top1, w.Top1)
					check(fmt.Sprintf("seq %d Entropy", i), g.Entropy, w.Entropy)
					check(fmt.Sprintf("seq %d Collision", i), g.Collision, w.Collision)
					for j := range g.TokLP {
						check(fmt.Sprintf("seq %d token %d lp", i, j), g.TokLP[j], w.TokLP[j])
						check(fmt.Sprintf("seq %d token %d max lp", i, j), g.TokMax[j], w.TokMax[j])
					}
				}
			})
		}
	}
}

package probe

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/models"
)

// TestProbeStatsMatchGraphOps checks the probe's plain-Go statistics
// (log-prob of the target, max log-prob, entropy, collision, computed from
// the logits at response positions only) against the graph's own ops on
// the same model and rows. Tolerance 1e-5 relative to the summed value:
// float32 logits, float64 sums on both sides, different summation orders.
func TestProbeStatsMatchGraphOps(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 259, DModel: 32, NHeads: 2, NLayers: 1, MaxSeqLen: 24, LNEps: 1e-5}, dt, 3)
		if err != nil {
			t.Fatal(err)
		}
		seqs := []data.Sequence{
			{Prompt: []int{10, 11, 12}, Response: []int{40, 41, 42, 43, 44}},
			{Prompt: []int{20, 21, 22, 23, 24, 25}, Response: []int{50, 51}},
			{Prompt: []int{30}, Response: []int{60, 61, 62, 63, 64, 65, 66, 67, 68, 69}},
		}
		const n, T = 4, 16
		pg, err := newProbeGraph(lm, n, T)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pg.run(seqs, 0)
		pg.close()
		if err != nil {
			t.Fatal(err)
		}
		// the same rows through the graph's ops
		g := G.NewGraph()
		fwd, _ := lm.Build(g, n, T)
		ent, _ := graph.TokenLogitStat(fwd.Logits, n, T, graph.StatEntropy)
		col, _ := graph.TokenLogitStat(fwd.Logits, n, T, graph.StatCollision)
		var lpV, lmaxV, entV, colV G.Value
		G.Read(fwd.TokenLogps, &lpV)
		G.Read(fwd.TokenLogpMax, &lmaxV)
		G.Read(ent, &entV)
		G.Read(col, &colV)
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		b := data.MakeSeqBatch(append(seqs, seqs[0]), 0, T)
		fwd.SetIDs(b.IDs)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		lp, lmax, en, co := graph.Float64s(lpV), graph.Float64s(lmaxV), graph.Float64s(entV), graph.Float64s(colV)
		for r := range seqs {
			var want SeqStats
			for i := 0; i < T-1; i++ {
				if b.Mask[r][i+1] == 0 {
					continue
				}
				k := r*(T-1) + i
				want.NTok++
				want.LP += lp[k]
				want.LPArgmax += lmax[k]
				want.Top1 += math.Exp(lmax[k])
				want.Entropy += en[k]
				want.Collision += co[k]
			}
			nt := float64(want.NTok)
			want.Top1, want.Entropy, want.Collision = want.Top1/nt, want.Entropy/nt, want.Collision/nt
			pairs := [][2]float64{{got[r].LP, want.LP}, {got[r].LPArgmax, want.LPArgmax}, {got[r].Top1, want.Top1},
				{got[r].Entropy, want.Entropy}, {got[r].Collision, want.Collision}}
			for j, p := range pairs {
				if math.Abs(p[0]-p[1]) > 1e-5*math.Max(1, math.Abs(p[1])) {
					t.Errorf("%v row %d stat %d: probe %v, graph %v", dt, r, j, p[0], p[1])
				}
			}
			if got[r].NTok != want.NTok {
				t.Errorf("row %d: %d tokens, want %d", r, got[r].NTok, want.NTok)
			}
		}
	}
}

// TestProbeGraphReleasesLogits checks that a probe graph holds nothing
// after a pass (its [n·t, V] logits included) and that a second pass over
// the same sequences, through the released graph, gives the same statistics
// bit for bit.
func TestProbeGraphReleasesLogits(t *testing.T) {
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 259, DModel: 32, NHeads: 2, NLayers: 1, MaxSeqLen: 24, LNEps: 1e-5}, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	seqs := []data.Sequence{
		{Prompt: []int{10, 11, 12}, Response: []int{40, 41, 42, 43, 44}},
		{Prompt: []int{20, 21, 22, 23, 24, 25}, Response: []int{50, 51}},
		{Prompt: []int{30}, Response: []int{60, 61, 62, 63, 64, 65, 66, 67, 68, 69}},
	}
	pg, err := newProbeGraph(lm, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.close()
	first, err := pg.run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h := graph.HeldBytes(pg.g); h > heldByConstants || pg.logitsV != nil {
		t.Errorf("the probe graph holds %d bytes after a pass (logits kept: %v)", h, pg.logitsV != nil)
	}
	second, err := pg.run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		a, b := first[i], second[i]
		for j, p := range [][2]float64{{a.LP, b.LP}, {a.LPArgmax, b.LPArgmax}, {a.Top1, b.Top1}, {a.Entropy, b.Entropy}, {a.Collision, b.Collision}} {
			if math.Float64bits(p[0]) != math.Float64bits(p[1]) {
				t.Errorf("sequence %d stat %d: first pass %v, second %v", i, j, p[0], p[1])
			}
		}
	}
}

// heldByConstants bounds what a released graph may still hold: Gorgonia
// constants (scalars) only (the bound of experiments' memory tests).
const heldByConstants = 1024

// BenchmarkGraphMemory reports what one run of a probe graph holds before
// it is released (graph.HeldBytes: every activation and op cache, each
// backing array once) for the transformer-xs shape (d_model 64, 2 layers)
// at the probe rows of the hh-probe cell (32 rows, T 192), at two
// vocabulary sizes; vbufs/token is the number of [rows·T, V] float32
// buffers, from the difference between the two vocabularies. The training
// graphs' kinds are experiments' BenchmarkGraphMemory:
//
//	go test ./experiments ./experiments/probe -run '^$' -bench GraphMemory -benchtime 1x
func BenchmarkGraphMemory(b *testing.B) {
	const T, rows = 192, 32
	held := map[int]float64{}
	for _, V := range []int{259, 2048} {
		cfg := models.TransformerConfig{VocabSize: V, DModel: 64, NHeads: 2, NLayers: 2, MaxSeqLen: T, LNEps: 1e-5}
		lm, err := models.NewTransformer(cfg, tensor.Float32, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("probe/V=%d", V), func(b *testing.B) {
			var h int64
			for i := 0; i < b.N; i++ {
				pg, err := newProbeGraph(lm, rows, T)
				if err != nil {
					b.Fatal(err)
				}
				if err := pg.vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				h = graph.HeldBytes(pg.g)
				pg.close()
			}
			tokens := float64(rows * T)
			b.ReportMetric(float64(h)/1e6, "MB")
			b.ReportMetric(float64(h)/tokens, "bytes/token")
			held[V] = float64(h)
			if h0, ok := held[259]; ok && V != 259 {
				b.ReportMetric((float64(h)-h0)/(tokens*4*float64(V-259)), "vbufs/token")
			}
		})
	}
}

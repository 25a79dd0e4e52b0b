package experiments

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/experiments/train"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// memPairs returns n preference pairs whose longest row has about length
// tokens (ids in [1, 259)).
func memPairs(n, length int, seed int) []data.EncodedPair {
	out := make([]data.EncodedPair, n)
	for i := range out {
		p := 3 + (seed+i)%4
		r := max(length-p-(i%3), 2)
		ids := func(k, off int) []int {
			s := make([]int, k)
			for j := range s {
				s[j] = 1 + (off+7*j+13*i+seed)%258
			}
			return s
		}
		out[i] = data.EncodedPair{Prompt: ids(p, 0), Chosen: ids(r, 5), Rejected: ids(r-1, 11)}
	}
	return out
}

// heldByConstants bounds what a released graph may still hold: Gorgonia
// constants (scalars) only.
const heldByConstants = 1024

// TestBucketGraphsReleaseValues trains the same model twice over batches
// that alternate between two length buckets — once through the sweep's
// train.PrefStep and train.SFTStep (which release every activation after a
// step),
// once through graphs that keep their values — and checks that losses,
// gradient norms and final weights agree bit for bit, and that a kept
// bucket graph holds no activation buffer between steps.
func TestBucketGraphsReleaseValues(t *testing.T) {
	cfg := models.TransformerConfig{VocabSize: 259, DModel: 32, NHeads: 2, NLayers: 2, MaxSeqLen: 48, LNEps: 1e-5}
	base, err := models.NewTransformer(cfg, tensor.Float32, 5)
	if err != nil {
		t.Fatal(err)
	}
	obj := objectives.Spec{Name: objectives.DPO, Beta: 0.1}
	gate := gating.DefaultSpec() // off
	const B = 4
	buckets := []int{16, 32, 32, 16, 32, 16}
	newOpt := func() *graph.Optimizer {
		o, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.OptimKind("adam"), LR: 1e-2})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	refC, refR := make([]float64, B), make([]float64, B)
	for i := range refC {
		refC[i], refR[i] = -20-float64(i), -25+float64(i)
	}

	// released: the sweep's step functions
	relLM, relOpt := base.Clone(), newOpt()
	relPref := map[int]*train.PrefStep{}
	relSFT := map[int]*train.SFTStep{}
	// kept: the same graphs, run without Release
	keepLM, keepOpt := base.Clone(), newOpt()
	keepPref := map[int]*loss.PrefGraph{}
	keepSFT := map[int]*loss.SeqGraph{}
	defer func() {
		for _, g := range relPref {
			g.Close()
		}
		for _, g := range relSFT {
			g.Close()
		}
		for _, g := range keepPref {
			g.Close()
		}
		for _, g := range keepSFT {
			g.Close()
		}
	}()
	for k, T := range buckets {
		pairs := memPairs(B, T-1, k)
		b := data.MakeBatch(pairs, 0, T)
		seqs := make([]data.Sequence, B)
		for i, p := range pairs {
			seqs[i] = data.Sequence{Prompt: p.Prompt, Response: p.Chosen}
		}
		sb := data.MakeSeqBatch(seqs, 0, T)

		// SFT step, both ways
		sg, ok := relSFT[T]
		if !ok {
			if sg, err = train.NewSFTStep(relLM, relOpt, B, 0, T); err != nil {
				t.Fatal(err)
			}
			relSFT[T] = sg
		}
		so, err := sg.Step(sb)
		if err != nil {
			t.Fatal(err)
		}
		if h := graph.HeldBytes(sg.Graph.Graph); h > heldByConstants {
			t.Errorf("step %d: the SFT graph for T=%d holds %d bytes after its step", k, T, h)
		}
		kg, ok := keepSFT[T]
		if !ok {
			if kg, err = loss.NewSeqGraph(keepLM, B, T, true); err != nil {
				t.Fatal(err)
			}
			keepSFT[T] = kg
		}
		if err := kg.SetBatch(sb.IDs, sb.Mask); err != nil {
			t.Fatal(err)
		}
		if err := kg.Run(); err != nil {
			t.Fatal(err)
		}
		kLoss := kg.LossValue()
		kInfo, err := keepOpt.Step(kg.Params())
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(so.Loss) != math.Float64bits(kLoss) || math.Float64bits(so.GradNorm) != math.Float64bits(kInfo.GradNorm) {
			t.Errorf("step %d SFT: released loss %v norm %v, kept %v %v", k, so.Loss, so.GradNorm, kLoss, kInfo.GradNorm)
		}
		if graph.HeldBytes(kg.Graph) <= heldByConstants {
			t.Errorf("step %d: a graph run without Release holds nothing: HeldBytes measures nothing", k)
		}

		// preference step, both ways
		pg, ok := relPref[T]
		if !ok {
			if pg, err = train.NewPrefStep(relLM, relOpt, obj, gate, B, 0, T); err != nil {
				t.Fatal(err)
			}
			relPref[T] = pg
		}
		po, err := pg.Step(b, refC, refR)
		if err != nil {
			t.Fatal(err)
		}
		if h := graph.HeldBytes(pg.Graph.Graph); h > heldByConstants {
			t.Errorf("step %d: the preference graph for T=%d holds %d bytes after its step", k, T, h)
		}
		kp, ok := keepPref[T]
		if !ok {
			if kp, err = loss.NewPrefGraph(keepLM, B, T, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true}); err != nil {
				t.Fatal(err)
			}
			keepPref[T] = kp
		}
		if err := kp.SetBatch(b, refC, refR); err != nil {
			t.Fatal(err)
		}
		if err := kp.Run(); err != nil {
			t.Fatal(err)
		}
		res, err := kp.Result()
		if err != nil {
			t.Fatal(err)
		}
		kInfo, err = keepOpt.Step(kp.Params())
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(po.Loss) != math.Float64bits(res.Loss) || math.Float64bits(po.GradNorm) != math.Float64bits(kInfo.GradNorm) {
			t.Errorf("step %d DPO: released loss %v norm %v, kept %v %v", k, po.Loss, po.GradNorm, res.Loss, kInfo.GradNorm)
		}
		if _, err := pg.Graph.Result(); err == nil {
			t.Errorf("step %d: Result after Release did not report the missing run", k)
		}
	}
	rw, kw := relLM.Weights(), keepLM.Weights()
	for i := range rw {
		a, b := rw[i].T.Data().([]float32), kw[i].T.Data().([]float32)
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
				t.Fatalf("weight %s[%d]: released %v, kept %v", rw[i].Name, j, a[j], b[j])
			}
		}
	}
}

// BenchmarkGraphMemory reports what one run of each kind of training
// bucket graph holds (graph.HeldBytes: every activation, gradient and op
// cache, each backing array once) for the transformer-xs shape (d_model
// 64, 2 layers) at the row shapes of the hh-probe cell (8 pairs, 16 SFT
// rows, T 192), at two vocabulary sizes. bytes/token is the footprint per
// row position; vbufs/token the number of [rows·T, V] float32 buffers,
// from the difference between the two vocabularies. The probe graph's
// (32 rows) is experiments/probe's BenchmarkGraphMemory:
//
//	go test ./experiments ./experiments/probe -run '^$' -bench GraphMemory -benchtime 1x
func BenchmarkGraphMemory(b *testing.B) {
	const T = 192
	held := map[string]map[int]float64{}
	for _, V := range []int{259, 2048} {
		cfg := models.TransformerConfig{VocabSize: V, DModel: 64, NHeads: 2, NLayers: 2, MaxSeqLen: T, LNEps: 1e-5}
		lm, err := models.NewTransformer(cfg, tensor.Float32, 1)
		if err != nil {
			b.Fatal(err)
		}
		kinds := []struct {
			name string
			rows int
			run  func() (int64, error)
		}{
			{"pref", 16, func() (int64, error) {
				pg, err := loss.NewPrefGraph(lm, 8, T, loss.PrefOptions{Objective: objectives.Spec{Name: objectives.DPO, Beta: 0.1}, Gate: gating.DefaultSpec(), Grad: true})
				if err != nil {
					return 0, err
				}
				defer pg.Close()
				pairs := memPairs(8, T-1, 0)
				for i := range pairs {
					for _, s := range [][]int{pairs[i].Prompt, pairs[i].Chosen, pairs[i].Rejected} {
						for j := range s {
							s[j] %= V
						}
					}
				}
				if err := pg.SetBatch(data.MakeBatch(pairs, 0, T), make([]float64, 8), make([]float64, 8)); err != nil {
					return 0, err
				}
				if err := pg.Run(); err != nil {
					return 0, err
				}
				return graph.HeldBytes(pg.Graph), nil
			}},
			{"sft", 16, func() (int64, error) {
				sg, err := loss.NewSeqGraph(lm, 16, T, true)
				if err != nil {
					return 0, err
				}
				defer sg.Close()
				if err := sg.Run(); err != nil {
					return 0, err
				}
				return graph.HeldBytes(sg.Graph), nil
			}},
		}
		for _, k := range kinds {
			b.Run(fmt.Sprintf("%s/V=%d", k.name, V), func(b *testing.B) {
				var h int64
				for i := 0; i < b.N; i++ {
					if h, err = k.run(); err != nil {
						b.Fatal(err)
					}
				}
				tokens := float64(k.rows * T)
				b.ReportMetric(float64(h)/1e6, "MB")
				b.ReportMetric(float64(h)/tokens, "bytes/token")
				if held[k.name] == nil {
					held[k.name] = map[int]float64{}
				}
				held[k.name][V] = float64(h)
				if h0, ok := held[k.name][259]; ok && V != 259 {
					b.ReportMetric((float64(h)-h0)/(tokens*4*float64(V-259)), "vbufs/token")
				}
			})
		}
	}
}

package models

import (
	"syscall"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// benchGPT is the issue-6 speed configuration: V 512, D 128, 4 heads,
// 2 layers, T 128 (16 sequences = 8 preference pairs), float32.
var benchGPT = TransformerConfig{VocabSize: 512, DModel: 128, NHeads: 4, NLayers: 2, MaxSeqLen: 128, LNEps: 1e-5}

const benchN, benchT = 16, 128

// cpuSeconds is the process's user+system CPU time so far. Benchmarks
// report it per step beside the wall time: on a shared machine the wall
// time depends on the load, the CPU time much less.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func benchIDs() [][]int {
	rng := graph.NewRNG(9)
	ids := make([][]int, benchN)
	for i := range ids {
		ids[i] = make([]int, benchT)
		for j := range ids[i] {
			ids[i][j] = 1 + rng.IntN(benchGPT.VocabSize-1)
		}
	}
	return ids
}

// BenchmarkTransformerTrainStep times one policy training step on the
// issue-6 configuration: forward over 16 sequences of 128 tokens, backward
// of L = Σ w⊙lp (a stand-in for the objective: same graph up to the
// sequence log-probs), and one graph.Optimizer Adam step. One graph and
// TapeMachine are reused across steps (Reset, RunAll).
func BenchmarkTransformerTrainStep(b *testing.B) {
	m, err := NewTransformer(benchGPT, tensor.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	g := G.NewGraph()
	f, err := m.Build(g, benchN, benchT)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.SetIDs(benchIDs()); err != nil {
		b.Fatal(err)
	}
	w := graph.NewTensor(tensor.Float32, benchN, benchT-1)
	graph.FillConst(w, -1.0/float64(benchN*(benchT-1)))
	wn := G.NewMatrix(g, tensor.Float32, G.WithShape(benchN, benchT-1), G.WithName("bench.w"), G.WithValue(w))
	loss, err := G.Sum(G.Must(G.HadamardProd(f.TokenLogps, wn)))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := G.Grad(loss, f.ParamNodes()...); err != nil {
		b.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(f.ParamNodes()...))
	defer vm.Close()
	opt, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: 1e-4})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		if _, err := opt.Step(f.Params); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(benchN*benchT)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkTransformerForward times one forward pass (logits, token
// log-probs and their max) over 16 sequences of 128 tokens, float32.
func BenchmarkTransformerForward(b *testing.B) {
	m, err := NewTransformer(benchGPT, tensor.Float32, 1)
	if err != nil {
		b.Fatal(err)
	}
	g := G.NewGraph()
	f, err := m.Build(g, benchN, benchT)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.SetIDs(benchIDs()); err != nil {
		b.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(benchN*benchT)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

package models_test

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/models"
)

// A training loop: build the graph once, take the gradient of a loss built
// from the per-token log-probs, and reuse one TapeMachine across steps
// (SetIDs, Reset, RunAll, optimizer step). A forward-only probe graph built
// from the same model sees every update, because both graphs are bound to
// the model's own tensors.
func Example() {
	cfg := models.TransformerConfig{VocabSize: 16, DModel: 8, NHeads: 2, NLayers: 1, MaxSeqLen: 8, LNEps: 1e-5}
	lm, err := models.NewTransformer(cfg, tensor.Float64, 1)
	if err != nil {
		panic(err)
	}
	ids := [][]int{{1, 2, 3, 4, 5}, {6, 7, 8, 0, 0}}
	mask := [][]float64{{1, 1, 1, 1}, {1, 1, 0, 0}} // which predictions count (positions 0..t−2)

	g := G.NewGraph()
	f, err := lm.Build(g, 2, 5)
	if err != nil {
		panic(err)
	}
	maskT := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking(append(append([]float64{}, mask[0]...), mask[1]...)))
	maskN := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 4), G.WithName("mask"), G.WithValue(maskT))
	seq := G.Must(graph.MaskedRowSum(f.TokenLogps, maskN)) // (2,) sequence log-probs
	loss := G.Must(G.Neg(G.Must(G.Sum(seq))))              // negative log-likelihood
	if _, err := G.Grad(loss, f.ParamNodes()...); err != nil {
		panic(err)
	}
	var lossV G.Value
	G.Read(loss, &lossV)
	vm := G.NewTapeMachine(g, G.BindDualValues(f.ParamNodes()...))
	defer vm.Close()
	opt, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: 0.05})
	if err != nil {
		panic(err)
	}
	var first, last float64
	for step := 0; step < 20; step++ {
		if err := f.SetIDs(ids); err != nil {
			panic(err)
		}
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			panic(err)
		}
		if step == 0 {
			first = lossV.Data().(float64)
		}
		last = lossV.Data().(float64)
		if _, err := opt.Step(f.Params); err != nil {
			panic(err)
		}
	}
	fmt.Println("loss decreased:", last < first)
	// Output: loss decreased: true
}

package hf

import (
	"fmt"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// benchConfigs are the four families at the size of the transformer
// benchmark (V 512, hidden 128, 4 heads, 2 layers, 128 positions).
var benchConfigs = map[string]string{
	"gpt2": `{"model_type":"gpt2","n_embd":128,"n_head":4,"n_layer":2,"vocab_size":512,"n_positions":128}`,
	"gpt_neox": `{"model_type":"gpt_neox","hidden_size":128,"num_attention_heads":4,"num_hidden_layers":2,"vocab_size":512,
		"intermediate_size":512,"max_position_embeddings":128}`,
	"llama": `{"model_type":"llama","hidden_size":128,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,
		"vocab_size":512,"intermediate_size":352,"max_position_embeddings":128}`,
	"qwen2": `{"model_type":"qwen2","hidden_size":128,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,
		"vocab_size":512,"intermediate_size":352,"max_position_embeddings":128,"tie_word_embeddings":true}`,
}

// BenchmarkHFTrainStep times one training step per family in float32:
// forward over 16 sequences of 128 tokens, backward of L = Σ w⊙lp, one
// Adam step; one graph and machine reused across steps.
func BenchmarkHFTrainStep(b *testing.B) {
	const n, tt = 16, 128
	for _, name := range sortedKeys(benchConfigs) {
		b.Run(name, func(b *testing.B) {
			m := randomModel(b, benchConfigs[name], tensor.Float32, 1)
			g := G.NewGraph()
			f, err := m.Build(g, n, tt)
			if err != nil {
				b.Fatal(err)
			}
			rng := graph.NewRNG(9)
			ids := make([][]int, n)
			for i := range ids {
				ids[i] = make([]int, tt)
				for j := range ids[i] {
					ids[i][j] = 1 + rng.IntN(511)
				}
			}
			if err := f.SetIDs(ids); err != nil {
				b.Fatal(err)
			}
			w := graph.NewTensor(tensor.Float32, n, tt-1)
			graph.FillConst(w, -1.0/float64(n*(tt-1)))
			wn := G.NewMatrix(g, tensor.Float32, G.WithShape(n, tt-1), G.WithName("bench.w"), G.WithValue(w))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(f.TokenLogps, wn))))
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
			for i := 0; i < b.N; i++ {
				vm.Reset()
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				if _, err := opt.Step(f.Params); err != nil {
					b.Fatal(fmt.Errorf("step %d: %v", i, err))
				}
			}
		})
	}
}

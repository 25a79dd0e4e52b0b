package models

import (
	"sync"
	"testing"

	"gatedpo/graph"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestConcurrentGraphs runs forward+backward of four graphs in four
// goroutines at once, each over its own Clone of one model, and checks all
// give the sequential result bit for bit (the fused ops keep their caches
// per op instance; run with -race to check for data races too). Machines
// over the SAME model's tensors must not be created concurrently:
// G.NewTapeMachine writes the engine field of every bound tensor.
func TestConcurrentGraphs(t *testing.T) {
	m, err := NewTransformer(smallGPT, tensor.Float32, 21)
	if err != nil {
		t.Fatal(err)
	}
	ids := [][]int{{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 0, 0}}
	w := [][]float64{{1, -1, 0.5, 0, 2}, {0.25, 1, 1, -3, 0}}
	want := gradOfWeightedLP(t, m, ids, w)
	var wg sync.WaitGroup
	results := make([]map[string][]float64, 4)
	clones := []LM{m.Clone(), m.Clone(), m.Clone(), m.Clone()}
	errs := make([]error, 4)
	for k := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k], errs[k] = gradNoFatal(clones[k], ids, w)
		}()
	}
	wg.Wait()
	for k, r := range results {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		for name, g := range want {
			for i := range g {
				if r[name][i] != g[i] {
					t.Fatalf("goroutine %d: %s[%d] = %v, sequential %v", k, name, i, r[name][i], g[i])
				}
			}
		}
	}
}

// gradNoFatal is gradOfWeightedLP returning errors (t.Fatal is not allowed
// off the test goroutine).
func gradNoFatal(lm LM, ids [][]int, w [][]float64) (map[string][]float64, error) {
	g := G.NewGraph()
	n, tt := len(ids), len(ids[0])
	f, err := lm.Build(g, n, tt)
	if err != nil {
		return nil, err
	}
	if err := f.SetIDs(ids); err != nil {
		return nil, err
	}
	wt := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(n, tt-1))
	for i := range w {
		for p, v := range w[i] {
			wt.Data().([]float32)[i*(tt-1)+p] = float32(v)
		}
	}
	wn := G.NewMatrix(g, tensor.Float32, G.WithShape(n, tt-1), G.WithName("w"), G.WithValue(wt))
	prod, err := G.HadamardProd(f.TokenLogps, wn)
	if err != nil {
		return nil, err
	}
	loss, err := G.Sum(prod)
	if err != nil {
		return nil, err
	}
	if _, err := G.Grad(loss, f.ParamNodes()...); err != nil {
		return nil, err
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(f.ParamNodes()...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	out := map[string][]float64{}
	for _, p := range f.Params {
		gv, err := p.Node.Grad()
		if err != nil {
			return nil, err
		}
		out[p.Name] = graph.Float64s(gv)
	}
	return out, nil
}

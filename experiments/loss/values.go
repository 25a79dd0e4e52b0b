package loss

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// graphInput adds a zero-filled input node of the given shape and returns
// it with its storage (written in place by setInputData).
func graphInput(g *G.ExprGraph, name string, dt tensor.Dtype, shape ...int) (*G.Node, *tensor.Dense) {
	v := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	if len(shape) == 1 {
		return G.NewVector(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
	}
	return G.NewMatrix(g, dt, G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v
}

// setInputData copies vals into t's storage (float32 or float64).
func setInputData(t *tensor.Dense, vals []float64) {
	switch d := t.Data().(type) {
	case []float64:
		copy(d, vals)
	case []float32:
		for i, v := range vals {
			d[i] = float32(v)
		}
	}
}

func checkRows(what string, ids, mask [][]int, n, t int) error {
	if len(ids) != n || len(mask) != n {
		return fmt.Errorf("%s: %d id rows and %d mask rows, the graph was built for %d", what, len(ids), len(mask), n)
	}
	for i := range ids {
		if len(ids[i]) != t || len(mask[i]) != t {
			return fmt.Errorf("%s row %d: %d ids and %d mask values, the graph was built for T = %d", what, i, len(ids[i]), len(mask[i]), t)
		}
	}
	return nil
}

func paramGrads(ps []graph.Param) (map[string][]float64, error) {
	out := make(map[string][]float64, len(ps))
	for _, p := range ps {
		gv, err := p.Node.Grad()
		if err != nil {
			return nil, fmt.Errorf("parameter %s has no gradient (build with Grad): %w", p.Name, err)
		}
		out[p.Name] = graph.Float64s(gv)
	}
	return out, nil
}

func gradNorms(ps []graph.Param) (map[string]float64, float64, error) {
	grads, err := paramGrads(ps)
	if err != nil {
		return nil, 0, err
	}
	norms := make(map[string]float64, len(grads))
	total := 0.0
	for _, p := range ps {
		s := 0.0
		for _, x := range grads[p.Name] {
			s += x * x
		}
		norms[p.Name] = math.Sqrt(s)
		total += s
	}
	return norms, math.Sqrt(total), nil
}

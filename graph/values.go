package graph

import G "gorgonia.org/gorgonia"

// Float64s returns a copy of a graph value's data as float64: a scalar as
// one value, a float32 or float64 tensor flattened in row-major order. It
// returns nil for a nil value or any other data type.
func Float64s(v G.Value) []float64 {
	if v == nil {
		return nil
	}
	switch x := v.Data().(type) {
	case float64:
		return []float64{x}
	case float32:
		return []float64{float64(x)}
	case []float64:
		return append([]float64(nil), x...)
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return out
	}
	return nil
}

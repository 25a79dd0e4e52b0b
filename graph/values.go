package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

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

// SetFloat64s copies vals into a float32 or float64 tensor value's data
// (rounding to float32 where it holds float32), the inverse of Float64s.
// vals must have the tensor's length; any other value is an error.
func SetFloat64s(v G.Value, vals []float64) error {
	if v == nil {
		return fmt.Errorf("SetFloat64s: no value")
	}
	switch d := v.Data().(type) {
	case []float64:
		if len(d) != len(vals) {
			return fmt.Errorf("SetFloat64s: %d values for a tensor of %d", len(vals), len(d))
		}
		copy(d, vals)
	case []float32:
		if len(d) != len(vals) {
			return fmt.Errorf("SetFloat64s: %d values for a tensor of %d", len(vals), len(d))
		}
		for i, x := range vals {
			d[i] = float32(x)
		}
	default:
		return fmt.Errorf("SetFloat64s: unsupported data %T", v.Data())
	}
	return nil
}

package graph

import (
	"reflect"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFloat64s: scalars and tensors of both float dtypes become a fresh
// []float64; nil and other dtypes give nil.
func TestFloat64s(t *testing.T) {
	d64 := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4}))
	d32 := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{0.5, -1, 2}))
	for _, c := range []struct {
		v    G.Value
		want []float64
	}{
		{d64, []float64{1, 2, 3, 4}},
		{d32, []float64{0.5, -1, 2}},
		{G.NewF64(2.5), []float64{2.5}},
		{G.NewF32(-0.25), []float64{-0.25}},
		{nil, nil},
		{tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2})), nil},
	} {
		if got := Float64s(c.v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Float64s(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	got := Float64s(d64)
	got[0] = 99
	if d64.Data().([]float64)[0] != 1 {
		t.Error("Float64s returned the value's own storage, not a copy")
	}
}

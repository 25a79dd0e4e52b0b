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

// TestSetFloat64s: values land in float64 and float32 tensors (rounded to
// float32 there) and read back through Float64s; a wrong length or a
// non-float tensor is an error that leaves the data as it was.
func TestSetFloat64s(t *testing.T) {
	vals := []float64{1.5, -2, 0.1}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		v := tensor.New(tensor.WithShape(3), tensor.Of(dt))
		if err := SetFloat64s(v, vals); err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		got := Float64s(v)
		for i, x := range vals {
			want := x
			if dt == tensor.Float32 {
				want = float64(float32(x))
			}
			if got[i] != want {
				t.Errorf("%v: element %d = %v, want %v", dt, i, got[i], want)
			}
		}
		if err := SetFloat64s(v, vals[:2]); err == nil {
			t.Errorf("%v: 2 values for 3 elements accepted", dt)
		}
	}
	if err := SetFloat64s(tensor.New(tensor.WithShape(2), tensor.Of(tensor.Int)), []float64{1, 2}); err == nil {
		t.Error("an int tensor was accepted")
	}
	if err := SetFloat64s(nil, nil); err == nil {
		t.Error("a nil value was accepted")
	}
}

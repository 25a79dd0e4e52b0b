package graph

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBLASBuild checks that the BLAS this build claims is the one
// installed: in the openblas build Gorgonia, tensor and gonum's blas32
// must all use netlib's cgo implementation.
func TestBLASBuild(t *testing.T) {
	name := BLASName()
	gorgoniaBLAS := G.WhichBLAS()
	impl := blas32.Implementation()
	t.Logf("BLASName %q, gorgonia %T, blas32 %T, threads %d", name, gorgoniaBLAS, impl, BLASThreads())
	isNetlib := func(b interface{}) bool { return fmt.Sprintf("%T", b) == "netlib.Implementation" }
	switch name {
	case "openblas":
		if !isNetlib(gorgoniaBLAS) || !isNetlib(impl) {
			t.Errorf("openblas build but gorgonia uses %T and blas32 uses %T", gorgoniaBLAS, impl)
		}
		if BLASThreads() < 1 {
			t.Errorf("BLASThreads() = %d, want ≥ 1", BLASThreads())
		}
	case "gonum (pure Go)":
		if isNetlib(gorgoniaBLAS) || isNetlib(impl) {
			t.Errorf("pure-Go build uses netlib")
		}
	default:
		t.Errorf("BLASName %q", name)
	}
	// A product through Gorgonia's tensor package gives the right numbers.
	a := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	b := tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{1, 0, 0, 1, 1, 1}))
	c, err := tensor.MatMul(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4, 5, 10, 11}
	for i, x := range c.Data().([]float32) {
		if x != want[i] {
			t.Fatalf("MatMul = %v, want %v", c.Data(), want)
		}
	}
}

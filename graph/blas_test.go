package graph

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph/blasgemm"
)

// TestBLASBuild checks that the BLAS this build claims is the one
// installed: in the openblas build Gorgonia, tensor and gonum's blas32
// must all use OpenBLAS (graph.openBLAS, netlib's cgo binding split into
// bands); in the default build blasgemm.
func TestBLASBuild(t *testing.T) {
	name := BLASName()
	gorgoniaBLAS := G.WhichBLAS()
	impl := blas32.Implementation()
	t.Logf("BLASName %q, core %q, gorgonia %T, blas32 %T, threads %d", name, BLASCore(), gorgoniaBLAS, impl, BLASThreads())
	if BLASCore() == "" {
		t.Errorf("BLASCore() is empty")
	}
	isNetlib := func(b interface{}) bool { return fmt.Sprintf("%T", b) == "graph.openBLAS" }
	switch name {
	case "openblas":
		if !isNetlib(gorgoniaBLAS) || !isNetlib(impl) {
			t.Errorf("openblas build but gorgonia uses %T and blas32 uses %T", gorgoniaBLAS, impl)
		}
		if BLASThreads() < 1 {
			t.Errorf("BLASThreads() = %d, want ≥ 1", BLASThreads())
		}
	case "gonum (pure Go)", "gonum (pure Go) + AVX2 gemm":
		if fmt.Sprintf("%T", gorgoniaBLAS) != "blasgemm.Implementation" || fmt.Sprintf("%T", impl) != "blasgemm.Implementation" {
			t.Errorf("pure-Go build but gorgonia uses %T and blas32 uses %T, want blasgemm.Implementation", gorgoniaBLAS, impl)
		}
		if (name == "gonum (pure Go)") == blasgemm.Available() {
			t.Errorf("BLASName %q but blasgemm.Available() = %v", name, blasgemm.Available())
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

// sgemmBenchOperands returns operands for C = op(A)·op(B) with op(A)
// m × k and op(B) k × n, row-major with tight leading dimensions (lda,
// ldb; C's is n). A and B hold small repeating non-zero patterns (gonum
// skips zero elements, so the values are dense); C is zero.
func sgemmBenchOperands(tA, tB blas.Transpose, m, n, k int) (a, b, c []float32, lda, ldb int) {
	a, b, c = make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	for i := range b {
		b[i] = float32(i%5) - 2
	}
	lda, ldb = k, n
	if tA == blas.Trans {
		lda = m
	}
	if tB == blas.Trans {
		ldb = k
	}
	return a, b, c, lda, ldb
}

// BenchmarkInstalledSgemm times the Sgemm this build installs (OpenBLAS
// with -tags openblas, blasgemm otherwise) against blasgemm on the D128
// model's Linear shapes, so the two builds can be compared.
func BenchmarkInstalledSgemm(b *testing.B) {
	for _, bc := range []struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
	}{
		{"fwd_2048x512x128", blas.NoTrans, blas.Trans, 2048, 512, 128},
		{"wgrad_512x128x2048", blas.Trans, blas.NoTrans, 512, 128, 2048},
		{"attn_128x128x32", blas.NoTrans, blas.Trans, 128, 128, 32},
	} {
		a, bb, c, lda, ldb := sgemmBenchOperands(bc.tA, bc.tB, bc.m, bc.n, bc.k)
		for _, impl := range []struct {
			name string
			blas.Float32
		}{{BLASName(), blas32.Implementation()}, {"blasgemm", blasgemm.Implementation{}}} {
			b.Run(bc.name+"/"+impl.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					impl.Sgemm(bc.tA, bc.tB, bc.m, bc.n, bc.k, 1, a, lda, bb, ldb, 0, c, bc.n)
				}
				b.ReportMetric(2*float64(bc.m*bc.n*bc.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestInstalledGemmBandsMatch checks the installed Sgemm/Dgemm on products
// large enough to be split over goroutines, all transposes, against the
// same product with GOMAXPROCS 1 (no split): identical bits, so results do
// not depend on the number of cores (both builds).
func TestInstalledGemmBandsMatch(t *testing.T) {
	for _, tr := range [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.NoTrans, blas.Trans}, {blas.Trans, blas.NoTrans}, {blas.Trans, blas.Trans}} {
		for _, dims := range [][3]int{{300, 200, 100}, {90, 400, 120}} {
			m, n, k := dims[0], dims[1], dims[2]
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32((i*7919)%201)/100 - 1
			}
			for i := range b {
				b[i] = float32((i*104729)%199)/100 - 1
			}
			lda, ldb := k, n
			if tr[0] == blas.Trans {
				lda = m
			}
			if tr[1] == blas.Trans {
				ldb = k
			}
			run := func(procs int) []float32 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				c := make([]float32, m*n)
				blas32.Implementation().Sgemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, 0, c, n)
				return c
			}
			c1, c2 := run(1), run(2)
			for i := range c1 {
				if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
					t.Fatalf("%s %v %v: element %d: %v with 1 proc, %v with 2", BLASName(), tr, dims, i, c1[i], c2[i])
				}
			}
		}
	}
}

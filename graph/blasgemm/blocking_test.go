package blasgemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestBlockingSubProducts checks what Blocking promises: a product C =
// alpha·A·B + beta·C split into sub-products — row blocks starting at
// multiples of rows, the inner range cut at multiples of inner (later
// parts added with beta 1), and leading inner terms that are zero in A
// dropped within an inner block — gives every element of C the same bits
// (float32, alpha ≠ 1 and beta 1 so that the kind of tile matters).
func TestBlockingSubProducts(t *testing.T) {
	if !gemmKernelOK {
		t.Skip("no AVX2+FMA: the GEMM is plain gonum")
	}
	rows, inner := Blocking()
	m, n, k := 5*rows+3, 37, 2*inner+41
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]float32, m*k) // A[i, p] = 0 for p < z(i): leading zeros per row block
	b := make([]float32, k*n)
	c0 := make([]float32, m*n)
	blk := 2 * rows
	z := func(i int) int { return (i / blk) * (inner/2 + 7) } // first live inner index of row i's block
	for i := 0; i < m; i++ {
		for p := z(i); p < k; p++ {
			a[i*k+p] = float32(rng.NormFloat64())
		}
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	for i := range c0 {
		c0[i] = float32(rng.NormFloat64())
	}
	const alpha = 0.37
	impl := Implementation{}
	full := append([]float32(nil), c0...)
	impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, alpha, a, k, b, n, 1, full, n)
	split := append([]float32(nil), c0...)
	for i0 := 0; i0 < m; i0 += blk {
		i1 := min(m, i0+blk)
		for p0 := z(i0); p0 < k; {
			p1 := min(k, (p0/inner+1)*inner)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, i1-i0, n, p1-p0, alpha, a[i0*k+p0:], k, b[p0*n:], n, 1, split[i0*n:], n)
			p0 = p1
		}
	}
	for i := range full {
		if math.Float32bits(full[i]) != math.Float32bits(split[i]) {
			t.Fatalf("element (%d, %d): split %v, full product %v (Blocking() = %d, %d)", i/n, i%n, split[i], full[i], rows, inner)
		}
	}
}

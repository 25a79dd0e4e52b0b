package blasgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gemmNaive is the definition: C = alpha·op(A)·op(B) + beta·C in float64,
// also returning the error scale Σ_p |op(A)[i,p]·op(B)[p,j]| per element.
func gemmNaive(aT, bT bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) (out, scale []float64) {
	out = append([]float64(nil), c...)
	scale = make([]float64, len(c))
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var x, y float64
				if aT {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if bT {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += x * y
				sa += math.Abs(x * y)
			}
			out[i*ldc+j] = alpha * s
			scale[i*ldc+j] = math.Abs(alpha) * sa
			if beta != 0 {
				out[i*ldc+j] += beta * c[i*ldc+j]
				scale[i*ldc+j] += math.Abs(beta * c[i*ldc+j])
			}
		}
	}
	return out, scale
}

// TestGemmMatchesDefinition checks Implementation.Sgemm/Dgemm against the
// definition on shapes that hit every edge (partial micro-tiles, several
// KC/MC/NC blocks, the parallel split), all transposes, padded leading
// dimensions, and alpha/beta including beta = 0 over NaN-filled C.
//
// Tolerance: |Δ| ≤ 4·k·ε·Σ|a·b| (+ the beta term), the standard
// forward-error bound of a length-k dot product with ε the unit roundoff
// of the dtype; FMA and blocking change the rounding order only.
func TestGemmMatchesDefinition(t *testing.T) {
	if !gemmKernelOK {
		t.Skip("no AVX2+FMA: goBLAS is plain gonum")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dims := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 9, 300}, {13, 40, 257}, {100, 8, 64}, {97, 385, 20}, {300, 130, 70}, {260, 600, 64}}
	for _, d := range dims {
		m, n, k := d[0], d[1], d[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float64{{1, 0}, {-0.5, 1}, {2, 0.25}} {
				aT, bT := tr[0], tr[1]
				rowsA, colsA := m, k
				if aT {
					rowsA, colsA = k, m
				}
				rowsB, colsB := k, n
				if bT {
					rowsB, colsB = n, k
				}
				lda, ldb, ldc := colsA+3, colsB+1, n+2
				a := make([]float64, rowsA*lda)
				b := make([]float64, rowsB*ldb)
				c := make([]float64, m*ldc)
				for i := range a {
					a[i] = rng.NormFloat64()
				}
				for i := range b {
					b[i] = rng.NormFloat64()
				}
				for i := range c {
					c[i] = rng.NormFloat64()
					if ab[1] == 0 {
						c[i] = math.NaN()
					}
				}
				want, scale := gemmNaive(aT, bT, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
				tA, tB := blas.NoTrans, blas.NoTrans
				if aT {
					tA = blas.Trans
				}
				if bT {
					tB = blas.Trans
				}

				c64 := append([]float64(nil), c...)
				Implementation{}.Dgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c64, ldc)
				gemmCompare(t, "Dgemm", d, tr, ab, c64, want, scale, ldc, n, 4*float64(k+1)*0x1p-53, c)

				a32, b32, c32 := f32s(a), f32s(b), f32s(c)
				// The float32 reference must start from the rounded inputs.
				want32, scale32 := gemmNaive(aT, bT, m, n, k, ab[0], f64s(a32), lda, f64s(b32), ldb, ab[1], f64s(c32), ldc)
				Implementation{}.Sgemm(tA, tB, m, n, k, float32(ab[0]), a32, lda, b32, ldb, float32(ab[1]), c32, ldc)
				gemmCompare(t, "Sgemm", d, tr, ab, f64s(c32), want32, scale32, ldc, n, 4*float64(k+1)*0x1p-24, f64s(f32s(c)))
			}
		}
	}
}

func gemmCompare(t *testing.T, name string, d [3]int, tr [2]bool, ab [2]float64, got, want, scale []float64, ldc, n int, relTol float64, orig []float64) {
	t.Helper()
	for i := range got {
		if i%ldc >= n { // padding columns must be untouched
			if !(got[i] == orig[i] || (math.IsNaN(got[i]) && math.IsNaN(orig[i]))) {
				t.Fatalf("%s %v trans %v: wrote padding element %d", name, d, tr, i)
			}
			continue
		}
		if tol := relTol*scale[i] + 1e-300; !(math.Abs(got[i]-want[i]) <= tol) {
			t.Fatalf("%s %v trans %v alpha,beta %v: C[%d] = %v, want %v (tol %.3g)", name, d, tr, ab, i, got[i], want[i], tol)
		}
	}
}

func f32s(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func f64s(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// TestGemmDeterministicAcrossProcs checks that the parallel split does
// not change a single bit: each output element is computed by one
// goroutine in a fixed order.
func TestGemmDeterministicAcrossProcs(t *testing.T) {
	if !gemmKernelOK {
		t.Skip("no AVX2+FMA")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	m, n, k := 300, 260, 300
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		c := make([]float32, m*n)
		Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, b, k, 0, c, n)
		return c
	}
	c1, c4 := run(1), run(4)
	for i := range c1 {
		if math.Float32bits(c1[i]) != math.Float32bits(c4[i]) {
			t.Fatalf("GOMAXPROCS 1 and 4 differ at %d: %v vs %v", i, c1[i], c4[i])
		}
	}
}

// benchOperands returns operands for C = op(A)·op(B) with op(A) m × k and
// op(B) k × n, row-major with tight leading dimensions (lda, ldb; C's is
// n). A and B hold small repeating non-zero patterns (gonum skips zero
// elements, so the values are dense); C is zero.
func benchOperands(tA, tB blas.Transpose, m, n, k int) (a, b, c []float32, lda, ldb int) {
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

// BenchmarkSgemm compares the GEMM with gonum's on the shapes of the D128
// benchmark model: a Linear forward (2048×128 · (512×128)ᵀ) and its
// weight gradient ((2048×512)ᵀ · 2048×128).
func BenchmarkSgemm(b *testing.B) {
	for _, bc := range []struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
	}{
		{"fwd_2048x512x128", blas.NoTrans, blas.Trans, 2048, 512, 128},
		{"wgrad_512x128x2048", blas.Trans, blas.NoTrans, 512, 128, 2048},
		{"attn_128x128x32", blas.NoTrans, blas.Trans, 128, 128, 32},
	} {
		a, bb, c, lda, ldb := benchOperands(bc.tA, bc.tB, bc.m, bc.n, bc.k)
		for name, impl := range map[string]interface {
			Sgemm(blas.Transpose, blas.Transpose, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)
		}{"gatedpo": Implementation{}, "gonum": gonum.Implementation{}} {
			b.Run(bc.name+"/"+name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					impl.Sgemm(bc.tA, bc.tB, bc.m, bc.n, bc.k, 1, a, lda, bb, ldb, 0, c, bc.n)
				}
				b.ReportMetric(2*float64(bc.m*bc.n*bc.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestPackExact checks gemmPackB (B transposed or not) and gemmPackA (A
// transposed or not) against the packed layouts written out element by
// element: every value bit for bit, padding zero, on blocks whose inner
// size is and is not a multiple of 8, whose offsets are not zero and whose
// last panel is partial. Full float32 panels go through the assembly
// copies where the build has them. Both tilings: 6-row A and 16-column B
// panels, 12-row A and 32-column B panels.
func TestPackExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tile := range [][2]int{{gemmMR, 16}, {12, 32}} {
		packExact(t, rng, tile[0], tile[1])
	}
}

// packExact is TestPackExact for mr-row A panels and nr-column B panels.
func packExact(t *testing.T, rng *rand.Rand, mr, nr int) {
	for _, d := range [][4]int{{40, 37, 0, 0}, {200, 250, 16, 256}, {35, 21, 3, 5}, {16, 8, 0, 0}, {33, 7, 0, 0}, {96, 9, 6, 1}, {70, 30, 32, 8}} {
		n, k, jc, pc := d[0], d[1], d[2], d[3]
		kTot := k + pc
		for _, tr := range []bool{false, true} {
			rows, cols := kTot, jc+n // stored op(B) or, transposed, its transpose
			if tr {
				rows, cols = cols, rows
			}
			ld := cols + 5
			x := make([]float32, rows*ld)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			at := func(r, c int) float32 { // op(X)[r, c] with op(X) kTot × (jc+n) for B, (jc+n) × kTot for A
				if tr {
					return x[c*ld+r]
				}
				return x[r*ld+c]
			}
			for _, kc := range []int{k, min(k, 8), max(1, k-1)} {
				// B: op(B) is kTot × (jc+n); pack rows pc…, columns jc….
				g := gemmArgs[float32]{bT: tr, n: jc + n, k: kTot, b: x, ldb: ld}
				buf := make([]float32, kc*((n+nr-1)/nr)*nr)
				for i := range buf {
					buf[i] = float32(math.NaN())
				}
				gemmPackB(g, jc, n, pc, kc, nr, buf)
				for panel := 0; panel*nr < n; panel++ {
					for p := 0; p < kc; p++ {
						for c := 0; c < nr; c++ {
							var want float32
							if j := panel*nr + c; j < n {
								want = at(pc+p, jc+j)
							}
							if got := buf[panel*nr*kc+p*nr+c]; math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("mr %d nr %d: packB trans %v n %d k %d jc %d pc %d kc %d: panel %d p %d c %d = %v, want %v", mr, nr, tr, n, k, jc, pc, kc, panel, p, c, got, want)
							}
						}
					}
				}
				// A: op(A) = op(X)ᵀ is (jc+n) × kTot; pack rows jc…jc+mc, columns pc….
				mc := min(n, gemmMC)
				ga := gemmArgs[float32]{aT: !tr, m: jc + n, k: kTot, a: x, lda: ld}
				abuf := make([]float32, gemmMC*gemmKC)
				for i := range abuf {
					abuf[i] = float32(math.NaN())
				}
				gemmPackA(ga, jc, mc, pc, kc, mr, abuf)
				for panel := 0; panel*mr < mc; panel++ {
					if panel*mr+mr <= mc && tr { // full panel of an untransposed A: read in place, not packed
						continue
					}
					for p := 0; p < kc; p++ {
						for r := 0; r < mr; r++ {
							var want float32
							if i := panel*mr + r; i < mc {
								want = at(pc+p, jc+i)
							}
							if got := abuf[panel*mr*kc+p*mr+r]; math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("mr %d nr %d: packA trans %v m %d k %d ic %d pc %d kc %d: panel %d p %d r %d = %v, want %v", mr, nr, !tr, mc, k, jc, pc, kc, panel, p, r, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmTransposesSameBits checks that a product gives the same bits
// whichever of A and B is stored transposed: the operands are packed (or
// read in place) with their values moved, never rounded, and every
// element is summed by the same kernel in the same order.
func TestGemmTransposesSameBits(t *testing.T) {
	if !gemmKernelOK {
		t.Skip("no AVX2+FMA")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range [][3]int{{100, 260, 300}, {64, 48, 8}, {30, 40, 13}, {300, 96, 520}} {
		m, n, k := d[0], d[1], d[2]
		a, at := make([]float32, m*k), make([]float32, k*m)
		b, bt := make([]float32, k*n), make([]float32, n*k)
		for i := 0; i < m; i++ {
			for p := 0; p < k; p++ {
				a[i*k+p] = float32(rng.NormFloat64())
				at[p*m+i] = a[i*k+p]
			}
		}
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				bt[j*k+p] = float32(rng.NormFloat64())
				b[p*n+j] = bt[j*k+p]
			}
		}
		for _, beta := range []float32{0, 0.5} {
			var ref []float32
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				tA, tB, aa, bb, lda, ldb := blas.NoTrans, blas.NoTrans, a, b, k, n
				if tr[0] {
					tA, aa, lda = blas.Trans, at, m
				}
				if tr[1] {
					tB, bb, ldb = blas.Trans, bt, k
				}
				c := make([]float32, m*n)
				for i := range c {
					c[i] = float32(i%13) - 6
				}
				Implementation{}.Sgemm(tA, tB, m, n, k, 1.25, aa, lda, bb, ldb, beta, c, n)
				if ref == nil {
					ref = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%v beta %v transposes %v: element %d: %v, %v with neither transposed", d, beta, tr, i, c[i], ref[i])
					}
				}
			}
		}
	}
}

// BenchmarkSgemmPythia measures the GEMM on the products of one
// Pythia-160M micro-batch (M = 512 rows, D = 768, MLP 3072, QKV 2304,
// vocabulary 50,304): Linear forwards x·Wᵀ (fwd, B transposed and
// packed), input gradients dY·W (dx) and weight gradients dYᵀ·X (dw).
// The vocabulary-sized products take about a second each: run with
// -benchtime 1x.
func BenchmarkSgemmPythia(b *testing.B) {
	const rows = 512
	type shape struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
	}
	var shapes []shape
	for _, l := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50304}} {
		in, out := l[0], l[1]
		shapes = append(shapes,
			shape{fmt.Sprintf("fwd_%dx%dx%d", rows, out, in), blas.NoTrans, blas.Trans, rows, out, in},
			shape{fmt.Sprintf("dx_%dx%dx%d", rows, in, out), blas.NoTrans, blas.NoTrans, rows, in, out},
			shape{fmt.Sprintf("dw_%dx%dx%d", out, in, rows), blas.Trans, blas.NoTrans, out, in, rows})
	}
	for _, bc := range shapes {
		b.Run(bc.name, func(b *testing.B) {
			a, bb, c, lda, ldb := benchOperands(bc.tA, bc.tB, bc.m, bc.n, bc.k)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Implementation{}.Sgemm(bc.tA, bc.tB, bc.m, bc.n, bc.k, 1, a, lda, bb, ldb, 0, c, bc.n)
			}
			b.ReportMetric(2*float64(bc.m*bc.n*bc.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// namedTiling is a float32 kernel with its name, for tests that run every
// kernel the CPU supports.
type namedTiling struct {
	name string
	t    gemmTiling[float32]
}

// sgemmTilings are the float32 kernels this CPU can run: the AVX2 6 × 16
// one and, with AVX-512, the 12 × 32 one.
func sgemmTilings() []namedTiling {
	ts := []namedTiling{{"avx2-6x16", sgemmTiling6x16}}
	if gemmAVX512OK {
		ts = append(ts, namedTiling{"avx512-12x32", sgemmTiling12x32})
	}
	return ts
}

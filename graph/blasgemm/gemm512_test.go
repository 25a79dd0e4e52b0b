package blasgemm

import (
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// fma32 is the float32 fused multiply-add x·y + z rounded once to float32
// (VFMADD231PS of one lane). The product is exact in float64; the sum is
// taken exactly as hi + lo (two-sum) and rounded to odd in float64, which
// float32 conversion then rounds correctly (53 ≥ 24 + 2 bits).
func fma32(x, y, z float32) float32 {
	p, c := float64(x)*float64(y), float64(z)
	hi := p + c
	bp := hi - c
	lo := (p - bp) + (c - (hi - bp))
	if lo != 0 && math.Float64bits(hi)&1 == 0 {
		hi = math.Nextafter(hi, math.Inf(int(math.Copysign(1, lo))))
	}
	return float32(hi)
}

// TestFma32 checks fma32 against x·y + z computed exactly with big.Float
// and rounded to nearest-even float32, on random operands and on sums
// that lie just off a float32 rounding midpoint (where rounding to
// float64 first and then to float32 would be wrong).
func TestFma32(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	exact := func(x, y, z float32) float32 {
		var p, s big.Float
		p.SetPrec(200).Mul(new(big.Float).SetFloat64(float64(x)), new(big.Float).SetFloat64(float64(y)))
		s.SetPrec(200).Add(&p, new(big.Float).SetFloat64(float64(z)))
		f, _ := s.Float32()
		return f
	}
	check := func(x, y, z float32) {
		if got, want := fma32(x, y, z), exact(x, y, z); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", x, y, z, got, want)
		}
	}
	for i := 0; i < 20000; i++ {
		check(float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	// z = 1 + 2⁻²⁴ is halfway between two float32s; a tiny product pushes
	// it off the midpoint, by less than a float64 ulp of z.
	mid := float32(1)
	half := math.Float32frombits(math.Float32bits(mid) + 1)
	for _, x := range []float32{0x1p-40, -0x1p-40, 0x1.8p-60, -0x1.8p-60} {
		check(x, 1, mid+(half-mid)/2) // rounds to float32 at once: z is 1 or next
		check(x, 0x1p-24, 1+0x1p-24)
		check(1+0x1p-23, 1+0x1p-23, x) // (1+2⁻²³)² = 1 + 2⁻²² + 2⁻⁴⁶
	}
	check(1+0x1p-12, 1-0x1p-12, -1) // cancellation: −2⁻²⁴ exactly
}

// sgemmExactRef is the float32 GEMM of gemmSerial written out element by
// element: C is scaled by beta first (cleared when beta = 0 and C is not
// overwritten); then for each k-block of gemmKC the products are summed
// by FMA in order from zero and the sum s is stored as alpha·s (first
// block, beta = 0), added by one FMA alpha·s + C where the element lies
// in a whole 6 × 16 tile of C, or else rounded as alpha·s and added (the
// scratch-tile path).
func sgemmExactRef(aT, bT bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if beta != 1 && (beta != 0 || k == 0 || alpha == 0) {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				if beta == 0 {
					c[i*ldc+j] = 0
				} else {
					c[i*ldc+j] *= beta
				}
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	fullRows, fullCols := m/gemmMR*gemmMR, n/16*16
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for pc := 0; pc < k; pc += gemmKC {
				var s float32
				for p := pc; p < min(k, pc+gemmKC); p++ {
					var x, y float32
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
					s = fma32(x, y, s)
				}
				switch cij := &c[i*ldc+j]; {
				case pc == 0 && beta == 0:
					*cij = alpha * s
				case i < fullRows && j < fullCols:
					*cij = fma32(alpha, s, *cij)
				default:
					*cij += alpha * s
				}
			}
		}
	}
}

// TestSgemmKernelsExact checks every float32 kernel this CPU runs (the
// AVX2 6 × 16 one and the AVX-512 12 × 32 one), serial and split over
// goroutines, and the installed Implementation.Sgemm, against
// sgemmExactRef bit for bit: all transposes, padded leading dimensions,
// m and n that are and are not multiples of either tile (so 12 × 32
// tiles are whole, partial with whole 6 × 16 sub-tiles, and partial
// below 6 × 16), k = 0, 1, one k-block, several k-blocks, products over
// several MC and NC blocks and products large enough to be split by rows
// and by columns, with alpha and beta including 0 and 1 and beta = 0
// over a NaN-filled C. Kernels that all equal the reference equal each
// other: the AVX-512 kernel gives the AVX2 kernel's bits.
func TestSgemmKernelsExact(t *testing.T) {
	if !gemmKernelOK {
		t.Skip("no assembly kernel")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	dims := [][3]int{
		{1, 1, 0}, {13, 33, 0}, {1, 1, 1}, {12, 32, 1}, {13, 33, 2}, {11, 31, 7}, {6, 16, 5}, {5, 15, 3},
		{24, 64, 256}, {25, 65, 257}, {18, 48, 40}, {36, 96, 33}, {12, 32, 513}, {5, 200, 20}, {200, 5, 20},
		{20, 50, 300}, {97, 40, 520}, {100, 385, 300}, {40, 600, 100},
	}
	abs := [][2]float32{{1, 0}, {1.3, 1}, {-0.7, 0.25}, {1, 1}, {0, -1}, {1.5, 0}}
	for _, d := range dims {
		m, n, k := d[0], d[1], d[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			aT, bT := tr[0], tr[1]
			rowsA, colsA := m, k
			if aT {
				rowsA, colsA = k, m
			}
			rowsB, colsB := k, n
			if bT {
				rowsB, colsB = n, k
			}
			lda, ldb, ldc := max(1, colsA+3), max(1, colsB+1), n+2
			a := make([]float32, rowsA*lda)
			b := make([]float32, rowsB*ldb)
			c0 := make([]float32, m*ldc)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range b {
				b[i] = float32(rng.NormFloat64())
			}
			for i := range c0 {
				c0[i] = float32(rng.NormFloat64())
			}
			for ai, ab := range abs {
				if m*n*k > 1<<20 && ai%2 == 1 {
					continue // the large products: half of the alpha, beta pairs
				}
				alpha, beta := ab[0], ab[1]
				start := append([]float32(nil), c0...)
				if beta == 0 {
					for i := range start {
						start[i] = float32(math.NaN())
					}
				}
				want := append([]float32(nil), start...)
				sgemmExactRef(aT, bT, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
				compare := func(name string, got []float32) {
					t.Helper()
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %v trans %v alpha %v beta %v: C[%d, %d] = %v, want %v", name, d, tr, alpha, beta, i/ldc, i%ldc, got[i], want[i])
						}
					}
				}
				g := gemmArgs[float32]{aT: aT, bT: bT, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, ldc: ldc}
				for _, tl := range sgemmTilings() {
					for _, procs := range []int{1, 3} {
						g.c = append([]float32(nil), start...)
						prev := runtime.GOMAXPROCS(procs)
						gemmRun(g, tl.t, &gemmPool32)
						runtime.GOMAXPROCS(prev)
						compare(tl.name+" GOMAXPROCS "+string(rune('0'+procs)), g.c)
					}
				}
				tA, tB := blas.NoTrans, blas.NoTrans
				if aT {
					tA = blas.Trans
				}
				if bT {
					tB = blas.Trans
				}
				got := append([]float32(nil), start...)
				Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
				compare("Implementation.Sgemm", got)
			}
		}
	}
}

// TestGemmKernelEnv checks that GATEDPO_GEMM=avx2 selects the AVX2 kernel
// for every product (the variable is read once, at start-up: the test
// runs this test binary again with it set).
func TestGemmKernelEnv(t *testing.T) {
	if os.Getenv("GATEDPO_GEMM_CHILD") == "1" {
		os.Stdout.WriteString("kernel=" + Kernel() + "\n")
		return
	}
	if !gemmKernelOK {
		t.Skip("no assembly kernel")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGemmKernelEnv$")
	cmd.Env = append(os.Environ(), "GATEDPO_GEMM_CHILD=1", "GATEDPO_GEMM=avx2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "kernel=avx2-6x16\n") {
		t.Fatalf("with GATEDPO_GEMM=avx2 the child reports:\n%s", out)
	}
	want := "avx2-6x16"
	if gemmAVX512OK && os.Getenv("GATEDPO_GEMM") != "avx2" {
		want = "avx512-12x32+avx2-6x16"
	}
	if Kernel() != want {
		t.Fatalf("Kernel() = %q, want %q", Kernel(), want)
	}
}

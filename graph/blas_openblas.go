//go:build openblas

package graph

// #cgo LDFLAGS: -lopenblas
// extern void openblas_set_num_threads(int);
// extern int openblas_get_num_threads(void);
// extern char* openblas_get_corename(void);
import "C"

import (
	"os"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// This file is compiled with -tags openblas (Debian: apt-get install
// libopenblas-dev). It routes every matrix product through OpenBLAS:
// Gorgonia's and the tensor package's (G.Use), and gonum's blas32/blas64
// globals that the fused ops in this package call directly.
//
// OpenBLAS runs with one thread (set at init unless OPENBLAS_NUM_THREADS
// or OMP_NUM_THREADS is set; SetBLASThreads changes it): its own threads
// would compete with the goroutines of the ops that already run in
// parallel (attention, log-softmax, ...).
// Large products are instead split here into row (or column) bands, one
// per GOMAXPROCS, each a one-thread OpenBLAS call, so a Linear layer still
// uses every core. Each element of C is computed by one call whose k-loop
// does not depend on the split.
//
// OpenBLAS packs both operands in every call, so each band re-packs the
// operand the bands share: op(B) when C is split by rows, op(A) when by
// columns. obBands splits along C's longer side, so the shared operand
// is the smaller one (m·k against k·n). OpenBLAS's own threads avoid the
// re-packing but busy-wait between calls, which on a machine whose cores
// the Go scheduler already keeps busy costs far more than it saves.
//
// OpenBLAS picks its kernels (BLASCore) from the CPU when the library
// loads; OPENBLAS_CORETYPE in the environment overrides the choice. It
// cannot be changed from inside the process: the library reads it before
// any Go code runs.

func init() {
	impl := openBLAS{}
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" && os.Getenv("OMP_NUM_THREADS") == "" {
		SetBLASThreads(1) // the default here; an explicit environment wins
	}
}

// openBLAS is netlib's OpenBLAS binding with Sgemm/Dgemm split over
// goroutines for large products.
type openBLAS struct{ netlib.Implementation }

// obParallelMin is the smallest m·n·k split over goroutines.
const obParallelMin = 1 << 21

// obBands calls part(lo, hi, byRows) for the bands of C a product is split
// into, concurrently; it returns false (and calls nothing) when the
// product is too small to split.
func obBands(m, n, k int, part func(lo, hi int, byRows bool)) bool {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || m*n*k < obParallelMin {
		return false
	}
	byRows := m >= n
	extent := n
	if byRows {
		extent = m
	}
	const unit = 16
	units := (extent + unit - 1) / unit
	workers = min(workers, units)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := units*w/workers*unit, min(extent, units*(w+1)/workers*unit)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part(lo, hi, byRows)
		}()
	}
	wg.Wait()
	return true
}

// Sgemm is netlib's Sgemm, split into bands for large products.
func (impl openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmBands(tA, tB, m, n, k, a, lda, b, ldb, c, ldc, func(m, n int, a, b, c []float32) {
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	})
}

// Dgemm is netlib's Dgemm, split into bands for large products.
func (impl openBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemmBands(tA, tB, m, n, k, a, lda, b, ldb, c, ldc, func(m, n int, a, b, c []float64) {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	})
}

// gemmBands runs the product C = op(A)·op(B) (m×k times k×n, row-major
// with leading dimensions lda, ldb, ldc) as gemm calls on the bands of
// rows of C or of columns of C that obBands chooses, each gemm(m', n', a',
// b', c') on the band's sub-matrices, or as one call when the product is
// small.
func gemmBands[T float32 | float64](tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int, gemm func(m, n int, a, b, c []T)) {
	if !obBands(m, n, k, func(lo, hi int, byRows bool) {
		if byRows {
			ao := lo * lda
			if tA != blas.NoTrans {
				ao = lo
			}
			gemm(hi-lo, n, a[ao:], b, c[lo*ldc:])
			return
		}
		bo := lo
		if tB != blas.NoTrans {
			bo = lo * ldb
		}
		gemm(m, hi-lo, a, b[bo:], c[lo:])
	}) {
		gemm(m, n, a, b, c)
	}
}

// BLASName names the BLAS that matrix products use in this build:
// "openblas" here, "gonum (pure Go)" in the default build.
func BLASName() string { return "openblas" }

// BLASThreads returns the number of threads OpenBLAS uses (its
// OPENBLAS_NUM_THREADS, or all cores when unset). The pure-Go build
// returns 0: gonum's BLAS runs on Go goroutines, bounded by GOMAXPROCS.
func BLASThreads() int { return int(C.openblas_get_num_threads()) }

// BLASCore names the kernels the matrix products run on: here OpenBLAS's
// core name ("Haswell", "Zen", "SkylakeX", "Cooperlake", ...), chosen by
// OpenBLAS from the CPU or set by OPENBLAS_CORETYPE; in the pure-Go build
// "blasgemm AVX2+FMA", "blasgemm AVX-512+AVX2" or "gonum" (blasgemm's
// fallback on CPUs without AVX2 and FMA).
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// SetBLASThreads sets the number of OpenBLAS threads (n ≥ 1); it is a
// no-op in the pure-Go build. One thread is fastest for the model sizes
// of this project on a 2-core machine (BENCHMARKS.md): OpenBLAS's own
// threads otherwise compete with Go's goroutines for the same cores.
func SetBLASThreads(n int) {
	if n >= 1 {
		C.openblas_set_num_threads(C.int(n))
	}
}

// PackedBitIdentical reports whether packed forwards (PackLayout) are
// guaranteed to give bit-identical per-token results to the unpacked ones:
// false with OpenBLAS, whose kernels may split sums by the matrix sizes
// (differences at rounding level); true in the default build with its
// assembly GEMM.
func PackedBitIdentical() bool { return false }

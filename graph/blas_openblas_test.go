//go:build openblas

package graph

import (
	"fmt"
	"syscall"
	"testing"

	"gonum.org/v1/gonum/blas"

	"gatedpo/graph/blasgemm"
)

// pythiaGemmShapes are the products of one packed Pythia-160M training
// step (4 pairs, T 256: 449 packed rows; d 768, QKV 2304, MLP 3072, vocab
// 50304, 12 heads of 64), op(A) m×k times op(B) k×n.
var pythiaGemmShapes = []struct {
	tA, tB  bool
	m, n, k int
}{
	{false, true, 449, 3072, 768},   // MLP up, forward
	{false, true, 449, 768, 3072},   // MLP down, forward
	{false, true, 449, 2304, 768},   // QKV, forward
	{false, false, 449, 768, 3072},  // MLP up, dX
	{true, false, 3072, 768, 449},   // MLP up, dW
	{true, false, 768, 3072, 449},   // MLP down, dW
	{false, true, 192, 50304, 768},  // head, forward
	{false, false, 333, 768, 50304}, // head, dX
	{true, false, 50304, 768, 333},  // head, dW
	{false, true, 193, 193, 64},     // attention QKᵀ
	{false, false, 193, 64, 256},    // attention P·V
	{true, false, 193, 64, 193},     // attention Pᵀ·dO
	{false, true, 63, 63, 64},       // attention, short segment
}

// BenchmarkPythiaSgemm times Sgemm on the Pythia-160M step's shapes with
// each engine this build has: the installed one ("bands": OpenBLAS split
// into bands over GOMAXPROCS goroutines), one single-thread OpenBLAS call
// ("one-call") and blasgemm, the pure-Go build's GEMM. It reports
// GFLOP/s of wall time and GFLOP per CPU second of the process (user +
// system, all threads): on a shared machine the second is the steadier.
// Run with -cpu 1,2 to separate the kernels' speed from the split.
func BenchmarkPythiaSgemm(b *testing.B) {
	for _, s := range pythiaGemmShapes {
		tA, tB := blas.NoTrans, blas.NoTrans
		if s.tA {
			tA = blas.Trans
		}
		if s.tB {
			tB = blas.Trans
		}
		a, bb, c, lda, ldb := sgemmBenchOperands(tA, tB, s.m, s.n, s.k)
		ob := openBLAS{}
		engines := []struct {
			name string
			gemm func()
		}{
			{"bands", func() { ob.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n) }},
			{"one-call", func() { ob.Implementation.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n) }},
			{"blasgemm", func() { blasgemm.Implementation{}.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n) }},
		}
		name := fmt.Sprintf("%s%s_%dx%dx%d", map[bool]string{false: "N", true: "T"}[s.tA], map[bool]string{false: "N", true: "T"}[s.tB], s.m, s.n, s.k)
		for _, e := range engines {
			b.Run(name+"/"+e.name, func(b *testing.B) {
				cpu0 := processCPUSeconds()
				for i := 0; i < b.N; i++ {
					e.gemm()
				}
				flop := 2 * float64(s.m*s.n*s.k) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flop/(processCPUSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// processCPUSeconds is the user + system CPU time of this process so far.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

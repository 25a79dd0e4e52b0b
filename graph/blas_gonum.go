//go:build !openblas

package graph

import (
	"strings"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"

	"gatedpo/graph/blasgemm"
)

// This file is the default, pure-Go build (no cgo): matrix products use
// blasgemm.Implementation, gonum's BLAS with Sgemm/Dgemm replaced by the
// AVX2 + FMA Go-assembly GEMM of package blasgemm when the CPU has it
// (plain gonum otherwise). Build with -tags openblas for OpenBLAS
// (blas_openblas.go).

func init() {
	impl := blasgemm.Implementation{}
	G.Use(impl) // Gorgonia and the tensor package
	blas32.Use(impl)
	blas64.Use(impl)
}

// BLASName names the BLAS that matrix products use in this build:
// "gonum (pure Go)" here — with "+ AVX2 gemm" when the Go-assembly GEMM
// is active — and "openblas" with -tags openblas.
func BLASName() string {
	if blasgemm.Available() {
		return "gonum (pure Go) + AVX2 gemm"
	}
	return "gonum (pure Go)"
}

// BLASCore names the kernels the matrix products run on: "blasgemm
// AVX2+FMA" here when the Go-assembly GEMM is active, "blasgemm
// AVX-512+AVX2" when it also uses its AVX-512 float32 kernel
// (blasgemm.Kernel), "gonum" otherwise; OpenBLAS's core name ("Haswell",
// "SkylakeX", ...) with -tags openblas.
func BLASCore() string {
	switch {
	case !blasgemm.Available():
		return "gonum"
	case strings.HasPrefix(blasgemm.Kernel(), "avx512"):
		return "blasgemm AVX-512+AVX2"
	}
	return "blasgemm AVX2+FMA"
}

// BLASThreads returns the number of threads OpenBLAS uses; 0 in this
// pure-Go build, where matrix products run on Go goroutines bounded by
// GOMAXPROCS.
func BLASThreads() int { return 0 }

// SetBLASThreads sets the number of OpenBLAS threads; a no-op in this
// pure-Go build.
func SetBLASThreads(n int) {}

// PackedBitIdentical reports whether packed forwards (PackLayout) are
// guaranteed to give bit-identical per-token results to the unpacked ones
// in this build: true with the assembly GEMM, whose every element of a
// product is one sequential sum over the inner dimension in fixed blocks
// from its start (so trailing zero terms and the number of rows change
// nothing); false with plain gonum (noasm) and with OpenBLAS, whose
// kernels may split sums by the matrix sizes, so that the two can differ
// at rounding level (tests then use a tolerance).
func PackedBitIdentical() bool { return blasgemm.Available() }

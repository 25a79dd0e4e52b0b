//go:build openblas

package graph

// #cgo LDFLAGS: -lopenblas
// extern void openblas_set_num_threads(int);
// extern int openblas_get_num_threads(void);
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// This file is compiled with -tags openblas (Debian: apt-get install
// libopenblas-dev). It routes every matrix product through OpenBLAS:
// Gorgonia's and the tensor package's (G.Use), and gonum's blas32/blas64
// globals that the fused ops in this package call directly.

func init() {
	impl := netlib.Implementation{}
	G.Use(impl)
	blas32.Use(impl)
	blas64.Use(impl)
}

// BLASName names the BLAS that matrix products use in this build:
// "openblas" here, "gonum (pure Go)" in the default build.
func BLASName() string { return "openblas" }

// BLASThreads returns the number of threads OpenBLAS uses (its
// OPENBLAS_NUM_THREADS, or all cores when unset). The pure-Go build
// returns 0: gonum's BLAS runs on Go goroutines, bounded by GOMAXPROCS.
func BLASThreads() int { return int(C.openblas_get_num_threads()) }

// SetBLASThreads sets the number of OpenBLAS threads (n ≥ 1); it is a
// no-op in the pure-Go build. One thread is fastest for the model sizes
// of this project on a 2-core machine (BENCHMARKS.md): OpenBLAS's own
// threads otherwise compete with Go's goroutines for the same cores.
func SetBLASThreads(n int) {
	if n >= 1 {
		C.openblas_set_num_threads(C.int(n))
	}
}

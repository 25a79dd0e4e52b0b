//go:build !openblas

package graph

// This file is the default, pure-Go build: matrix products use gonum's
// native BLAS (Gorgonia's default). Build with -tags openblas for
// OpenBLAS (blas_openblas.go).

// BLASName names the BLAS that matrix products use in this build:
// "gonum (pure Go)" here, "openblas" with -tags openblas.
func BLASName() string { return "gonum (pure Go)" }

// BLASThreads returns the number of threads OpenBLAS uses; 0 in this
// pure-Go build, where gonum's BLAS runs on Go goroutines bounded by
// GOMAXPROCS.
func BLASThreads() int { return 0 }

// SetBLASThreads sets the number of OpenBLAS threads; a no-op in this
// pure-Go build.
func SetBLASThreads(n int) {}

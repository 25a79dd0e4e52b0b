//go:build openblas

package graph

import "math"

// gemmBlocking returns the micro-tile height and the inner-dimension block
// that the causal attention products align their sub-products to. OpenBLAS
// does not document how it forms an element (it picks kernels and inner
// blocks by matrix size), so no alignment can promise the full product's
// bits: 1 row, one inner block. In this build the causal attention ops
// agree with the full products to rounding (the tests' packIdentityTol),
// as packed rows agree with unpacked ones (PackedBitIdentical is false).
func gemmBlocking() (rows, inner int) { return 1, math.MaxInt }

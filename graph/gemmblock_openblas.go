//go:build openblas

package graph

import "math"

// gemmBlocking returns the micro-tile height and the inner-dimension block
// that the causal attention products align their sub-products to. OpenBLAS
// does not document how its kernels block a product, and results in this
// build are not guaranteed bit-identical across product shapes anyway
// (PackedBitIdentical): no alignment (1 row, one inner block).
func gemmBlocking() (rows, inner int) { return 1, math.MaxInt }

//go:build !openblas

package graph

import "gatedpo/graph/blasgemm"

// gemmBlocking returns the micro-tile height and the inner-dimension block
// of the GEMM in use (blasgemm.Blocking): the sizes that the causal
// attention products (causalScores, causalLeft, causalLeftT) align their
// sub-products to, so that each element is summed exactly as in the full
// product.
func gemmBlocking() (rows, inner int) { return blasgemm.Blocking() }

package blasgemm

import (
	"os"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Package blasgemm is a pure-Go (Go assembly, no cgo) general matrix
// product for float32 and float64, used by gatedpo's default build in place
// of gonum's much slower Sgemm/Dgemm. Implementation is gonum's BLAS with
// those two routines replaced; install it with blas32.Use, blas64.Use and
// gorgonia.Use (graph/blas_gonum.go does).
//
// A general matrix product C = alpha·op(A)·op(B) + beta·C for float32 and
// float64, in the GotoBLAS layout: op(B) is copied ("packed") in panels of
// kc × NR, op(A) in blocks of mc × kc made of 6-row panels (an A that is
// not transposed is read in place instead, except for its zero-padded
// edge panel: each kernel step reads 6 rows of it at consecutive
// addresses), and an assembly micro-kernel (kernel_amd64.s, AVX2 + FMA)
// multiplies one 6-row panel by one NR-column panel, keeping the 6 × NR
// result in registers for the whole inner dimension:
//
//	Apack[panel][p][r] = op(A)[ic + MR·panel + r, pc + p]   (MR values per p)
//	Bpack[panel][p][c] = op(B)[pc + p, jc + NR·panel + c]   (NR values per p)
//
// MR is 6; NR is 16 for float32 and 8 for float64 (two 256-bit registers
// per row). Panels at the matrix edges are zero-padded and their result
// goes through a scratch tile. Large products are split over GOMAXPROCS
// goroutines by rows (or by columns when C is wider than tall); the
// split is by output region, so every element of C is computed by one
// goroutine in the same order whatever the split: results are
// deterministic and independent of GOMAXPROCS.
//
// On a CPU with AVX-512 (and an OS that saves its state) float32 products
// whose A is not transposed use a 12 × 32 kernel instead
// (kernel512_amd64.s: 24 of the 32 zmm registers hold the tile, so each
// broadcast value of A feeds two 16-lane FMAs); MR is 12 and NR 32. It
// gives the same bits as the 6 × 16 kernel: in both, each element of C
// is its k-block's products summed by FMA in order from zero, then added
// into C by one FMA (alpha·sum + C) or stored as alpha·sum; a 12 × 32
// tile that is not whole is computed as the 6 × 16 kernel computes its
// 6 × 16 sub-tiles (the partial ones through the scratch tile, whose
// alpha·sum is rounded before it is added). The environment variable
// GATEDPO_GEMM=avx2 selects the 6 × 16 kernel for every product.
//
// gonum's Sgemm is ~7× slower on the shapes of this project because its
// float32 kernels are 128-bit axpy/dot loops without register blocking.

const (
	gemmMR = 6   // rows of a micro-tile
	gemmKC = 256 // inner-dimension block: a 6×KC A panel and a KC×NR B panel stay in L1
	gemmMC = 96  // rows of an A block (16 panels) kept in L2
	gemmNC = 384 // columns of a B block kept in L2

	// gemmParallelMin is the smallest m·n·k split over goroutines; below it
	// the goroutine hand-off costs more than it saves. Products called from
	// already-parallel ops stay serial when they are below it: attention's
	// 48-row blocks of one 64-wide head do up to T < 683 keys.
	gemmParallelMin = 1 << 21
)

// gemmFloat is the element type of the GEMM.
type gemmFloat interface{ ~float32 | ~float64 }

// gemmKernel is a micro-kernel: C[6×nr] += alpha · A(6×k) · B(k×nr), or
// C = alpha · A · B (C not read) when overwrite is set; A's element (r, p)
// is at a[r·rs + p·ps], B's row p starts at b[p·bs], C has row stride
// ldc; k ≥ 1.
type gemmKernel[T gemmFloat] func(k int, a *T, rs, ps int, b *T, bs int, c *T, ldc int, alpha T, overwrite bool)

// gemmTiling is a micro-kernel with its tile: mr × nr. When sub is set,
// kern is a larger tile than the 6-row kernel sub (6 × subNR) whose
// results it reproduces, and a partial mr × nr tile is computed by sub
// on its 6 × subNR sub-tiles; mr is then a multiple of 6 and nr of
// subNR. aOuter runs the tiles of a block row panel by row panel (the A
// panel stays in L1 and the B panels stream from L2) instead of column
// panel by column panel (the B panel stays in L1): a 32-column B panel of
// KC rows fills the 32 KiB L1 of current cores by itself.
type gemmTiling[T gemmFloat] struct {
	mr, nr int
	kern   gemmKernel[T]
	sub    gemmKernel[T]
	subNR  int
	aOuter bool
}

var (
	sgemmTiling6x16  = gemmTiling[float32]{mr: gemmMR, nr: 16, kern: sgemmKernel6x16}
	sgemmTiling12x32 = gemmTiling[float32]{mr: 12, nr: 32, kern: sgemmKernel12x32, sub: sgemmKernel6x16, subNR: 16, aOuter: true}
	dgemmTiling6x8   = gemmTiling[float64]{mr: gemmMR, nr: 8, kern: dgemmKernel6x8}
)

// sgemmUse512 reports whether float32 products whose A is not transposed
// use the 12 × 32 kernel: the CPU and OS support AVX-512 and GATEDPO_GEMM
// is not "avx2". Products with a transposed A (packed in 12-row panels)
// always use the 6 × 16 kernel, which was faster on them when measured
// (BenchmarkSgemmEfficiency).
var sgemmUse512 = gemmAVX512OK && os.Getenv("GATEDPO_GEMM") != "avx2"

// sgemmTilingFor is the float32 kernel for a product: 12 × 32 with
// sgemmUse512 and an untransposed A, else 6 × 16.
func sgemmTilingFor(aT bool) gemmTiling[float32] {
	if sgemmUse512 && !aT {
		return sgemmTiling12x32
	}
	return sgemmTiling6x16
}

// gemmBufs are one goroutine's packing buffers.
type gemmBufs[T gemmFloat] struct {
	a, b []T
	tile [gemmMR * 16]T // one 6-row tile of the 6-row kernels (NR ≤ 16)
}

var (
	gemmPool32 = sync.Pool{New: func() any { return newGemmBufs[float32](32) }}
	gemmPool64 = sync.Pool{New: func() any { return newGemmBufs[float64](8) }}
)

func newGemmBufs[T gemmFloat](nr int) *gemmBufs[T] {
	return &gemmBufs[T]{a: make([]T, gemmMC*gemmKC), b: make([]T, gemmKC*((gemmNC+nr-1)/nr)*nr)}
}

// gemmArgs is one product, with op(A) m×k and op(B) k×n.
type gemmArgs[T gemmFloat] struct {
	aT, bT  bool
	m, n, k int
	alpha   T
	a       []T
	lda     int
	b       []T
	ldb     int
	beta    T
	c       []T
	ldc     int
}

// gemmRun computes the product, splitting it over goroutines when large.
func gemmRun[T gemmFloat](g gemmArgs[T], t gemmTiling[T], pool *sync.Pool) {
	if g.m == 0 || g.n == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || g.m*g.n*g.k < gemmParallelMin {
		bufs := pool.Get().(*gemmBufs[T])
		gemmSerial(g, t, bufs)
		pool.Put(bufs)
		return
	}
	// Split C into `workers` bands of whole micro-tiles.
	byRows := g.m >= g.n
	extent, unit := g.n, t.nr
	if byRows {
		extent, unit = g.m, t.mr
	}
	tiles := (extent + unit - 1) / unit
	if workers > tiles {
		workers = tiles
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := tiles*w/workers*unit, min(extent, tiles*(w+1)/workers*unit)
		if lo >= hi {
			continue
		}
		sub := g
		if byRows {
			sub.m = hi - lo
			if g.aT {
				sub.a = g.a[lo:]
			} else {
				sub.a = g.a[lo*g.lda:]
			}
			sub.c = g.c[lo*g.ldc:]
		} else {
			sub.n = hi - lo
			if g.bT {
				sub.b = g.b[lo*g.ldb:]
			} else {
				sub.b = g.b[lo:]
			}
			sub.c = g.c[lo:]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs := pool.Get().(*gemmBufs[T])
			gemmSerial(sub, t, bufs)
			pool.Put(bufs)
		}()
	}
	wg.Wait()
}

// gemmSerial computes the product on the calling goroutine.
func gemmSerial[T gemmFloat](g gemmArgs[T], t gemmTiling[T], bufs *gemmBufs[T]) {
	// C ← beta·C. With beta = 0 the first k-block overwrites C instead
	// (C is never read, so NaNs in it do not leak); alpha = 0 or k = 0
	// leaves only this scaling.
	if g.beta != 1 && (g.beta != 0 || g.k == 0 || g.alpha == 0) {
		for i := 0; i < g.m; i++ {
			row := g.c[i*g.ldc : i*g.ldc+g.n]
			if g.beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= g.beta
			}
		}
	}
	if g.k == 0 || g.alpha == 0 {
		return
	}
	mr, nr := t.mr, t.nr
	for jc := 0; jc < g.n; jc += gemmNC {
		nc := min(gemmNC, g.n-jc)
		for pc := 0; pc < g.k; pc += gemmKC {
			kc := min(gemmKC, g.k-pc)
			overwrite := pc == 0 && g.beta == 0
			gemmPackB(g, jc, nc, pc, kc, nr, bufs.b)
			for ic := 0; ic < g.m; ic += gemmMC {
				mc := min(gemmMC, g.m-ic)
				gemmPackA(g, ic, mc, pc, kc, mr, bufs.a)
				tileAt := func(jr, ir int) {
					nrr := min(nr, nc-jr)
					mrr := min(mr, mc-ir)
					ap, rs, ps := &bufs.a[ir*kc], 1, mr // packed panel
					inPlace := mrr == mr && !g.aT       // full panel of a row-major A, read in place
					if inPlace {
						ap, rs, ps = &g.a[(ic+ir)*g.lda+pc], g.lda, 1
					}
					off := (ic+ir)*g.ldc + jc + jr
					if mrr == mr && nrr == nr {
						t.kern(kc, ap, rs, ps, &bufs.b[jr*kc], nr, &g.c[off], g.ldc, g.alpha, overwrite)
						return
					}
					if t.sub == nil {
						gemmEdgeTile(g, t.kern, kc, ap, rs, ps, &bufs.b[jr*kc], nr, off, mrr, nrr, nr, overwrite, bufs.tile[:])
						return
					}
					// A partial large tile: its 6 × subNR sub-tiles.
					for si := 0; si < mrr; si += gemmMR {
						sap := &bufs.a[ir*kc+si]
						if inPlace {
							sap = &g.a[(ic+ir+si)*g.lda+pc]
						}
						for sj := 0; sj < nrr; sj += t.subNR {
							soff := off + si*g.ldc + sj
							rows, cols := min(gemmMR, mrr-si), min(t.subNR, nrr-sj)
							if rows == gemmMR && cols == t.subNR {
								t.sub(kc, sap, rs, ps, &bufs.b[jr*kc+sj], nr, &g.c[soff], g.ldc, g.alpha, overwrite)
								continue
							}
							gemmEdgeTile(g, t.sub, kc, sap, rs, ps, &bufs.b[jr*kc+sj], nr, soff, rows, cols, t.subNR, overwrite, bufs.tile[:])
						}
					}
				}
				if t.aOuter {
					for ir := 0; ir < mc; ir += mr {
						for jr := 0; jr < nc; jr += nr {
							tileAt(jr, ir)
						}
					}
					continue
				}
				for jr := 0; jr < nc; jr += nr {
					for ir := 0; ir < mc; ir += mr {
						tileAt(jr, ir)
					}
				}
			}
		}
	}
}

// gemmEdgeTile computes the rows × cols corner (rows ≤ 6, cols ≤ tnr) of
// a 6 × tnr tile of the 6-row kernel kern whose A and B panels are
// zero-padded: into the scratch tile (overwritten with alpha·sum), which
// is then copied into C at off (overwrite) or added to it.
func gemmEdgeTile[T gemmFloat](g gemmArgs[T], kern gemmKernel[T], kc int, ap *T, rs, ps int, bp *T, bs, off, rows, cols, tnr int, overwrite bool, tile []T) {
	kern(kc, ap, rs, ps, bp, bs, &tile[0], tnr, g.alpha, true)
	for r := 0; r < rows; r++ {
		dst := g.c[off+r*g.ldc : off+r*g.ldc+cols]
		src := tile[r*tnr : r*tnr+cols]
		if overwrite {
			copy(dst, src)
			continue
		}
		for j, x := range src {
			dst[j] += x
		}
	}
}

// gemmPackA packs the mr-row panels of op(A)[ic:ic+mc, pc:pc+kc] that
// the kernel does not read in place, p-major (mr consecutive values per
// p), the partial last panel zero-padded. Full panels of an untransposed
// A are read in place (mr rows, each contiguous in p); those of a
// transposed A are packed, since in place their mr values per p sit in a
// new cache line lda elements further on at every step.
func gemmPackA[T gemmFloat](g gemmArgs[T], ic, mc, pc, kc, mr int, buf []T) {
	full := mc / mr // panels without padding
	if g.aT {
		for panel := 0; panel < full; panel++ {
			dst := buf[panel*mr*kc : (panel+1)*mr*kc]
			src := g.a[pc*g.lda+ic+panel*mr:]
			if a32, ok := any(src).([]float32); ok && gemmKernelOK && (mr == 6 || mr == 12) {
				// In bounds: the panel is a full one of op(A).
				d32 := &any(dst).([]float32)[0]
				if mr == 6 {
					sgemmPackAT6(kc, &a32[0], g.lda, d32)
				} else {
					sgemmPackAT12(kc, &a32[0], g.lda, d32)
				}
				continue
			}
			for p := 0; p < kc; p++ {
				copy(dst[p*mr:p*mr+mr], src[p*g.lda:p*g.lda+mr])
			}
		}
	}
	if rows := mc - full*mr; rows > 0 {
		i0 := ic + full*mr
		dst := buf[full*mr*kc : (full+1)*mr*kc]
		clear(dst)
		for r := 0; r < rows; r++ {
			for p := 0; p < kc; p++ {
				if g.aT {
					dst[p*mr+r] = g.a[(pc+p)*g.lda+i0+r]
				} else {
					dst[p*mr+r] = g.a[(i0+r)*g.lda+pc+p]
				}
			}
		}
	}
}

// gemmPackB packs op(B)[pc:pc+kc, jc:jc+nc] into nr-column panels, each
// laid out p-major (nr consecutive values per p), the last panel
// zero-padded. Packing a row-major B is a copy of nr contiguous values
// per p; it keeps the kernel's B loads sequential instead of one row per
// ldb elements (which thrashes a cache set when ldb·size is a multiple of
// 4 KiB). A transposed B is transposed into the panels, full float32
// panels by the assembly sgemmPackBT16 (BT32) in 8 × 8 blocks. Values are moved
// bit for bit, so packing does not change any result.
func gemmPackB[T gemmFloat](g gemmArgs[T], jc, nc, pc, kc, nr int, buf []T) {
	panels := (nc + nr - 1) / nr
	for panel := 0; panel < panels; panel++ {
		j0 := jc + panel*nr
		cols := min(nr, jc+nc-j0)
		dst := buf[panel*nr*kc : (panel+1)*nr*kc]
		if cols < nr {
			clear(dst)
		}
		if g.bT { // op(B)[p, j] = b[j·ldb + p]: read rows of b, scatter with stride nr
			p0 := 0
			if b32, ok := any(g.b).([]float32); ok && gemmKernelOK && (nr == 16 || nr == 32) && cols == nr && kc >= 8 {
				// A full float32 panel: 8 × 8 blocks transposed in registers.
				d32 := any(dst).([]float32)
				p0 = kc &^ 7
				if nr == 16 {
					sgemmPackBT16(p0/8, &b32[j0*g.ldb+pc], g.ldb, &d32[0])
				} else {
					sgemmPackBT32(p0/8, &b32[j0*g.ldb+pc], g.ldb, &d32[0])
				}
			}
			for c := 0; c < cols; c++ {
				src := g.b[(j0+c)*g.ldb+pc+p0 : (j0+c)*g.ldb+pc+kc]
				for p, x := range src {
					dst[(p0+p)*nr+c] = x
				}
			}
			continue
		}
		src := g.b[pc*g.ldb+j0:] // op(B)[p, j] = b[p·ldb + j]
		if b32, ok := any(src).([]float32); ok && gemmKernelOK && (nr == 16 || nr == 32) && cols == nr {
			if nr == 16 {
				sgemmPackBN16(kc, &b32[0], g.ldb, &any(dst).([]float32)[0])
			} else {
				sgemmPackBN32(kc, &b32[0], g.ldb, &any(dst).([]float32)[0])
			}
			continue
		}
		for p := 0; p < kc; p++ {
			copy(dst[p*nr:p*nr+cols], src[p*g.ldb:p*g.ldb+cols])
		}
	}
}

// Blocking reports the two sizes that fix how the assembly GEMM forms an
// element of C, for callers that split one product into sub-products and
// need the same bits. rows is the micro-tile height: the rows of a product
// are cut into tiles of rows from its first row, and a tile cut short by
// the last row is computed through a scratch tile, where C += alpha·acc
// rounds twice instead of once (one FMA); so a sub-product whose first
// row is a multiple of rows after the product's, and that ends at a
// multiple of rows or at the product's last row, gives every element the
// same kind of tile (columns are cut likewise, in tiles of 16 float32 or
// 8 float64 columns from the first column). inner is the block of the
// inner dimension: every element is one sequential FMA sum over each
// block of inner terms, counted from the start of the product's inner
// range and starting from +0, added into C block by block (the first
// block overwrites C when beta is 0).
func Blocking() (rows, inner int) { return gemmMR, gemmKC }

// Implementation is gonum's pure-Go BLAS with Sgemm and Dgemm replaced by
// the GEMM above when the CPU has AVX2 and FMA (Available); otherwise it
// is plain gonum.
type Implementation struct{ gonum.Implementation }

// Available reports whether the assembly GEMM is in use: an amd64 CPU
// with AVX2 and FMA, OS support for YMM state, and no -tags noasm.
func Available() bool { return gemmKernelOK }

// Kernel names the float32 micro-kernels in use: "avx512-12x32+avx2-6x16"
// (the first for products with an untransposed A), "avx2-6x16", or
// "gonum" without the assembly GEMM.
func Kernel() string {
	switch {
	case !gemmKernelOK:
		return "gonum"
	case sgemmUse512:
		return "avx512-12x32+avx2-6x16"
	}
	return "avx2-6x16"
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C (float32); see blas.Float32.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !gemmKernelOK {
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	g := gemmArgs[float32]{aT: tA != blas.NoTrans, bT: tB != blas.NoTrans, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	gemmCheck(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	gemmRun(g, sgemmTilingFor(g.aT), &gemmPool32)
}

// Dgemm computes C = alpha·op(A)·op(B) + beta·C (float64); see blas.Float64.
func (impl Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !gemmKernelOK {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	g := gemmArgs[float64]{aT: tA != blas.NoTrans, bT: tB != blas.NoTrans, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	gemmCheck(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	gemmRun(g, dgemmTiling6x8, &gemmPool64)
}

// gemmCheck panics, as every BLAS does, on arguments that would read or
// write outside the slices (the assembly kernels do not check bounds).
func gemmCheck(tA, tB blas.Transpose, m, n, k, na, lda, nb, ldb, nc, ldc int) {
	valid := func(t blas.Transpose) bool { return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans }
	if !valid(tA) || !valid(tB) {
		panic("blas: illegal transpose")
	}
	if m < 0 || n < 0 || k < 0 {
		panic("blas: negative dimension")
	}
	rowsA, colsA := m, k
	if tA != blas.NoTrans {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB != blas.NoTrans {
		rowsB, colsB = n, k
	}
	if lda < max(1, colsA) || ldb < max(1, colsB) || ldc < max(1, n) {
		panic("blas: bad leading dimension")
	}
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	if na < need(rowsA, colsA, lda) || nb < need(rowsB, colsB, ldb) || nc < need(m, n, ldc) {
		panic("blas: insufficient length of a slice")
	}
}

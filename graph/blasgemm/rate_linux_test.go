package blasgemm

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"gonum.org/v1/gonum/blas"
)

// threadCPU is the calling OS thread's CPU time in seconds
// (CLOCK_THREAD_CPUTIME_ID, exact to the nanosecond, unlike getrusage's
// tick-granular figure): on a shared machine it excludes the time other
// processes hold the core, which wall time does not.
func threadCPU() float64 {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(errno)
	}
	return float64(ts.Nano()) / 1e9
}

// benchRate runs f b.N times on one locked OS thread and reports
// GFLOP per wall second and per CPU second of that thread.
func benchRate(b *testing.B, flops float64, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.StopTimer()
	cpu := threadCPU() - c0
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/wall-s")
	b.ReportMetric(flops*float64(b.N)/cpu/1e9, "GFLOP/cpu-s")
}

// BenchmarkSgemmKernelL1 measures the float32 micro-kernel alone on
// operands that stay in L1 (one KC-deep packed A and B panel, C
// accumulated): the kernel's ceiling without packing or cache misses.
func BenchmarkSgemmKernelL1(b *testing.B) {
	if !gemmKernelOK {
		b.Skip("no assembly kernel")
	}
	for _, tl := range sgemmTilings() {
		b.Run(tl.name, func(b *testing.B) {
			kc, mr, nr := gemmKC, tl.t.mr, tl.t.nr
			a := make([]float32, mr*kc)
			bb := make([]float32, kc*nr)
			c := make([]float32, mr*nr)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bb {
				bb[i] = float32(i%5) - 2
			}
			const reps = 1000
			benchRate(b, float64(2*mr*nr*kc*reps), func() {
				for r := 0; r < reps; r++ {
					tl.t.kern(kc, &a[0], 1, mr, &bb[0], nr, &c[0], nr, 1, false)
				}
			})
		})
	}
}

// pythiaShape is one float32 product C = op(A)·op(B), op(A) m × k.
type pythiaShape struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}

// pythiaShapes are the Linear products of a Pythia-160M batch of 1024
// rows (D 768, MLP 3072, vocabulary 50,304): forwards x·Wᵀ (fwd), input
// gradients dY·W (dx) and weight gradients dYᵀ·X (dw).
func pythiaShapes() []pythiaShape {
	const rows = 1024
	var shapes []pythiaShape
	for _, l := range [][2]int{{768, 768}, {768, 3072}, {3072, 768}, {768, 50304}} {
		in, out := l[0], l[1]
		shapes = append(shapes,
			pythiaShape{fmt.Sprintf("fwd_%dx%dx%d", rows, out, in), blas.NoTrans, blas.Trans, rows, out, in},
			pythiaShape{fmt.Sprintf("dx_%dx%dx%d", rows, in, out), blas.NoTrans, blas.NoTrans, rows, in, out},
			pythiaShape{fmt.Sprintf("dw_%dx%dx%d", out, in, rows), blas.Trans, blas.NoTrans, out, in, rows})
	}
	return shapes
}

// BenchmarkSgemmSerialPythia measures the whole float32 GEMM on one
// goroutine on the Pythia-160M products of one 1024-row batch (D 768,
// MLP 3072, vocabulary 50,304): forwards x·Wᵀ (fwd), input gradients
// dY·W (dx) and weight gradients dYᵀ·X (dw). Run with GOMAXPROCS=1 and
// -benchtime 1x for the vocabulary-sized products.
func BenchmarkSgemmSerialPythia(b *testing.B) {
	if !gemmKernelOK {
		b.Skip("no assembly kernel")
	}
	for _, bc := range pythiaShapes() {
		for _, tl := range sgemmTilings() {
			b.Run(bc.name+"/"+tl.name, func(b *testing.B) {
				a, bb, c, lda, ldb := benchOperands(bc.tA, bc.tB, bc.m, bc.n, bc.k)
				g := gemmArgs[float32]{aT: bc.tA == blas.Trans, bT: bc.tB == blas.Trans, m: bc.m, n: bc.n, k: bc.k, alpha: 1, a: a, lda: lda, b: bb, ldb: ldb, beta: 0, c: c, ldc: bc.n}
				bufs := newGemmBufs[float32](32)
				benchRate(b, 2*float64(bc.m)*float64(bc.n)*float64(bc.k), func() {
					gemmSerial(g, tl.t, bufs)
				})
			})
		}
	}
}

// BenchmarkSgemmEfficiency measures the float32 FMA peak of one core (a
// loop of independent FMAs, 256- and 512-bit) and, on the Pythia shapes
// of BenchmarkSgemmSerialPythia, each kernel's whole-GEMM rate on one
// goroutine, alternating with the peak loop so that each rate is divided
// by the peak measured around it (on a shared core both move together).
// Rates are per CPU second of the thread. Results are logged (-v).
func BenchmarkSgemmEfficiency(b *testing.B) {
	if !gemmKernelOK {
		b.Skip("no assembly kernel")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpuRate := func(flops float64, f func()) float64 {
		c0 := threadCPU()
		f()
		return flops / (threadCPU() - c0) / 1e9
	}
	const iters = 1 << 25
	peak := func() float64 { return cpuRate(12*16*iters, func() { fmaPeak256(iters) }) }
	for i := 0; i < 3; i++ {
		p256 := peak()
		msg := fmt.Sprintf("FMA peak: 256-bit %.1f GFLOP/cpu-s", p256)
		if gemmAVX512OK {
			msg += fmt.Sprintf(", 512-bit %.1f", cpuRate(12*32*iters, func() { fmaPeak512(iters) }))
		}
		b.Log(msg)
	}
	tilings := sgemmTilings()
	for _, bc := range pythiaShapes() {
		a, bb, c, lda, ldb := benchOperands(bc.tA, bc.tB, bc.m, bc.n, bc.k)
		g := gemmArgs[float32]{aT: bc.tA == blas.Trans, bT: bc.tB == blas.Trans, m: bc.m, n: bc.n, k: bc.k, alpha: 1, a: a, lda: lda, b: bb, ldb: ldb, c: c, ldc: bc.n}
		bufs := newGemmBufs[float32](32)
		flops := 2 * float64(bc.m) * float64(bc.n) * float64(bc.k)
		reps := max(1, int(1e10/flops))
		effs := make([][]float64, len(tilings))
		for round := 0; round < 3; round++ {
			for ti, tl := range tilings {
				p0 := peak()
				r := cpuRate(flops*float64(reps), func() {
					for i := 0; i < reps; i++ {
						gemmSerial(g, tl.t, bufs)
					}
				})
				p1 := peak()
				effs[ti] = append(effs[ti], 2*r/(p0+p1))
				b.Logf("%s %s round %d: %.1f GFLOP/cpu-s, peak %.1f / %.1f: %.3f", bc.name, tl.name, round, r, p0, p1, 2*r/(p0+p1))
			}
		}
		msg := bc.name + " median fraction of peak:"
		for ti, tl := range tilings {
			e := append([]float64(nil), effs[ti]...)
			slices.Sort(e)
			msg += fmt.Sprintf(" %s %.3f", tl.name, e[len(e)/2])
		}
		b.Log(msg)
	}
}

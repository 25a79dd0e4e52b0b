//go:build amd64 && !noasm

package blasgemm

// Assembly in kernel_amd64.s.

//go:noescape
func sgemmKernel6x16(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool)

// sgemmKernel12x32 is the AVX-512 float32 kernel (kernel512_amd64.s):
// C[12×32] += alpha · A(12×k) · B(k×32), arguments as sgemmKernel6x16.
//
//go:noescape
func sgemmKernel12x32(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool)

//go:noescape
func dgemmKernel6x8(k int, a *float64, rs, ps int, b *float64, bs int, c *float64, ldc int, alpha float64, overwrite bool)

// sgemmPackBT16 copies src[c·lds + p] to dst[p·16 + c] for c < 16,
// p < 8·blocks (a transposing pack of 16 rows into a float32 B panel).
//
//go:noescape
func sgemmPackBT16(blocks int, src *float32, lds int, dst *float32)

// sgemmPackBN16 copies src[p·lds + c] to dst[p·16 + c] for c < 16, p < k
// (a full float32 B panel of a row-major B).
//
//go:noescape
func sgemmPackBN16(k int, src *float32, lds int, dst *float32)

// sgemmPackAT6 copies src[p·lds + r] to dst[p·6 + r] for r < 6, p < k (a
// full float32 A panel of a transposed A).
//
//go:noescape
func sgemmPackAT6(k int, src *float32, lds int, dst *float32)

// sgemmPackBT32 copies src[c·lds + p] to dst[p·32 + c] for c < 32,
// p < 8·blocks (a transposing pack of 32 rows into a float32 B panel).
//
//go:noescape
func sgemmPackBT32(blocks int, src *float32, lds int, dst *float32)

// sgemmPackBN32 copies src[p·lds + c] to dst[p·32 + c] for c < 32, p < k
// (a full 32-column float32 B panel of a row-major B).
//
//go:noescape
func sgemmPackBN32(k int, src *float32, lds int, dst *float32)

// sgemmPackAT12 copies src[p·lds + r] to dst[p·12 + r] for r < 12, p < k
// (a full 12-row float32 A panel of a transposed A).
//
//go:noescape
func sgemmPackAT12(k int, src *float32, lds int, dst *float32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax uint32)

// gemmKernelOK reports whether the CPU and OS support the AVX2 + FMA
// micro-kernels: CPUID.1:ECX FMA (bit 12), OSXSAVE (27), AVX (28);
// CPUID.7.0:EBX AVX2 (bit 5); XCR0 saves XMM and YMM state (bits 1, 2).
var gemmKernelOK = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xgetbv0()&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

// gemmAVX512OK reports whether the CPU and OS also support the AVX-512
// float32 kernel: CPUID.7.0:EBX AVX512F (bit 16); XCR0 saves opmask,
// ZMM0–15 upper halves and ZMM16–31 state (bits 5, 6, 7) besides XMM and
// YMM.
var gemmAVX512OK = gemmKernelOK && func() bool {
	if xgetbv0()&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0
}()

// fmaPeak256 and fmaPeak512 run n iterations of 12 independent float32
// FMAs on 256- and 512-bit registers (peak_amd64.s, for benchmarks).
func fmaPeak256(n int)
func fmaPeak512(n int)

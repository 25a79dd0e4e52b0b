//go:build amd64 && !noasm

package blasvec

//go:noescape
func expShiftSumAVX2(dst, src *float32, n int, shift float32) float64

//go:noescape
func tanhAVX2(dst, src *float32, n int)

//go:noescape
func geluAVX2(y, t, x *float32, n int)

//go:noescape
func geluGradAVX2(dx, x, t, dy *float32, n int)

//go:noescape
func geluErfAVX2(y, x *float32, n int)

//go:noescape
func geluErfGradAVX2(dx, x, dy *float32, n int)

//go:noescape
func swigluAVX2(y, gate, u *float32, n int)

//go:noescape
func swigluGateGradAVX2(dx, gate, u, dy *float32, n int)

//go:noescape
func swigluUpGradAVX2(dx, gate, dy *float32, n int)

//go:noescape
func sum64AVX2(x *float32, n int) float64

//go:noescape
func sqDev64AVX2(x *float32, n int, mean float32) float64

//go:noescape
func lnRowAVX2(y, x, w, b *float32, n int, mean, inv float32)

//go:noescape
func lnGradSumsAVX2(x, w, dy *float32, n int, mean, inv float32) (sg, sgx float64)

//go:noescape
func lnGradDxAVX2(dx, x, w, dy *float32, n int, mean, inv, mg, mgx float32)

//go:noescape
func max32AVX2(x *float32, n int) float32

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax uint32)

// vecOK: CPUID.1:ECX FMA, OSXSAVE, AVX; CPUID.7.0:EBX AVX2; XCR0 XMM|YMM.
var vecOK = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx || xgetbv0()&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}()

//go:noescape
func adamAVX2(p, grad, m, v *float32, n int, c *adamConsts)

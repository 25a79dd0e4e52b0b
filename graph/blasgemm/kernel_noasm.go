//go:build !amd64 || noasm

package blasgemm

// Without the amd64 assembly (another architecture, or -tags noasm) the
// GEMM of gemm.go is off and Implementation is plain gonum.

const (
	gemmKernelOK = false
	gemmAVX512OK = false
)

func sgemmKernel6x16(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool) {
	panic("sgemmKernel6x16: no assembly kernel in this build")
}

func dgemmKernel6x8(k int, a *float64, rs, ps int, b *float64, bs int, c *float64, ldc int, alpha float64, overwrite bool) {
	panic("dgemmKernel6x8: no assembly kernel in this build")
}

func sgemmPackBT16(blocks int, src *float32, lds int, dst *float32) {
	panic("sgemmPackBT16: no assembly in this build")
}

func sgemmPackBN16(k int, src *float32, lds int, dst *float32) {
	panic("sgemmPackBN16: no assembly in this build")
}

func sgemmPackAT6(k int, src *float32, lds int, dst *float32) {
	panic("sgemmPackAT6: no assembly in this build")
}

func sgemmKernel12x32(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool) {
	panic("sgemmKernel12x32: no assembly kernel in this build")
}

func sgemmPackBT32(blocks int, src *float32, lds int, dst *float32) {
	panic("sgemmPackBT32: no assembly in this build")
}

func sgemmPackBN32(k int, src *float32, lds int, dst *float32) {
	panic("sgemmPackBN32: no assembly in this build")
}

func sgemmPackAT12(k int, src *float32, lds int, dst *float32) {
	panic("sgemmPackAT12: no assembly in this build")
}

func fmaPeak256(n int) { panic("fmaPeak256: no assembly in this build") }
func fmaPeak512(n int) { panic("fmaPeak512: no assembly in this build") }

//go:build !amd64 || noasm

package blasvec

const vecOK = false

func expShiftSumAVX2(dst, src *float32, n int, shift float32) float64 {
	panic("blasvec: no assembly in this build")
}

func tanhAVX2(dst, src *float32, n int) { panic("blasvec: no assembly in this build") }

func max32AVX2(x *float32, n int) float32 { panic("blasvec: no assembly in this build") }

func geluAVX2(y, t, x *float32, n int) { panic("blasvec: no assembly in this build") }

func geluGradAVX2(dx, x, t, dy *float32, n int) { panic("blasvec: no assembly in this build") }

func geluErfAVX2(y, x *float32, n int) { panic("blasvec: no assembly in this build") }

func geluErfGradAVX2(dx, x, dy *float32, n int) { panic("blasvec: no assembly in this build") }

func swigluAVX2(y, gate, u *float32, n int) { panic("blasvec: no assembly in this build") }

func swigluGateGradAVX2(dx, gate, u, dy *float32, n int) {
	panic("blasvec: no assembly in this build")
}

func swigluUpGradAVX2(dx, gate, dy *float32, n int) { panic("blasvec: no assembly in this build") }

func sum64AVX2(x *float32, n int) float64 { panic("blasvec: no assembly in this build") }

func sqDev64AVX2(x *float32, n int, mean float32) float64 {
	panic("blasvec: no assembly in this build")
}

func lnRowAVX2(y, x, w, b *float32, n int, mean, inv float32) {
	panic("blasvec: no assembly in this build")
}

func lnGradSumsAVX2(x, w, dy *float32, n int, mean, inv float32) (sg, sgx float64) {
	panic("blasvec: no assembly in this build")
}

func lnGradDxAVX2(dx, x, w, dy *float32, n int, mean, inv, mg, mgx float32) {
	panic("blasvec: no assembly in this build")
}

func adamAVX2(p, grad, m, v *float32, n int, c *adamConsts) {
	panic("blasvec: no assembly in this build")
}

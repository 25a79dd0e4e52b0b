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

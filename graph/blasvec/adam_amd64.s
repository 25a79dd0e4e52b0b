//go:build amd64 && !noasm

#include "textflag.h"

// func adamAVX2(p, grad, m, v *float32, n int, c *adamConsts)
// One Adam/AdamW step on 8 lanes at a time (see AdamStep32): every
// operation a separate VMULPS/VADDPS/VSUBPS/VDIVPS/VSQRTPS (no FMA), in the
// order of the plain-Go loop, so each lane rounds exactly as it does.
// n is a multiple of 8.
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ         p+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m+16(FP), DX
	MOVQ         v+24(FP), BX
	MOVQ         n+32(FP), CX
	MOVQ         c+40(FP), R8
	VBROADCASTSS 0(R8), Y6   // clip
	VBROADCASTSS 4(R8), Y7   // wd
	VBROADCASTSS 8(R8), Y8   // decay
	VBROADCASTSS 12(R8), Y9  // β1
	VBROADCASTSS 16(R8), Y10 // β2
	VBROADCASTSS 20(R8), Y11 // 1 − β1
	VBROADCASTSS 24(R8), Y12 // 1 − β2
	VBROADCASTSS 28(R8), Y13 // step size
	VBROADCASTSS 32(R8), Y14 // √(1 − β2ᵗ)
	VBROADCASTSS 36(R8), Y15 // ε
	MOVL         40(R8), R9  // flags
	SHRQ         $3, CX
	JZ           adamdone

adamloop:
	VMOVUPS (SI), Y0 // gi
	VMOVUPS (DI), Y1 // θ
	TESTL   $1, R9
	JZ      adamnoclip
	VMULPS  Y6, Y0, Y0 // gi·clip

adamnoclip:
	TESTL  $2, R9
	JZ     adamnol2
	VMULPS Y1, Y7, Y2 // wd·θ
	VADDPS Y2, Y0, Y0 // gi + wd·θ

adamnol2:
	TESTL  $4, R9
	JZ     adamnodecay
	VMULPS Y8, Y1, Y1 // θ·decay

adamnodecay:
	VMOVUPS (DX), Y2
	VMULPS  Y2, Y9, Y2  // β1·m
	VMULPS  Y0, Y11, Y3 // (1−β1)·gi
	VADDPS  Y3, Y2, Y2  // m
	VMOVUPS Y2, (DX)
	VMOVUPS (BX), Y3
	VMULPS  Y3, Y10, Y3 // β2·v
	VMULPS  Y0, Y12, Y4 // (1−β2)·gi
	VMULPS  Y0, Y4, Y4  // ((1−β2)·gi)·gi
	VADDPS  Y4, Y3, Y3  // v
	VMOVUPS Y3, (BX)
	VSQRTPS Y3, Y4      // √v
	VDIVPS  Y14, Y4, Y4 // √v / √bc2
	VADDPS  Y15, Y4, Y4 // + ε
	VDIVPS  Y4, Y2, Y4  // m / (…)
	VMULPS  Y4, Y13, Y4 // step size · (…)
	VSUBPS  Y4, Y1, Y1  // θ − …
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	ADDQ    $32, BX
	DECQ    CX
	JNZ     adamloop

adamdone:
	VZEROUPPER
	RET

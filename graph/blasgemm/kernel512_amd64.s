//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 float32 micro-kernel and the packing copies of its 12-row A and
// 32-column B panels (see gemm.go). The kernel computes
// C[12×32] += alpha · A(12×k) · Bpack(k×32), or C = alpha · A · Bpack
// without reading C when overwrite is set, with the 12×32 accumulator tile
// in Z0…Z23 (row r in Z(2r), Z(2r+1)). Every element of C gets the same
// operations in the same order as in sgemmKernel6x16: its k products
// summed by FMA into a zero accumulator, then one FMA into C (or one
// multiply when overwriting), so the two kernels agree bit for bit.
// k ≥ 1.

// Operands: op(A) element (r, p) is at a + r·rs + p·ps (packed: rs = 1,
// ps = 12; a row-major A read in place: rs = lda, ps = 1); op(B) row p
// starts at b + p·bs. All strides are in elements.

// func sgemmKernel12x32(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool)
TEXT ·sgemmKernel12x32(SB), NOSPLIT, $0-69
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), BX        // rows 0, 1, 2 at BX, BX + rs, BX + 2·rs
	MOVQ rs+16(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), AX     // 3·rs
	LEAQ (BX)(AX*1), R9     // rows 3, 4, 5
	LEAQ (R9)(AX*1), R10    // rows 6, 7, 8
	LEAQ (R10)(AX*1), R11   // rows 9, 10, 11
	MOVQ ps+24(FP), R13
	SHLQ $2, R13
	MOVQ b+32(FP), DI
	MOVQ bs+40(FP), DX
	SHLQ $2, DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

zloop:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	VBROADCASTSS (BX), Z26
	VBROADCASTSS (BX)(R8*1), Z27
	VBROADCASTSS (BX)(R8*2), Z28
	VFMADD231PS  Z24, Z26, Z0
	VFMADD231PS  Z25, Z26, Z1
	VFMADD231PS  Z24, Z27, Z2
	VFMADD231PS  Z25, Z27, Z3
	VFMADD231PS  Z24, Z28, Z4
	VFMADD231PS  Z25, Z28, Z5
	VBROADCASTSS (R9), Z29
	VBROADCASTSS (R9)(R8*1), Z30
	VBROADCASTSS (R9)(R8*2), Z31
	VFMADD231PS  Z24, Z29, Z6
	VFMADD231PS  Z25, Z29, Z7
	VFMADD231PS  Z24, Z30, Z8
	VFMADD231PS  Z25, Z30, Z9
	VFMADD231PS  Z24, Z31, Z10
	VFMADD231PS  Z25, Z31, Z11
	VBROADCASTSS (R10), Z26
	VBROADCASTSS (R10)(R8*1), Z27
	VBROADCASTSS (R10)(R8*2), Z28
	VFMADD231PS  Z24, Z26, Z12
	VFMADD231PS  Z25, Z26, Z13
	VFMADD231PS  Z24, Z27, Z14
	VFMADD231PS  Z25, Z27, Z15
	VFMADD231PS  Z24, Z28, Z16
	VFMADD231PS  Z25, Z28, Z17
	VBROADCASTSS (R11), Z29
	VBROADCASTSS (R11)(R8*1), Z30
	VBROADCASTSS (R11)(R8*2), Z31
	VFMADD231PS  Z24, Z29, Z18
	VFMADD231PS  Z25, Z29, Z19
	VFMADD231PS  Z24, Z30, Z20
	VFMADD231PS  Z25, Z30, Z21
	VFMADD231PS  Z24, Z31, Z22
	VFMADD231PS  Z25, Z31, Z23
	ADDQ R13, BX
	ADDQ R13, R9
	ADDQ R13, R10
	ADDQ R13, R11
	ADDQ DX, DI
	DECQ CX
	JNZ  zloop

	MOVQ         c+48(FP), DX
	MOVQ         ldc+56(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+64(FP), Z26
	MOVBLZX      overwrite+68(FP), AX
	TESTL        AX, AX
	JNZ          zstore

	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z0, Z26, Z24
	VFMADD231PS Z1, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z2, Z26, Z24
	VFMADD231PS Z3, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z4, Z26, Z24
	VFMADD231PS Z5, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z6, Z26, Z24
	VFMADD231PS Z7, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z8, Z26, Z24
	VFMADD231PS Z9, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z10, Z26, Z24
	VFMADD231PS Z11, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z12, Z26, Z24
	VFMADD231PS Z13, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z14, Z26, Z24
	VFMADD231PS Z15, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z16, Z26, Z24
	VFMADD231PS Z17, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z18, Z26, Z24
	VFMADD231PS Z19, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z20, Z26, Z24
	VFMADD231PS Z21, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	ADDQ        R8, DX
	VMOVUPS     (DX), Z24
	VMOVUPS     64(DX), Z25
	VFMADD231PS Z22, Z26, Z24
	VFMADD231PS Z23, Z26, Z25
	VMOVUPS     Z24, (DX)
	VMOVUPS     Z25, 64(DX)
	VZEROUPPER
	RET

	// overwrite: C = alpha·acc, C is not read.
zstore:
	VMULPS  Z0, Z26, Z24
	VMULPS  Z1, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z2, Z26, Z24
	VMULPS  Z3, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z4, Z26, Z24
	VMULPS  Z5, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z6, Z26, Z24
	VMULPS  Z7, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z8, Z26, Z24
	VMULPS  Z9, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z10, Z26, Z24
	VMULPS  Z11, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z12, Z26, Z24
	VMULPS  Z13, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z14, Z26, Z24
	VMULPS  Z15, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z16, Z26, Z24
	VMULPS  Z17, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z18, Z26, Z24
	VMULPS  Z19, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z20, Z26, Z24
	VMULPS  Z21, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMULPS  Z22, Z26, Z24
	VMULPS  Z23, Z26, Z25
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	VZEROUPPER
	RET

// func sgemmPackBT32(blocks int, src *float32, lds int, dst *float32)
//
// Transposing copy of a 32 × 8·blocks block of a row-major matrix (row c
// at src + c·lds) into a packed 32-column B panel: dst[p·32 + c] =
// src[c·lds + p] for c < 32, p < 8·blocks, by the 8 × 8 in-register
// transposition of sgemmPackBT16. Values are copied bit for bit.
// blocks ≥ 1.
TEXT ·sgemmPackBT32(SB), NOSPLIT, $0-32
	MOVQ blocks+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX            // row stride in bytes
	MOVQ dst+24(FP), DI
	LEAQ (DX)(DX*2), R8    // 3·stride
	LEAQ (DX)(DX*4), R9    // 5·stride
	LEAQ (R8)(DX*4), R10   // 7·stride

qbloop:
	// Rows 0…7 of the block (columns 0…7 of the panel), then 8…15, 16…23, 24…31.
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ $4, R11

qbquarter:
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(DX*1), Y1
	VMOVUPS (AX)(DX*2), Y2
	VMOVUPS (AX)(R8*1), Y3
	VMOVUPS (AX)(DX*4), Y4
	VMOVUPS (AX)(R9*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R10*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8  // p = 0
	VPERM2F128 $0x20, Y5, Y1, Y9  // p = 1
	VPERM2F128 $0x20, Y6, Y2, Y10 // p = 2
	VPERM2F128 $0x20, Y7, Y3, Y11 // p = 3
	VPERM2F128 $0x31, Y4, Y0, Y12 // p = 4
	VPERM2F128 $0x31, Y5, Y1, Y13 // p = 5
	VPERM2F128 $0x31, Y6, Y2, Y14 // p = 6
	VPERM2F128 $0x31, Y7, Y3, Y15 // p = 7

	VMOVUPS Y8, (BX)
	VMOVUPS Y9, 128(BX)
	VMOVUPS Y10, 256(BX)
	VMOVUPS Y11, 384(BX)
	VMOVUPS Y12, 512(BX)
	VMOVUPS Y13, 640(BX)
	VMOVUPS Y14, 768(BX)
	VMOVUPS Y15, 896(BX)

	LEAQ (AX)(DX*8), AX    // next 8 rows
	ADDQ $32, BX           // next 8 columns of the panel
	DECQ R11
	JNZ  qbquarter

	ADDQ $32, SI           // next 8 values of each row
	ADDQ $1024, DI         // next 8 panel rows (8 · 32 floats)
	DECQ CX
	JNZ  qbloop
	VZEROUPPER
	RET

// func sgemmPackBN32(k int, src *float32, lds int, dst *float32)
//
// Copies 32 consecutive values of each of k rows (row p at src + p·lds)
// into a packed 32-column B panel: dst[p·32 + c] = src[p·lds + c]. k ≥ 1.
TEXT ·sgemmPackBN32(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ dst+24(FP), DI

qnloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    DX, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     qnloop
	VZEROUPPER
	RET

// func sgemmPackAT12(k int, src *float32, lds int, dst *float32)
//
// Copies 12 consecutive values of each of k rows (row p at src + p·lds)
// into a packed 12-row A panel: dst[p·12 + r] = src[p·lds + r]. k ≥ 1.
TEXT ·sgemmPackAT12(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ dst+24(FP), DI

qaloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), X1
	VMOVUPS Y0, (DI)
	VMOVUPS X1, 32(DI)
	ADDQ    DX, SI
	ADDQ    $48, DI
	DECQ    CX
	JNZ     qaloop
	VZEROUPPER
	RET

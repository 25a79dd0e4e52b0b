//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 + FMA micro-kernels of the GEMM in gemm.go (see there for the
// packed layouts). Each computes C[6×NR] += alpha · Apack(6×k) · Bpack(k×NR),
// or C = alpha · Apack · Bpack without reading C when overwrite is set,
// with the 6×NR accumulator tile held in Y0…Y11. k ≥ 1.

// Operands: op(A) element (r, p) of the 6-row panel is at a + r·rs + p·ps
// (packed: rs = 1, ps = 6; a row-major A read in place: rs = lda, ps = 1);
// op(B) row p of the NR-column panel starts at b + p·bs (gemm.go always
// packs B: bs = NR). All strides are in elements.

// func sgemmKernel6x16(k int, a *float32, rs, ps int, b *float32, bs int, c *float32, ldc int, alpha float32, overwrite bool)
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-69
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), BX
	MOVQ rs+16(FP), R8
	SHLQ $2, R8
	LEAQ (BX)(R8*1), SI
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	MOVQ ps+24(FP), R13
	SHLQ $2, R13
	MOVQ b+32(FP), DI
	MOVQ bs+40(FP), DX
	SHLQ $2, DX
	MOVQ DX, bs+40(FP)
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

sloop:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (BX)(AX*1), Y14
	VBROADCASTSS (SI)(AX*1), Y15
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (R9)(AX*1), Y14
	VBROADCASTSS (R10)(AX*1), Y15
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (R11)(AX*1), Y14
	VBROADCASTSS (R12)(AX*1), Y15
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R13, AX
	ADDQ         bs+40(FP), DI
	DECQ         CX
	JNZ          sloop

	MOVQ         c+48(FP), DX
	MOVQ         ldc+56(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+64(FP), Y14
	MOVBLZX      overwrite+68(FP), AX
	TESTL        AX, AX
	JNZ          sstore

#define SROW(r0, r1) \
	VMOVUPS     (DX), Y12 \
	VMOVUPS     32(DX), Y13 \
	VFMADD231PS r0, Y14, Y12 \
	VFMADD231PS r1, Y14, Y13 \
	VMOVUPS     Y12, (DX) \
	VMOVUPS     Y13, 32(DX) \
	ADDQ        R8, DX

	SROW(Y0, Y1)
	SROW(Y2, Y3)
	SROW(Y4, Y5)
	SROW(Y6, Y7)
	SROW(Y8, Y9)
	SROW(Y10, Y11)
	VZEROUPPER
	RET

	// overwrite: C = alpha·acc, C is not read.
#define SSET(r0, r1) \
	VMULPS  r0, Y14, Y12 \
	VMULPS  r1, Y14, Y13 \
	VMOVUPS Y12, (DX) \
	VMOVUPS Y13, 32(DX) \
	ADDQ    R8, DX

sstore:
	SSET(Y0, Y1)
	SSET(Y2, Y3)
	SSET(Y4, Y5)
	SSET(Y6, Y7)
	SSET(Y8, Y9)
	SSET(Y10, Y11)
	VZEROUPPER
	RET

// func dgemmKernel6x8(k int, a *float64, rs, ps int, b *float64, bs int, c *float64, ldc int, alpha float64, overwrite bool)
TEXT ·dgemmKernel6x8(SB), NOSPLIT, $0-73
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), BX
	MOVQ rs+16(FP), R8
	SHLQ $3, R8
	LEAQ (BX)(R8*1), SI
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	MOVQ ps+24(FP), R13
	SHLQ $3, R13
	MOVQ b+32(FP), DI
	MOVQ bs+40(FP), DX
	SHLQ $3, DX
	MOVQ DX, bs+40(FP)
	XORQ AX, AX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11

dloop:
	VMOVUPD      (DI), Y12
	VMOVUPD      32(DI), Y13
	VBROADCASTSD (BX)(AX*1), Y14
	VBROADCASTSD (SI)(AX*1), Y15
	VFMADD231PD  Y12, Y14, Y0
	VFMADD231PD  Y13, Y14, Y1
	VFMADD231PD  Y12, Y15, Y2
	VFMADD231PD  Y13, Y15, Y3
	VBROADCASTSD (R9)(AX*1), Y14
	VBROADCASTSD (R10)(AX*1), Y15
	VFMADD231PD  Y12, Y14, Y4
	VFMADD231PD  Y13, Y14, Y5
	VFMADD231PD  Y12, Y15, Y6
	VFMADD231PD  Y13, Y15, Y7
	VBROADCASTSD (R11)(AX*1), Y14
	VBROADCASTSD (R12)(AX*1), Y15
	VFMADD231PD  Y12, Y14, Y8
	VFMADD231PD  Y13, Y14, Y9
	VFMADD231PD  Y12, Y15, Y10
	VFMADD231PD  Y13, Y15, Y11
	ADDQ         R13, AX
	ADDQ         bs+40(FP), DI
	DECQ         CX
	JNZ          dloop

	MOVQ         c+48(FP), DX
	MOVQ         ldc+56(FP), R8
	SHLQ         $3, R8
	VBROADCASTSD alpha+64(FP), Y14
	MOVBLZX      overwrite+72(FP), AX
	TESTL        AX, AX
	JNZ          dstore

#define DROW(r0, r1) \
	VMOVUPD     (DX), Y12 \
	VMOVUPD     32(DX), Y13 \
	VFMADD231PD r0, Y14, Y12 \
	VFMADD231PD r1, Y14, Y13 \
	VMOVUPD     Y12, (DX) \
	VMOVUPD     Y13, 32(DX) \
	ADDQ        R8, DX

	DROW(Y0, Y1)
	DROW(Y2, Y3)
	DROW(Y4, Y5)
	DROW(Y6, Y7)
	DROW(Y8, Y9)
	DROW(Y10, Y11)
	VZEROUPPER
	RET

#define DSET(r0, r1) \
	VMULPD  r0, Y14, Y12 \
	VMULPD  r1, Y14, Y13 \
	VMOVUPD Y12, (DX) \
	VMOVUPD Y13, 32(DX) \
	ADDQ    R8, DX

dstore:
	DSET(Y0, Y1)
	DSET(Y2, Y3)
	DSET(Y4, Y5)
	DSET(Y6, Y7)
	DSET(Y8, Y9)
	DSET(Y10, Y11)
	VZEROUPPER
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv0() (eax uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET

// func sgemmPackBT16(blocks int, src *float32, lds int, dst *float32)
//
// Transposing copy of a 16 × 8·blocks block of a row-major matrix (row c
// at src + c·lds) into a packed 16-column B panel: dst[p·16 + c] =
// src[c·lds + p] for c < 16, p < 8·blocks. Each 8 × 8 sub-block is moved
// with in-register shuffles (unpack, shuffle, 128-bit permute); values are
// copied bit for bit. blocks ≥ 1.
TEXT ·sgemmPackBT16(SB), NOSPLIT, $0-32
	MOVQ blocks+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX            // row stride in bytes
	MOVQ dst+24(FP), DI
	LEAQ (DX)(DX*2), R8    // 3·stride
	LEAQ (DX)(DX*4), R9    // 5·stride
	LEAQ (R8)(DX*4), R10   // 7·stride

pbloop:
	// Rows 0…7 of the block (p = 0…7), then rows 8…15.
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ $2, R11

pbhalf:
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(DX*1), Y1
	VMOVUPS (AX)(DX*2), Y2
	VMOVUPS (AX)(R8*1), Y3
	VMOVUPS (AX)(DX*4), Y4
	VMOVUPS (AX)(R9*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R10*1), Y7

	VUNPCKLPS Y1, Y0, Y8   // r0[0] r1[0] r0[1] r1[1] | [4] [5]
	VUNPCKHPS Y1, Y0, Y9   // r0[2] r1[2] r0[3] r1[3] | [6] [7]
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0  // r0..r3 [0] | [4]
	VSHUFPS $0xEE, Y10, Y8, Y1  // r0..r3 [1] | [5]
	VSHUFPS $0x44, Y11, Y9, Y2  // r0..r3 [2] | [6]
	VSHUFPS $0xEE, Y11, Y9, Y3  // r0..r3 [3] | [7]
	VSHUFPS $0x44, Y14, Y12, Y4 // r4..r7 [0] | [4]
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
	VMOVUPS Y9, 64(BX)
	VMOVUPS Y10, 128(BX)
	VMOVUPS Y11, 192(BX)
	VMOVUPS Y12, 256(BX)
	VMOVUPS Y13, 320(BX)
	VMOVUPS Y14, 384(BX)
	VMOVUPS Y15, 448(BX)

	LEAQ (AX)(DX*8), AX    // rows 8…15
	ADDQ $32, BX           // columns 8…15 of the panel
	DECQ R11
	JNZ  pbhalf

	ADDQ $32, SI           // next 8 values of each row
	ADDQ $512, DI          // next 8 panel rows (8 · 16 floats)
	DECQ CX
	JNZ  pbloop
	VZEROUPPER
	RET

// func sgemmPackBN16(k int, src *float32, lds int, dst *float32)
//
// Copies 16 consecutive values of each of k rows (row p at src + p·lds)
// into a packed 16-column B panel: dst[p·16 + c] = src[p·lds + c]. k ≥ 1.
TEXT ·sgemmPackBN16(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ dst+24(FP), DI

pnloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     pnloop
	VZEROUPPER
	RET

// func sgemmPackAT6(k int, src *float32, lds int, dst *float32)
//
// Copies 6 consecutive values of each of k rows (row p at src + p·lds)
// into a packed 6-row A panel: dst[p·6 + r] = src[p·lds + r]. k ≥ 1.
TEXT ·sgemmPackAT6(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ dst+24(FP), DI

paloop:
	MOVUPS (SI), X0
	MOVQ   16(SI), AX
	MOVUPS X0, (DI)
	MOVQ   AX, 16(DI)
	ADDQ   DX, SI
	ADDQ   $24, DI
	DECQ   CX
	JNZ    paloop
	RET

//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 + FMA micro-kernels of the GEMM in gemm.go (see there for the
// packed layouts). Each computes C[6×NR] += alpha · Apack(6×k) · Bpack(k×NR),
// or C = alpha · Apack · Bpack without reading C when overwrite is set,
// with the 6×NR accumulator tile held in Y0…Y11. k ≥ 1.

// Operands: op(A) element (r, p) of the 6-row panel is at a + r·rs + p·ps
// (packed: rs = 1, ps = 6; a row-major A read in place: rs = lda, ps = 1);
// op(B) row p of the NR-column panel starts at b + p·bs (packed: bs = NR;
// a row-major B read in place: bs = ldb). All strides are in elements.

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

//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 + FMA float32 exp, tanh, GELU, SwiGLU and LayerNorm rows, 8 lanes at a time (see vec.go for the
// algorithm and its error). n is a multiple of 8.

#define CONST8(name, bits) \
	DATA name+0(SB)/4, $bits \
	DATA name+4(SB)/4, $bits \
	DATA name+8(SB)/4, $bits \
	DATA name+12(SB)/4, $bits \
	DATA name+16(SB)/4, $bits \
	DATA name+20(SB)/4, $bits \
	DATA name+24(SB)/4, $bits \
	DATA name+28(SB)/4, $bits \
	GLOBL name(SB), RODATA|NOPTR, $32

CONST8(expHi<>, 0x42b0999a)    // 88.3: above, exp = +Inf
CONST8(expLo<>, 0xc2ae0000)    // -87: below, exp = 0
CONST8(expLog2e<>, 0x3fb8aa3b) // log2(e)
CONST8(expLn2Hi<>, 0x3f317200) // ln 2, high part (exact in few bits)
CONST8(expLn2Lo<>, 0x35bfbe8e) // ln 2 − high part
CONST8(expC7<>, 0x39500d01)    // 1/7!
CONST8(expC6<>, 0x3ab60b61)    // 1/6!
CONST8(expC5<>, 0x3c088889)    // 1/5!
CONST8(expC4<>, 0x3d2aaaab)    // 1/4!
CONST8(expC3<>, 0x3e2aaaab)    // 1/3!
CONST8(expC2<>, 0x3f000000)    // 1/2
CONST8(expOne<>, 0x3f800000)   // 1
CONST8(expInf<>, 0x7f800000)   // +Inf
CONST8(expTwo<>, 0x40000000)   // 2
CONST8(geluTwoC<>, 0x3fcc422a)    // 2·sqrt(2/π)
CONST8(geluTwoCA<>, 0x3d922279)   // 2·sqrt(2/π)·0.044715
CONST8(geluC<>, 0x3f4c422a)       // sqrt(2/π)
CONST8(geluThreeCA<>, 0x3ddb33b6) // 3·0.044715·sqrt(2/π)
CONST8(vecHalf<>, 0x3f000000)     // 0.5

// EXPCORE8: the exponential's core, shared by EXP8 and EXPW8: k =
// round(Y0·log2 e) as int32 lanes in Y3 and Y4 = exp(r), r = Y0 − k·ln2 in
// two parts, by its Taylor polynomial of degree 7 (Horner, FMA); the caller
// adds k (plus any bias) to Y4's exponent bits. Clobbers Y0.
#define EXPCORE8 \
	VMULPS       expLog2e<>(SB), Y0, Y3 \
	VROUNDPS     $0, Y3, Y3 \
	VFNMADD231PS expLn2Hi<>(SB), Y3, Y0 \
	VFNMADD231PS expLn2Lo<>(SB), Y3, Y0 \
	VMOVUPS      expC7<>(SB), Y4 \
	VFMADD213PS  expC6<>(SB), Y0, Y4 \
	VFMADD213PS  expC5<>(SB), Y0, Y4 \
	VFMADD213PS  expC4<>(SB), Y0, Y4 \
	VFMADD213PS  expC3<>(SB), Y0, Y4 \
	VFMADD213PS  expC2<>(SB), Y0, Y4 \
	VFMADD213PS  expOne<>(SB), Y0, Y4 \
	VFMADD213PS  expOne<>(SB), Y0, Y4 \
	VCVTPS2DQ    Y3, Y3

// EXP8: Y4 = exp(Y0) for the 8 lanes of Y0; clobbers Y0–Y6. Masks: Y1
// x < −87 (→ 0, also −Inf), Y6 x > 88.3 (→ +Inf), Y2 NaN (→ x). Then
// k = round(x·log2 e), r = x − k·ln2 in two parts, exp r by its Taylor
// polynomial of degree 7 (Horner, FMA), and 2^k added to the exponent bits.
#define EXP8 \
	VCMPPS       $1, expLo<>(SB), Y0, Y1 \
	VCMPPS       $0x1e, expHi<>(SB), Y0, Y6 \
	VCMPPS       $3, Y0, Y0, Y2 \
	VMOVUPS      Y0, Y5 \
	VMINPS       expHi<>(SB), Y0, Y0 \
	VMAXPS       expLo<>(SB), Y0, Y0 \
	EXPCORE8 \
	VPSLLD       $23, Y3, Y3 \
	VPADDD       Y3, Y4, Y4 \
	VANDNPS      Y4, Y1, Y4 \
	VBLENDVPS    Y6, expInf<>(SB), Y4, Y4 \
	VBLENDVPS    Y2, Y5, Y4, Y4

// func expShiftSumAVX2(dst, src *float32, n int, shift float32) float64
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	VXORPD       Y12, Y12, Y12
	VXORPD       Y13, Y13, Y13
	SHRQ         $3, CX
	JZ           esdone

esloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP8
	VMOVUPS Y4, (DI)
	VCVTPS2PD X4, Y7
	VEXTRACTF128 $1, Y4, X8
	VCVTPS2PD X8, Y8
	VADDPD  Y7, Y12, Y12
	VADDPD  Y8, Y13, Y13
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     esloop

esdone:
	VADDPD       Y13, Y12, Y12
	VEXTRACTF128 $1, Y12, X13
	VADDPD       X13, X12, X12
	VHADDPD      X12, X12, X12
	MOVSD        X12, ret+32(FP)
	VZEROUPPER
	RET

// func tanhAVX2(dst, src *float32, n int)
// tanh x = 1 − 2/(exp(2x) + 1)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   thdone

thloop:
	VMOVUPS (SI), Y0
	VADDPS  Y0, Y0, Y0
	EXP8
	VADDPS  expOne<>(SB), Y4, Y4
	VMOVUPS expTwo<>(SB), Y7
	VDIVPS  Y4, Y7, Y7
	VMOVUPS expOne<>(SB), Y8
	VSUBPS  Y7, Y8, Y8
	VMOVUPS Y8, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     thloop

thdone:
	VZEROUPPER
	RET

// func geluAVX2(y, t, x *float32, n int)
// t = tanh(c·(x + 0.044715x³)) = 1 − 2/(exp(2c·x·(1 + 0.044715x²)) + 1),
// y = 0.5·x·(1 + t).
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ t+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   gldone

glloop:
	VMOVUPS     (SI), Y7
	VMULPS      Y7, Y7, Y0
	VMOVUPS     geluTwoCA<>(SB), Y1
	VFMADD213PS geluTwoC<>(SB), Y0, Y1
	VMULPS      Y1, Y7, Y0
	EXP8
	VADDPS      expOne<>(SB), Y4, Y4
	VMOVUPS     expTwo<>(SB), Y9
	VDIVPS      Y4, Y9, Y9
	VMOVUPS     expOne<>(SB), Y10
	VSUBPS      Y9, Y10, Y10
	VMOVUPS     Y10, (DX)
	VMULPS      vecHalf<>(SB), Y7, Y8
	VFMADD213PS Y8, Y8, Y10
	VMOVUPS     Y10, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         glloop

gldone:
	VZEROUPPER
	RET

// func geluGradAVX2(dx, x, t, dy *float32, n int)
// dx = dy · (0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²)).
TEXT ·geluGradAVX2(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ t+16(FP), DX
	MOVQ dy+24(FP), R8
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	JZ   ggdone

ggloop:
	VMOVUPS      (SI), Y0
	VMOVUPS      (DX), Y1
	VMULPS       Y0, Y0, Y2
	VMOVUPS      geluThreeCA<>(SB), Y3
	VFMADD213PS  geluC<>(SB), Y2, Y3
	VMOVUPS      expOne<>(SB), Y4
	VFNMADD231PS Y1, Y1, Y4
	VMULPS       vecHalf<>(SB), Y0, Y5
	VMULPS       Y4, Y5, Y5
	VMULPS       Y3, Y5, Y5
	VMOVUPS      vecHalf<>(SB), Y6
	VFMADD213PS  vecHalf<>(SB), Y1, Y6
	VADDPS       Y5, Y6, Y6
	VMULPS       (R8), Y6, Y6
	VMOVUPS      Y6, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, R8
	ADDQ         $32, DI
	DECQ         CX
	JNZ          ggloop

ggdone:
	VZEROUPPER
	RET

// Exact (erf) GELU, y = x·Φ(x), and its derivative Φ(x) + x·φ(x), with
// Φ the standard normal CDF and φ its density (see vec.go for the
// approximation and its error). With a = min(|x|, 14.5):
//   e = exp(−a²/2)·2⁴⁰: a² = hi + lo exactly (hi = a·a rounded, lo by
//       FMA), e = EXPW8(−hi/2)·(1 − lo/2) (the correction keeps the tails
//       accurate where hi/2 is large and its rounding would show; the
//       2⁴⁰ keeps e normal down to exp(−114), so that Φ and φ, scaled
//       back by 2⁻⁴⁰ in one rounding, reach the subnormal range smoothly
//       and are 0 only beyond |x| ≈ 14.2, where they round to 0);
//   q = Φ(−a) = e·2⁻⁴⁰·P(a)/Q(a), P of degree 4 and Q of degree 5 with
//       positive coefficients (no cancellation in Horner's scheme), from
//       go run ./graph/blasvec/internal/fitnormal;
//   Φ(x) = q for x < 0 (sign bit set, so −0 too), 1 − q otherwise.
// Clamping a at 14.5 changes nothing (q is 0 there) but keeps ±Inf finite
// inside; xc = copysign(a, x) stands in for x in the products that would
// otherwise meet ∞·0 (y(−Inf) = −0, y(+Inf) = +Inf, derivative 0 and 1
// there). NaN propagates (through P(a)/Q(a)).

CONST8(vecAbs<>, 0x7fffffff)     // clears the sign bit
CONST8(vecSign<>, 0x80000000)    // the sign bit
CONST8(vecNegHalf<>, 0xbf000000) // −0.5
CONST8(gerfClamp<>, 0x41680000)  // 14.5
CONST8(gerfBias<>, 0x00000028)   // 40, added to the exponent of EXPW8
CONST8(gerfUnbias<>, 0x2b800000) // 2⁻⁴⁰
CONST8(gerfP1<>, 0x3ee06841)     // P(a) = 0.5 + p1·a + … + p4·a⁴
CONST8(gerfP2<>, 0x3e3ba215)
CONST8(gerfP3<>, 0x3d266f26)
CONST8(gerfP4<>, 0x3b86e241)
CONST8(gerfQ1<>, 0x3fd65539)     // Q(a) = 1 + q1·a + … + q5·a⁵
CONST8(gerfQ2<>, 0x3f99ebab)
CONST8(gerfQ3<>, 0x3ef05e93)
CONST8(gerfQ4<>, 0x3dd09b86)
CONST8(gerfQ5<>, 0x3c290cc1)
CONST8(gerfInvSqrt2Pi<>, 0x2acc422a) // 2⁻⁴⁰/sqrt(2π) (float32 1/sqrt(2π), scaled exactly)

// EXPW8: Y4 = exp(Y0)·2⁴⁰ for Y0 in [−114, 0] (no clamps, no special
// values: callers feed it only that range, or NaN, which it does not keep);
// the algorithm of EXP8 with 40 more added to the exponent, so the result
// stays normal over the whole range. Clobbers Y0, Y3.
#define EXPW8 \
	EXPCORE8 \
	VPADDD       gerfBias<>(SB), Y3, Y3 \
	VPSLLD       $23, Y3, Y3 \
	VPADDD       Y3, Y4, Y4

// GERF8: from x in Y7 (Y15 = 14.5 in every lane): Y11 = q = Φ(−|x|),
// Y4 = e = exp(−x²/2)·2⁴⁰, Y13 = xc = copysign(min(|x|, 14.5), x).
// Clobbers Y0, Y3, Y8–Y10, Y12. VMINPS takes the data as its NaN-passing
// operand.
#define GERF8 \
	VANDPS       vecAbs<>(SB), Y7, Y8 \
	VMINPS       Y8, Y15, Y8 \
	VMULPS       Y8, Y8, Y9 \
	VMOVAPS      Y9, Y10 \
	VFMSUB231PS  Y8, Y8, Y10 \
	VMULPS       vecNegHalf<>(SB), Y9, Y0 \
	EXPW8 \
	VMULPS       vecHalf<>(SB), Y10, Y10 \
	VFNMADD231PS Y10, Y4, Y4 \
	VMOVUPS      gerfP4<>(SB), Y11 \
	VFMADD213PS  gerfP3<>(SB), Y8, Y11 \
	VFMADD213PS  gerfP2<>(SB), Y8, Y11 \
	VFMADD213PS  gerfP1<>(SB), Y8, Y11 \
	VFMADD213PS  vecHalf<>(SB), Y8, Y11 \
	VMOVUPS      gerfQ5<>(SB), Y12 \
	VFMADD213PS  gerfQ4<>(SB), Y8, Y12 \
	VFMADD213PS  gerfQ3<>(SB), Y8, Y12 \
	VFMADD213PS  gerfQ2<>(SB), Y8, Y12 \
	VFMADD213PS  gerfQ1<>(SB), Y8, Y12 \
	VFMADD213PS  expOne<>(SB), Y8, Y12 \
	VDIVPS       Y12, Y11, Y11 \
	VMULPS       Y4, Y11, Y11 \
	VMULPS       gerfUnbias<>(SB), Y11, Y11 \
	VANDPS       vecSign<>(SB), Y7, Y13 \
	VORPS        Y8, Y13, Y13

// func geluErfAVX2(y, x *float32, n int)
// y = x − xc·q for x ≥ 0, xc·q for x < 0.
TEXT ·geluErfAVX2(SB), NOSPLIT, $0-24
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS gerfClamp<>(SB), Y15
	SHRQ         $3, CX
	JZ           gedone

geloop:
	VMOVUPS   (SI), Y7
	GERF8
	VMULPS    Y11, Y13, Y13
	VSUBPS    Y13, Y7, Y14
	VBLENDVPS Y7, Y13, Y14, Y14
	VMOVUPS   Y14, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       geloop

gedone:
	VZEROUPPER
	RET

// func geluErfGradAVX2(dx, x, dy *float32, n int)
// dx = dy·(Φ(x) + xc·e/sqrt(2π)).
TEXT ·geluErfGradAVX2(SB), NOSPLIT, $0-32
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSS gerfClamp<>(SB), Y15
	SHRQ         $3, CX
	JZ           gegdone

gegloop:
	VMOVUPS     (SI), Y7
	GERF8
	VMOVUPS     expOne<>(SB), Y12
	VSUBPS      Y11, Y12, Y12
	VBLENDVPS   Y7, Y11, Y12, Y12
	VMULPS      gerfInvSqrt2Pi<>(SB), Y4, Y4
	VFMADD231PS Y13, Y4, Y12
	VMULPS      (R8), Y12, Y12
	VMOVUPS     Y12, (DI)
	ADDQ        $32, SI
	ADDQ        $32, R8
	ADDQ        $32, DI
	DECQ        CX
	JNZ         gegloop

gegdone:
	VZEROUPPER
	RET

// SwiGLU: silu(g) = g·σ(g). With ex = exp(−|g|) (EXPW8 on −min(|g|, 114),
// scaled: exs = ex·2⁴⁰) and r = 1/(1 + ex):
//   σ = r for g ≥ 0 and ex·r for g < 0 (sign bit set, so −0 too), so
//   exp never overflows; σx is r for g ≥ 0 and exs·r = σ·2⁴⁰ for g < 0,
//   normal wherever σ > exp(−114), and sc is 1 for g ≥ 0 and 2⁻⁴⁰ for
//   g < 0: a product with σ is formed with σx and scaled by sc last, so
//   it rounds once into the subnormal range (and large g never overflow);
//   1 − σ = ex·r for g ≥ 0 and r for g < 0 (no cancellation).
// g is clamped to [−114, 114] in the products (silu(−Inf) = −0, gate
// factor 0 and 1 at ∓Inf; beyond the clamp the results round to 0 or are
// exact); NaN passes through the clamps (VMAXPS/VMINPS take the data as
// their NaN-passing operand), so it propagates.

CONST8(siluClamp<>, 0x42e40000)    // 114
CONST8(siluNegClamp<>, 0xc2e40000) // −114

// SIG8: for g in Y7 (Y14 = 114, Y15 = −114): Y8 = σx, Y13 = sc, Y9 = r,
// Y10 = exs·r (= (1 − σ)·2⁴⁰ for g ≥ 0). Clobbers Y0, Y3, Y4.
#define SIG8 \
	VANDPS    vecAbs<>(SB), Y7, Y0 \
	VMINPS    Y14, Y0, Y0 \
	VXORPS    vecSign<>(SB), Y0, Y0 \
	EXPW8 \
	VMULPS    gerfUnbias<>(SB), Y4, Y8 \
	VADDPS    expOne<>(SB), Y8, Y8 \
	VMOVUPS   expOne<>(SB), Y9 \
	VDIVPS    Y8, Y9, Y9 \
	VMULPS    Y9, Y4, Y10 \
	VBLENDVPS Y7, Y10, Y9, Y8 \
	VMOVUPS   expOne<>(SB), Y13 \
	VBLENDVPS Y7, gerfUnbias<>(SB), Y13, Y13

#define SILUCONSTS \
	VBROADCASTSS siluClamp<>(SB), Y14 \
	VBROADCASTSS siluNegClamp<>(SB), Y15

// func swigluAVX2(y, gate, u *float32, n int)
// y = (max(g, −114)·σx)·sc·u.
TEXT ·swigluAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	SILUCONSTS
	SHRQ $3, CX
	JZ   swdone

swloop:
	VMOVUPS (SI), Y7
	SIG8
	VMAXPS  Y7, Y15, Y11
	VMULPS  Y8, Y11, Y11
	VMULPS  Y13, Y11, Y11
	VMULPS  (DX), Y11, Y11
	VMOVUPS Y11, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     swloop

swdone:
	VZEROUPPER
	RET

// func swigluGateGradAVX2(dx, gate, u, dy *float32, n int)
// dx = (σx·(1 + gc·(1 − σ)))·sc·u·dy, gc = g clamped to [−114, 114].
TEXT ·swigluGateGradAVX2(SB), NOSPLIT, $0-40
	MOVQ dx+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ dy+24(FP), R8
	MOVQ n+32(FP), CX
	SILUCONSTS
	SHRQ $3, CX
	JZ   sgdone

sgloop:
	VMOVUPS     (SI), Y7
	SIG8
	VMULPS      gerfUnbias<>(SB), Y10, Y12
	VBLENDVPS   Y7, Y9, Y12, Y12
	VMAXPS      Y7, Y15, Y11
	VMINPS      Y11, Y14, Y11
	VFMADD213PS expOne<>(SB), Y11, Y12
	VMULPS      Y8, Y12, Y12
	VMULPS      Y13, Y12, Y12
	VMULPS      (DX), Y12, Y12
	VMULPS      (R8), Y12, Y12
	VMOVUPS     Y12, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	DECQ        CX
	JNZ         sgloop

sgdone:
	VZEROUPPER
	RET

// func swigluUpGradAVX2(dx, gate, dy *float32, n int)
// dx = (max(g, −114)·σx)·sc·dy.
TEXT ·swigluUpGradAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ dy+16(FP), R8
	MOVQ n+24(FP), CX
	SILUCONSTS
	SHRQ $3, CX
	JZ   sudone

suloop:
	VMOVUPS (SI), Y7
	SIG8
	VMAXPS  Y7, Y15, Y11
	VMULPS  Y8, Y11, Y11
	VMULPS  Y13, Y11, Y11
	VMULPS  (R8), Y11, Y11
	VMOVUPS Y11, (DI)
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, DI
	DECQ    CX
	JNZ     suloop

sudone:
	VZEROUPPER
	RET

// Row kernels of LayerNorm (float32 data, float64 sums). n is a multiple
// of 8. Sums use two float64 accumulators of 4 lanes each.

#define CVTADD(srcx, src, acc0, acc1, tmp) \
	VCVTPS2PD    srcx, Y13 \
	VEXTRACTF128 $1, src, tmp \
	VCVTPS2PD    tmp, Y14 \
	VADDPD       Y13, acc0, acc0 \
	VADDPD       Y14, acc1, acc1

#define HSUM(acc0, acc1, out) \
	VADDPD       acc1, acc0, acc0 \
	VEXTRACTF128 $1, acc0, X13 \
	VADDPD       X13, X0, X0 \
	VHADDPD      X0, X0, X0 \
	MOVSD        X0, out

// func sum64AVX2(x *float32, n int) float64
TEXT ·sum64AVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	SHRQ   $3, CX
	JZ     s64done

s64loop:
	VMOVUPS (SI), Y2
	CVTADD(X2, Y2, Y0, Y1, X3)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     s64loop

s64done:
	HSUM(Y0, Y1, ret+16(FP))
	VZEROUPPER
	RET

// func sqDev64AVX2(x *float32, n int, mean float32) float64
// Σ (x − mean)², the difference in float32, the square and sum in float64.
TEXT ·sqDev64AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS mean+16(FP), Y15
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	SHRQ         $3, CX
	JZ           sqdone

sqloop:
	VMOVUPS      (SI), Y2
	VSUBPS       Y15, Y2, Y2
	VCVTPS2PD    X2, Y4
	VEXTRACTF128 $1, Y2, X3
	VCVTPS2PD    X3, Y5
	VFMADD231PD  Y4, Y4, Y0
	VFMADD231PD  Y5, Y5, Y1
	ADDQ         $32, SI
	DECQ         CX
	JNZ          sqloop

sqdone:
	HSUM(Y0, Y1, ret+24(FP))
	VZEROUPPER
	RET

// func lnRowAVX2(y, x, w, b *float32, n int, mean, inv float32)
// y = (x − mean)·inv·w + b.
TEXT ·lnRowAVX2(SB), NOSPLIT, $0-48
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS mean+40(FP), Y14
	VBROADCASTSS inv+44(FP), Y15
	SHRQ         $3, CX
	JZ           lndone

lnloop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y14, Y0, Y0
	VMULPS      Y15, Y0, Y0
	VMOVUPS     (R8), Y1
	VFMADD231PS (DX), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	DECQ        CX
	JNZ         lnloop

lndone:
	VZEROUPPER
	RET

// func lnGradSumsAVX2(x, w, dy *float32, n int, mean, inv float32) (sg, sgx float64)
// g = dy·w, x̂ = (x − mean)·inv; returns Σ g and Σ g·x̂ (float64).
TEXT ·lnGradSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         w+8(FP), DX
	MOVQ         dy+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSS mean+32(FP), Y11
	VBROADCASTSS inv+36(FP), Y12
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	SHRQ         $3, CX
	JZ           gsdone

gsloop:
	VMOVUPS (SI), Y2
	VSUBPS  Y11, Y2, Y2
	VMULPS  Y12, Y2, Y2
	VMOVUPS (R8), Y3
	VMULPS  (DX), Y3, Y3
	CVTADD(X3, Y3, Y0, Y1, X4)
	VMULPS  Y2, Y3, Y3
	CVTADD(X3, Y3, Y6, Y7, X4)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     gsloop

gsdone:
	HSUM(Y0, Y1, sg+40(FP))
	VMOVAPD Y6, Y0
	HSUM(Y0, Y7, sgx+48(FP))
	VZEROUPPER
	RET

// func lnGradDxAVX2(dx, x, w, dy *float32, n int, mean, inv, mg, mgx float32)
// dx = (dy·w − mg − x̂·mgx)·inv with x̂ = (x − mean)·inv.
TEXT ·lnGradDxAVX2(SB), NOSPLIT, $0-56
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         dy+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS mean+40(FP), Y11
	VBROADCASTSS inv+44(FP), Y12
	VBROADCASTSS mg+48(FP), Y13
	VBROADCASTSS mgx+52(FP), Y14
	SHRQ         $3, CX
	JZ           gddone

gdloop:
	VMOVUPS      (SI), Y2
	VSUBPS       Y11, Y2, Y2
	VMULPS       Y12, Y2, Y2
	VMOVUPS      (R8), Y3
	VMULPS       (DX), Y3, Y3
	VSUBPS       Y13, Y3, Y3
	VFNMADD231PS Y14, Y2, Y3
	VMULPS       Y12, Y3, Y3
	VMOVUPS      Y3, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, R8
	ADDQ         $32, DI
	DECQ         CX
	JNZ          gdloop

gddone:
	VZEROUPPER
	RET

// func max32AVX2(x *float32, n int) float32
// n is a multiple of 8 and ≥ 8.
TEXT ·max32AVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	SHRQ    $3, CX
	VMOVUPS (SI), Y0
	ADDQ    $32, SI
	DECQ    CX
	JZ      mxdone

mxloop:
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	DECQ   CX
	JNZ    mxloop

mxdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	MOVSS        X0, ret+16(FP)
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

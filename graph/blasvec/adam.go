package blasvec

import "math"

// Adam32 holds the float32 constants of one Adam or AdamW step (see
// AdamStep32). The caller rounds each one from float64 once.
type Adam32 struct {
	Clip     float32 // gradient scale, used when Scaled
	WD       float32 // L2 coefficient, used when L2
	Decay    float32 // decoupled decay multiplier 1 − lr·wd, used when Decoupled
	B1, B2   float32 // β1, β2
	OmB1     float32 // 1 − β1
	OmB2     float32 // 1 − β2
	StepSize float32 // lr / (1 − β1ᵗ)
	SqrtBC2  float32 // √(1 − β2ᵗ)
	Eps      float32 // ε

	Scaled    bool // multiply the gradient by Clip
	L2        bool // add WD·θ to the gradient (Adam's coupled decay)
	Decoupled bool // multiply θ by Decay before the update (AdamW)
}

// adamConsts is Adam32 as the kernel reads it: ten float32 and a flag word
// (bit 0 Scaled, bit 1 L2, bit 2 Decoupled).
type adamConsts struct {
	clip, wd, decay, b1, b2, omb1, omb2, stepSize, sqrtBC2, eps float32
	flags                                                       uint32
}

// AdamStep32 applies one Adam/AdamW update in float32 to p (parameters),
// m (first moment) and v (second moment) from the gradient g, element by
// element:
//
//	gi = g[i]; if Scaled: gi = gi·Clip; if L2: gi = gi + WD·p[i]
//	if Decoupled: p[i] = p[i]·Decay
//	m[i] = B1·m[i] + OmB1·gi
//	v[i] = B2·v[i] + (OmB2·gi)·gi
//	p[i] = p[i] − StepSize·(m[i] / (√v[i] / SqrtBC2 + Eps))
//
// each operation rounded to float32 on its own (no fused multiply-add; the
// square root and the divisions correctly rounded), so the lanes and the
// plain-Go loop give the same bits. len(g), len(m), len(v) must be
// ≥ len(p).
func AdamStep32(p, g, m, v []float32, c *Adam32) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	head := 0
	if vecOK {
		head = n &^ 7
		if head > 0 {
			k := adamConsts{c.Clip, c.WD, c.Decay, c.B1, c.B2, c.OmB1, c.OmB2, c.StepSize, c.SqrtBC2, c.Eps, 0}
			if c.Scaled {
				k.flags |= 1
			}
			if c.L2 {
				k.flags |= 2
			}
			if c.Decoupled {
				k.flags |= 4
			}
			adamAVX2(&p[0], &g[0], &m[0], &v[0], head, &k)
		}
	}
	adamGo(p[head:], g[head:], m[head:], v[head:], c)
}

// adamGo is AdamStep32 without the kernel (and the kernel's tail).
func adamGo(p, g, m, v []float32, c *Adam32) {
	clip, wd, decay := c.Clip, c.WD, c.Decay
	b1, b2, omb1, omb2 := c.B1, c.B2, c.OmB1, c.OmB2
	stepSize, sqrtBC2, eps := c.StepSize, c.SqrtBC2, c.Eps
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i]
		if c.Scaled {
			gi *= clip
		}
		if c.L2 {
			gi += wd * p[i]
		}
		if c.Decoupled {
			p[i] *= decay
		}
		m[i] = b1*m[i] + omb1*gi
		v[i] = b2*v[i] + omb2*gi*gi
		p[i] -= stepSize * (m[i] / (float32(math.Sqrt(float64(v[i])))/sqrtBC2 + eps))
	}
}

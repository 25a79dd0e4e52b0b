package objectives

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
)

// Inputs are the per-sequence nodes an objective reads, each a vector [B]
// over preference pairs, all of one float dtype. PolicyRejected may be the
// gated value (gating.Apply upstream of the masked sum); the objective does
// not know. ReferenceChosen/ReferenceRejected may be nil for objectives
// that do not use a reference (simpo, sft). ChosenLens and RejectedLens
// hold the response lengths |y⁺|, |y⁻| (token counts, as floats).
type Inputs struct {
	PolicyChosen      *G.Node // pc = LP_θ(y⁺|x), [B]
	PolicyRejected    *G.Node // pr = LP_θ(y⁻|x), [B] (possibly gated)
	ReferenceChosen   *G.Node // rc = LP_ref(y⁺|x), [B] (no gradient)
	ReferenceRejected *G.Node // rr = LP_ref(y⁻|x), [B] (no gradient)
	ChosenLens        *G.Node // n⁺ = |y⁺|, [B]
	RejectedLens      *G.Node // n⁻ = |y⁻|, [B]
}

// Result holds the nodes an objective adds to a graph.
type Result struct {
	Loss    *G.Node            // scalar loss (mean over pairs; token means for sft / rpo "token")
	PerPair *G.Node            // [B] per-pair losses; mean(PerPair) = Loss up to rounding
	Terms   map[string]*G.Node // [B] per-pair components: cal_dpo "bt", "cal"; rpo "pref", "nll"
}

// Build adds objective s to the graph of in's nodes and returns its loss,
// per-pair loss and per-pair terms (golden README "Objectives"). It is a
// pure function of per-sequence log-prob nodes: it knows nothing of the
// model, the gate, or where the reference values came from.
func Build(s Spec, in Inputs) (res Result, err error) {
	if err := s.Validate(); err != nil {
		return Result{}, fmt.Errorf("objective %s: %w", s.Name, err)
	}
	if in.PolicyChosen == nil || in.ChosenLens == nil {
		return Result{}, fmt.Errorf("objective %s: PolicyChosen and ChosenLens are required", s.Name)
	}
	if s.ReadsRejected() && (in.PolicyRejected == nil || in.RejectedLens == nil) {
		return Result{}, fmt.Errorf("objective %s: PolicyRejected and RejectedLens are required", s.Name)
	}
	if s.UsesReference() && (in.ReferenceChosen == nil || in.ReferenceRejected == nil) {
		return Result{}, fmt.Errorf("objective %s needs the reference log-probs", s.Name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("objective %s: building the graph: %v", s.Name, r)
		}
	}()
	b := builder{g: in.PolicyChosen.Graph(), dt: in.PolicyChosen.Dtype()}
	switch s.Name {
	case DPO:
		res = b.dpo(s, in)
	case IPO:
		res = b.ipo(s, in)
	case CalDPO:
		res = b.calDPO(s, in)
	case RPO:
		res = b.rpo(s, in)
	case SimPO:
		res = b.simpo(s, in)
	case DPOP:
		res = b.dpop(s, in)
	case APOZero:
		res = b.apoZero(s, in)
	case APODown:
		res = b.apoDown(s, in)
	case NCAPair:
		res = b.ncaPair(s, in)
	case SFT:
		res = b.sft(in)
	}
	return res, nil
}

// builder holds the graph and dtype and wraps Gorgonia's Must-style calls;
// a panic inside is turned into an error by Build.
type builder struct {
	g  *G.ExprGraph
	dt tensor.Dtype
}

// c returns a named scalar constant of the graph's dtype. The name carries
// the exact value, so different constants never merge (GORGONIA.md).
func (b builder) c(v float64) *G.Node {
	var val any = v
	if b.dt == tensor.Float32 {
		val = float32(v)
	}
	return G.NewConstant(val, G.WithName("objectives.c="+fmtF(v)), G.In(b.g))
}

func (b builder) sub(x, y *G.Node) *G.Node { return G.Must(G.Sub(x, y)) }
func (b builder) add(x, y *G.Node) *G.Node { return G.Must(G.Add(x, y)) }
func (b builder) scale(a float64, x *G.Node) *G.Node {
	return G.Must(G.Mul(b.c(a), x))
}
func (b builder) div(x, y *G.Node) *G.Node { return G.Must(G.HadamardDiv(x, y)) }
func (b builder) sq(x *G.Node) *G.Node     { return G.Must(G.Square(x)) }
func (b builder) mean(x *G.Node) *G.Node   { return G.Must(G.Mean(x)) }
func (b builder) neg(x *G.Node) *G.Node    { return G.Must(G.Neg(x)) }

// nls is −log σ(x), elementwise, evaluated stably (softplus(−x)).
func (b builder) nls(x *G.Node) *G.Node { return G.Must(graph.NegLogSigmoid(x)) }

// sig is σ(x) = exp(−(−log σ(x))), elementwise: composed from
// NegLogSigmoid and Exp, so its gradient σ(x)·σ(−x) comes from verified
// pieces, and it neither overflows nor returns NaN at large |x|.
func (b builder) sig(x *G.Node) *G.Node { return G.Must(G.Exp(b.neg(b.nls(x)))) }

// pos is max(0, x), elementwise, as x·[x > 0]: the strict comparison is a
// constant of the backward pass, so the gradient is 1 for x > 0 and 0 for
// x ≤ 0 — the subgradient at exactly 0 is 0.
func (b builder) pos(x *G.Node) *G.Node {
	mask := G.Must(G.Gt(x, b.c(0), true))
	return G.Must(G.HadamardProd(x, mask))
}

// logratios returns r⁺ = pc − rc and r⁻ = pr − rr.
func (b builder) logratios(in Inputs) (rw, rl *G.Node) {
	return b.sub(in.PolicyChosen, in.ReferenceChosen), b.sub(in.PolicyRejected, in.ReferenceRejected)
}

// dpo: ℓ_i = −(1−ε)·log σ(β h_i) − ε·log σ(−β h_i), h = (pc − rc) − (pr − rr).
// Rafailov et al. 2023, arXiv:2305.18290, eq. 7; label smoothing ε is the
// conservative DPO (cDPO) of Mitchell 2023. ε = 0 computes exactly −log σ(βh).
func (b builder) dpo(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	z := b.scale(s.Beta, b.sub(rw, rl)) // β h                       (eq. 7)
	per := b.nls(z)                     // −log σ(β h)
	if s.LabelSmoothing != 0 {
		eps := s.LabelSmoothing
		per = b.add(b.scale(1-eps, per), b.scale(eps, b.nls(b.neg(z)))) // cDPO
	}
	return Result{Loss: b.mean(per), PerPair: per}
}

// ipo: ℓ_i = (h_i − 1/(2β))²; with length_normalize every LP is first
// divided by its own length: h = (pc/n⁺ − rc/n⁺) − (pr/n⁻ − rr/n⁻).
// Azar et al. 2023, arXiv:2310.12036, eq. 17 (β plays the role of τ).
func (b builder) ipo(s Spec, in Inputs) Result {
	var h *G.Node
	if s.LengthNormalize {
		nc, nr := in.ChosenLens, in.RejectedLens
		h = b.sub(b.sub(b.div(in.PolicyChosen, nc), b.div(in.ReferenceChosen, nc)),
			b.sub(b.div(in.PolicyRejected, nr), b.div(in.ReferenceRejected, nr)))
	} else {
		rw, rl := b.logratios(in)
		h = b.sub(rw, rl)
	}
	per := b.sq(b.sub(h, b.c(1/(2*s.Beta)))) // (h − 1/(2β))²   (eq. 17)
	return Result{Loss: b.mean(per), PerPair: per}
}

// cal_dpo: ℓ_i = −log σ(r⁺ − r⁻) + w·[(r⁺ − 1/(2β))² + (r⁻ + 1/(2β))²], no β
// inside σ. Xiao et al., NeurIPS 2024 (Cal-DPO), arXiv:2412.14516, eq. 9
// as in the authors' code; w = cal_weight (1.0 Pythia code, 0.5 Zephyr code).
func (b builder) calDPO(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	t := 1 / (2 * s.Beta)
	bt := b.nls(b.sub(rw, rl))                                     // −log σ(r⁺ − r⁻)
	cal := b.add(b.sq(b.sub(rw, b.c(t))), b.sq(b.add(rl, b.c(t)))) // (r⁺ − 1/2β)² + (r⁻ + 1/2β)²
	per := b.add(bt, b.scale(s.CalWeight, cal))
	return Result{Loss: b.mean(per), PerPair: per, Terms: map[string]*G.Node{"bt": bt, "cal": cal}}
}

// nllTerms returns the per-pair NLL contribution [B] and the batch NLL
// scalar, with mean(per) = batch up to rounding:
// mean: −pc_i/n⁺_i; sum: −pc_i; token: B·(−pc_i)/N with batch N = Σ_j n⁺_j,
// batch Σ_j(−pc_j)/N.
func (b builder) nllTerms(norm string, in Inputs) (per, batch *G.Node) {
	negPC := b.neg(in.PolicyChosen)
	switch norm {
	case SFTNormMean:
		per = b.div(negPC, in.ChosenLens)
		return per, b.mean(per)
	case SFTNormSum:
		return negPC, b.mean(negPC)
	}
	nTok := G.Must(G.Sum(in.ChosenLens))              // N = Σ n⁺
	B := float64(in.PolicyChosen.Shape()[0])          // pairs
	per = G.Must(G.Div(b.scale(B, negPC), nTok))      // B·(−pc_i)/N
	batch = G.Must(G.Div(G.Must(G.Sum(negPC)), nTok)) // Σ(−pc)/N
	return per, batch
}

// rpo: ℓ_i = −log σ(β h_i) + α·NLL_i(y⁺) (NLL by sft_norm, see nllTerms);
// the loss is mean_i ℓ_i, except for sft_norm "token": mean_i(pref_i) +
// α·Σ(−pc)/N. Pang et al. 2024, arXiv:2404.19733 (Iterative RPO), eq. 1.
func (b builder) rpo(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	pref := b.nls(b.scale(s.Beta, b.sub(rw, rl))) // −log σ(β h)
	nllPer, nll := b.nllTerms(s.SFTNorm, in)
	per := b.add(pref, b.scale(s.Alpha, nllPer))
	loss := b.mean(per)
	if s.SFTNorm == SFTNormToken {
		loss = b.add(b.mean(pref), b.scale(s.Alpha, nll))
	}
	return Result{Loss: loss, PerPair: per, Terms: map[string]*G.Node{"pref": pref, "nll": nllPer}}
}

// simpo: ℓ_i = −log σ(β·pc_i/n⁺_i − β·pr_i/n⁻_i − γ), no reference.
// Meng et al. 2024, arXiv:2405.14734, eq. 6.
func (b builder) simpo(s Spec, in Inputs) Result {
	z := b.sub(b.sub(b.scale(s.Beta, b.div(in.PolicyChosen, in.ChosenLens)),
		b.scale(s.Beta, b.div(in.PolicyRejected, in.RejectedLens))), b.c(s.Gamma)) // (eq. 6)
	per := b.nls(z)
	return Result{Loss: b.mean(per), PerPair: per}
}

// sft: loss = Σ_i(−pc_i) / Σ_i n⁺_i, the token-mean NLL of the chosen
// responses; the pair's entry of PerPair is its share B·(−pc_i)/N.
func (b builder) sft(in Inputs) Result {
	per, loss := b.nllTerms(SFTNormToken, in)
	return Result{Loss: loss, PerPair: per}
}

// dpop: ℓ_i = −log σ(β·(r⁺ − r⁻ − λ·max(0, −r⁺))), DPO-Positive. Pal et
// al. 2024 ("Smaug"), arXiv:2402.13228: the penalty max(0, −r⁺) =
// max(0, log π_ref(y⁺) − log π_θ(y⁺)) is positive only while the policy's
// chosen log-prob is below the reference's; its subgradient at exactly 0
// is 0. Term "penalty" = max(0, −r⁺).
func (b builder) dpop(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	pen := b.pos(b.neg(rw))                                                     // max(0, −r⁺)
	per := b.nls(b.scale(s.Beta, b.sub(b.sub(rw, rl), b.scale(s.Lambda, pen)))) // −log σ(β(h − λ·pen))
	return Result{Loss: b.mean(per), PerPair: per, Terms: map[string]*G.Node{"penalty": pen}}
}

// apo_zero: ℓ_i = (1 − σ(β r⁺)) + σ(β r⁻), Anchored Preference
// Optimization, D'Oosterlinck et al. 2024, arXiv:2408.06266, eq. 7: pushes
// the chosen likelihood up and the rejected down, each against the
// reference. 1 − σ(x) is computed as σ(−x). Terms "chosen", "rejected".
func (b builder) apoZero(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	lc := b.sig(b.neg(b.scale(s.Beta, rw))) // 1 − σ(β r⁺)
	lr := b.sig(b.scale(s.Beta, rl))        // σ(β r⁻)
	per := b.add(lc, lr)
	return Result{Loss: b.mean(per), PerPair: per, Terms: map[string]*G.Node{"chosen": lc, "rejected": lr}}
}

// apo_down: ℓ_i = σ(β r⁺) + (1 − σ(β(r⁺ − r⁻))), D'Oosterlinck et al.
// 2024, eq. 8: pushes the chosen likelihood down while widening the
// margin, for chosen responses worse than the model's own. Terms
// "chosen", "rejected".
func (b builder) apoDown(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	lc := b.sig(b.scale(s.Beta, rw))                   // σ(β r⁺)
	lr := b.sig(b.neg(b.scale(s.Beta, b.sub(rw, rl)))) // 1 − σ(β(r⁺ − r⁻))
	per := b.add(lc, lr)
	return Result{Loss: b.mean(per), PerPair: per, Terms: map[string]*G.Node{"chosen": lc, "rejected": lr}}
}

// nca_pair: ℓ_i = −log σ(β r⁺) − ½·log σ(−β r⁺) − ½·log σ(−β r⁻), Noise
// Contrastive Alignment in its pairwise form (K = 2 responses), Chen et
// al. 2024, arXiv:2402.05369: an absolute likelihood target per response
// instead of a relative margin.
func (b builder) ncaPair(s Spec, in Inputs) Result {
	rw, rl := b.logratios(in)
	zw, zl := b.scale(s.Beta, rw), b.scale(s.Beta, rl)
	per := b.add(b.nls(zw), b.scale(0.5, b.add(b.nls(b.neg(zw)), b.nls(b.neg(zl)))))
	return Result{Loss: b.mean(per), PerPair: per}
}

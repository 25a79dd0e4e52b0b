package toy

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// F1bConfig configures the multi-step toy experiment (figure F1b,
// docs/method.md): DPO on one preference pair of the toy model in which
// the chosen class y⁺ is scored in its context x⁺ and the rejected class
// y⁻ in its own context x⁻ ≠ x⁺, as in a language model where rejected
// tokens follow rejected prefixes. Both contexts share W and the same
// peak class; y⁻ sits in a valley of x⁻. The initial model is the frozen
// reference. Steps gradient-descent steps.
type F1bConfig struct {
	K, D          int     // classes and feature size (default 50 and 8)
	Chosen        int     // y⁺ (default 20)
	Rejected      int     // y⁻ (default 30)
	Peak          int     // the argmax class of both contexts (default 10)
	Overlap       float64 // cosine between x⁺ and x⁻, in [0, 1) (default 0.5)
	RejectedLogit float64 // initial logit of y⁻ in x⁻; the peak's is 7 (default −2)
	Steps         int     // optimizer steps (default 200)
	LR            float64 // gradient-descent step size (default 0.5)
	Beta          float64 // DPO β (default 1)
}

// DefaultF1bConfig returns the defaults: K 50, d 8, y⁺ 20, y⁻ 30, peak 10,
// overlap 0.5, y⁻ at logit −2 in x⁻, 200 steps, lr 0.5, β 1. Both contexts
// have ‖x‖ = 2 and peaky logits (the peak at 7, its neighbours at 4.5 and
// 2, the rest N(0, 0.25)); y⁺ sits at logit 3 in x⁺.
func DefaultF1bConfig() F1bConfig {
	return F1bConfig{K: 50, D: 8, Chosen: 20, Rejected: 30, Peak: 10, Overlap: 0.5, RejectedLogit: -2,
		Steps: 200, LR: 0.5, Beta: 1}
}

// F1bPoint is one step of a multi-step toy trace (the columns of
// results.ToyF1bColumns other than method and seed). Step 0 is before
// any update.
type F1bPoint struct {
	Step             int     `json:"step"`
	LogpChosen       float64 `json:"logp_chosen"`        // log p(y⁺|x⁺)
	LogpRejected     float64 `json:"logp_rejected"`      // log p(y⁻|x⁻)
	Top1Mass         float64 `json:"top1_mass"`          // max_v p(v|x⁺)
	Entropy          float64 `json:"entropy"`            // −Σ_v p(v|x⁺) log p(v|x⁺) (nats)
	Top1MassRejected float64 `json:"top1_mass_rejected"` // max_v p(v|x⁻)
}

// Method names a trace: "dpo" when ungated, else the gate's String().
func Method(gate gating.Spec) string {
	if gate.Off() {
		return "dpo"
	}
	return gate.String()
}

func (c F1bConfig) validate() error {
	in := func(k int) bool { return k >= 0 && k < c.K }
	if c.K < 4 || c.D < 2 || c.Steps < 0 || !in(c.Chosen) || !in(c.Rejected) || !in(c.Peak) ||
		c.Chosen == c.Rejected || c.Peak == c.Chosen || c.Peak == c.Rejected ||
		!(c.Overlap >= 0 && c.Overlap < 1) || !(c.RejectedLogit < 7) || !(c.Beta > 0) || !(c.LR > 0) {
		return fmt.Errorf("toy F1b: invalid config %+v (need K ≥ 4, D ≥ 2, distinct classes below K, overlap in [0, 1), y⁻ logit < 7, β > 0, lr > 0)", c)
	}
	return nil
}

// F1b runs the multi-step toy for one seed and gate: per step the DPO loss
//
//	−log σ(β[(log p(y⁺|x⁺) − log p_ref(y⁺|x⁺)) − (log p̃(y⁻|x⁻) − log p_ref(y⁻|x⁻))])
//
// (objectives "dpo", with the gate on log p(y⁻|x⁻)), and returns Steps+1
// points. The seed draws the contexts, the base of W and the logit noise
// (graph.NewRNG); W is then the smallest change of that base giving each
// context its peaky logits exactly.
func F1b(cfg F1bConfig, seed uint64, gate gating.Spec) ([]F1bPoint, error) {
	pts, _, err := runF1b(cfg, seed, gate, nil)
	return pts, err
}

// f1bSetup draws the contexts x⁺, x⁻ and the initial toy of F1b.
func f1bSetup(cfg F1bConfig, seed uint64) (model *models.Toy, xp, xm []float64, err error) {
	rng := graph.NewRNG(seed)
	norm := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	}
	xp = make([]float64, cfg.D)
	for i := range xp {
		xp[i] = rng.NormFloat64()
	}
	n := norm(xp)
	for i := range xp {
		xp[i] *= 2 / n // ‖x⁺‖ = 2
	}
	// x⁻ = c·x⁺ + √(1−c²)·2û with û ⟂ x⁺: ‖x⁻‖ = 2, cos(x⁺, x⁻) = c.
	u := make([]float64, cfg.D)
	dot := 0.0
	for i := range u {
		u[i] = rng.NormFloat64()
		dot += u[i] * xp[i] / 4
	}
	for i := range u {
		u[i] -= dot * xp[i]
	}
	n = norm(u)
	xm = make([]float64, cfg.D)
	for i := range xm {
		xm[i] = cfg.Overlap*xp[i] + math.Sqrt(1-cfg.Overlap*cfg.Overlap)*2*u[i]/n
	}
	base := make([]float64, cfg.D*cfg.K)
	for i := range base {
		base[i] = 0.1 * rng.NormFloat64()
	}
	zp := toyPeakyLogits(rng, cfg.K, cfg.Peak)
	zp[cfg.Chosen], zp[cfg.Rejected] = 3, 2.5
	zm := toyPeakyLogits(rng, cfg.K, cfg.Peak)
	zm[cfg.Rejected] = cfg.RejectedLogit
	w, err := weightsFor2(xp, xm, base, zp, zm, cfg.D, cfg.K)
	if err != nil {
		return nil, nil, nil, err
	}
	model, err = models.NewToy(xp, w, cfg.D, cfg.K)
	return model, xp, xm, err
}

// runF1b runs F1b and returns its points and the last step's
// log p(·|x⁻); visit, when not nil, sees the model before every step.
func runF1b(cfg F1bConfig, seed uint64, gate gating.Spec, visit func(*models.Toy)) ([]F1bPoint, []float64, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	if err := gate.Validate(); err != nil {
		return nil, nil, fmt.Errorf("toy F1b: gate: %w", err)
	}
	model, xp, xm, err := f1bSetup(cfg, seed)
	if err != nil {
		return nil, nil, err
	}
	refC, refR := model.LogProbsAt(xp)[cfg.Chosen], model.LogProbsAt(xm)[cfg.Rejected]
	st, err := newDPO(model, xp, xm, cfg, refC, refR, gate)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	points := make([]F1bPoint, 0, cfg.Steps+1)
	for step := 0; ; step++ {
		lp := model.LogProbsAt(xp)
		lm := model.LogProbsAt(xm)
		pt := F1bPoint{Step: step, LogpChosen: lp[cfg.Chosen], LogpRejected: lm[cfg.Rejected]}
		for j := range lp {
			p := math.Exp(lp[j])
			pt.Top1Mass = math.Max(pt.Top1Mass, p)
			if p > 0 {
				pt.Entropy -= p * lp[j]
			}
			pt.Top1MassRejected = math.Max(pt.Top1MassRejected, math.Exp(lm[j]))
		}
		points = append(points, pt)
		if step == cfg.Steps {
			return points, lm, nil
		}
		if visit != nil {
			visit(model)
		}
		if _, err := st.Take(cfg.LR); err != nil {
			return nil, nil, fmt.Errorf("toy F1b step %d: %w", step, err)
		}
	}
}

// weightsFor2 returns W = B + X(XᵀX)⁻¹(Z − XᵀB) with X = [x⁺ x⁻] and
// Z = [z⁺ z⁻]ᵀ: the smallest change of a base B (Frobenius norm) with
// Wᵀx⁺ = z⁺ and Wᵀx⁻ = z⁻ exactly.
func weightsFor2(xp, xm, base, zp, zm []float64, d, k int) ([]float64, error) {
	var a, b, c float64 // XᵀX = [[a, b], [b, c]]
	for i := 0; i < d; i++ {
		a += xp[i] * xp[i]
		b += xp[i] * xm[i]
		c += xm[i] * xm[i]
	}
	det := a*c - b*b
	if !(det > 1e-12*a*c) {
		return nil, fmt.Errorf("toy F1b: contexts are parallel")
	}
	w := append([]float64(nil), base...)
	for j := 0; j < k; j++ {
		var bp, bm float64
		for i := 0; i < d; i++ {
			bp += xp[i] * base[i*k+j]
			bm += xm[i] * base[i*k+j]
		}
		rp, rm := zp[j]-bp, zm[j]-bm
		cp, cm := (c*rp-b*rm)/det, (a*rm-b*rp)/det // (XᵀX)⁻¹ [rp, rm]
		for i := 0; i < d; i++ {
			w[i*k+j] += xp[i]*cp + xm[i]*cm
		}
	}
	return w, nil
}

// newDPO builds the DPO loss of one (y⁺|x⁺, y⁻|x⁻) pair as a Step:
// objectives.Build("dpo", β) over [1]-vectors, the gate on log p(y⁻|x⁻).
func newDPO(model *models.Toy, xp, xm []float64, cfg F1bConfig, refC, refR float64, gate gating.Spec) (ts *Step, err error) {
	defer recoverBuild("toy dpo", &err)
	ts = newStep(model, []int{cfg.Chosen}, []int{cfg.Rejected}, gate)
	vec := func(name string, v float64) *G.Node {
		return G.NewVector(ts.g, tensor.Float64, G.WithShape(1), G.WithName("toy."+name),
			G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{v}))))
	}
	pc := ts.classLogps("chosen", xp, []int{cfg.Chosen}) // [1]
	gated, err := ts.gated("rejected", xm, []int{cfg.Rejected})
	if err != nil {
		return nil, err
	}
	res, err := objectives.Build(objectives.Spec{Name: objectives.DPO, Beta: cfg.Beta}, objectives.Inputs{
		PolicyChosen: pc, PolicyRejected: G.Must(G.Reshape(gated, tensor.Shape{1})),
		ReferenceChosen: vec("ref_chosen", refC), ReferenceRejected: vec("ref_rejected", refR),
		ChosenLens: vec("one_c", 1), RejectedLens: vec("one_r", 1),
	})
	if err != nil {
		return nil, err
	}
	return ts, ts.compile(res.Loss)
}

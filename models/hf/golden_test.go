package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/graph"
	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
	"gatedpo/models"
)

// sharedHF finds ../shared/hf next to the module root, or skips.
func sharedHF(t testing.TB) string {
	t.Helper()
	return filepath.Join(sharedtest.Dir(t, "hf/golden/golden.json"), "hf")
}

// goldenSet is golden/golden.json of a set made by shared/hf/peer/make_hf.py.
type goldenSet struct {
	Set     string  `json:"set"`
	Beta    float64 `json:"dpo_beta"`
	Batch   hfBatch `json:"batch"`
	Models  map[string]goldenModel
	RawJSON map[string]json.RawMessage `json:"-"`
}

// hfBatch is the goldens' batch layout: ids rows, chosen and rejected row
// indices per pair, response masks.
type hfBatch struct {
	IDs          [][]int `json:"ids"`
	ResponseMask [][]int `json:"response_mask"`
	Pairs        [][2]int
	ChosenRows   []int `json:"chosen_rows"`
	RejectedRows []int `json:"rejected_rows"`
	PadID        int   `json:"pad_id"`
	T            int   `json:"T"`
}

type goldenLogps struct {
	File       string      `json:"file"`
	TokenLogps [][]float64 `json:"token_logps"`
	SeqLogps   []float64   `json:"seq_logps"`
}

type goldenLoss struct {
	Loss            float64   `json:"loss"`
	PerPairLoss     []float64 `json:"per_pair_loss"`
	MarginH         []float64 `json:"margin_h"`
	ChosenRewards   []float64 `json:"chosen_rewards"`
	RejectedRewards []float64 `json:"rejected_rewards"`
	GradFile        string    `json:"grad_file"`
}

type goldenModel struct {
	ModelType      string          `json:"model_type"`
	Dir            string          `json:"dir"`
	Files          []string        `json:"files"`
	WeightsDtype   string          `json:"weights_dtype"`
	Ignored        []string        `json:"ignored_tensors"`
	NumParameters  int             `json:"num_parameters"`
	ParamNames     []string        `json:"param_names"`
	LogitsRow0     [][]float64     `json:"logits_row0"`
	Policy         goldenLogps     `json:"policy"`
	Reference      goldenLogps     `json:"reference"`
	DPO            goldenLoss      `json:"dpo"`
	DPOSelfRef     goldenLoss      `json:"dpo_selfref"`
	Config         json.RawMessage `json:"config"`
	ReferenceScale float64         `json:"-"`
}

func readGoldenSet(t testing.TB, root string) goldenSet {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "golden", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenSet
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Models) == 0 || len(g.Batch.IDs) == 0 {
		t.Fatalf("%s: golden.json has no models or no batch", root)
	}
	return g
}

// runResult is what one forward (and backward) run gives.
type runResult struct {
	logits []float64            // [n·t·V]
	lp     []float64            // [n·(t−1)]
	grads  map[string][]float64 // by checkpoint name (nil for forward only)
}

// runLM builds lm on ids and, when w is not nil, the loss Σ W ⊙ lp and
// every parameter's gradient.
func runLM(t testing.TB, lm models.LM, ids [][]int, w [][]float64) runResult {
	t.Helper()
	g := G.NewGraph()
	n, tt := len(ids), len(ids[0])
	f, err := lm.Build(g, n, tt)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetIDs(ids); err != nil {
		t.Fatal(err)
	}
	var logitsV, lpV G.Value
	logits, err := f.LogitsNode()
	if err != nil {
		t.Fatal(err)
	}
	G.Read(logits, &logitsV)
	G.Read(f.TokenLogps, &lpV)
	var opts []G.VMOpt
	if w != nil {
		wt := tensor.New(tensor.Of(lm.Dtype()), tensor.WithShape(n, tt-1))
		for i := range w {
			for p, v := range w[i] {
				if lm.Dtype() == tensor.Float64 {
					wt.Data().([]float64)[i*(tt-1)+p] = v
				} else {
					wt.Data().([]float32)[i*(tt-1)+p] = float32(v)
				}
			}
		}
		wn := G.NewMatrix(g, lm.Dtype(), G.WithShape(n, tt-1), G.WithName("test.lp_weights"), G.WithValue(wt))
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(f.TokenLogps, wn))))
		if _, err := G.Grad(loss, f.ParamNodes()...); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, G.BindDualValues(f.ParamNodes()...))
	}
	m := G.NewTapeMachine(g, opts...)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	r := runResult{logits: graph.Float64s(logitsV), lp: graph.Float64s(lpV)}
	if w != nil {
		r.grads = map[string][]float64{}
		for _, p := range f.Params {
			gv, err := p.Node.Grad()
			if err != nil {
				t.Fatal(err)
			}
			r.grads[p.Name] = graph.Float64s(gv)
		}
	}
	return r
}

// seqLogps sums lp [n·(t−1)] over response_mask[r][p+1].
func seqLogps(lp []float64, masks [][]int) []float64 {
	out := make([]float64, len(masks))
	for r, m := range masks {
		tm1 := len(m) - 1
		for p := 0; p < tm1; p++ {
			out[r] += float64(m[p+1]) * lp[r*tm1+p]
		}
	}
	return out
}

// relMax is max|a − b| / max|b| (absolute when b is all zero).
func relMax(a, b []float64) float64 {
	var d, m float64
	if len(a) != len(b) {
		return math.Inf(1)
	}
	for i := range b {
		d = math.Max(d, math.Abs(a[i]-b[i]))
		m = math.Max(m, math.Abs(b[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func flatten(x [][]float64) []float64 {
	var out []float64
	for _, r := range x {
		out = append(out, r...)
	}
	return out
}

// dpoResult is the DPO loss of the golden batch and ∂loss/∂seq_logp per row.
type dpoResult struct {
	loss                        float64
	perPair, margin, cRew, rRew []float64
	coef                        []float64 // ∂loss/∂policy seq log-prob, per batch row
}

// dpo computes the DPO loss (mean over pairs of −log σ(β·h)) from policy
// and reference sequence log-probs, with its derivative per row.
func dpo(b hfBatch, beta float64, pol, ref []float64) dpoResult {
	r := dpoResult{coef: make([]float64, len(pol))}
	np := float64(len(b.Pairs))
	for _, pr := range b.Pairs {
		c, j := pr[0], pr[1]
		h := (pol[c] - ref[c]) - (pol[j] - ref[j])
		l := math.Log1p(math.Exp(-beta * h)) // −log σ(βh)
		r.perPair = append(r.perPair, l)
		r.margin = append(r.margin, h)
		r.cRew = append(r.cRew, beta*(pol[c]-ref[c]))
		r.rRew = append(r.rRew, beta*(pol[j]-ref[j]))
		r.loss += l / np
		d := -beta / (1 + math.Exp(beta*h)) / np // ∂/∂pc = −β σ(−βh)/P
		r.coef[c] += d
		r.coef[j] -= d
	}
	return r
}

// lpWeights is W[r][p] = coef[r]·mask[r][p+1].
func lpWeights(masks [][]int, coef []float64) [][]float64 {
	w := make([][]float64, len(masks))
	for r, m := range masks {
		w[r] = make([]float64, len(m)-1)
		for p := range w[r] {
			w[r][p] = coef[r] * float64(m[p+1])
		}
	}
	return w
}

// modelCheck collects the worst relative errors of one model.
type modelCheck struct {
	name                                        string
	logits, policyLp, policySeq, refLp, refSeq  float64
	loss, perPair, grad, selfLoss, selfGrad     float64
	worstGradTensor, worstSelfTensor            string
	f32Logits, f32Lp, f32Grad, f32SelfGrad      float64
	worstF32GradTensor                          string
	policy64, grads64, selfGrads64, policyGrads runResult
}

// checkModel loads model name of a golden set in float64 and checks every
// golden quantity, returning the measured errors.
func checkModel(t *testing.T, root string, g goldenSet, name string) *modelCheck {
	gm := g.Models[name]
	mc := &modelCheck{name: name}
	m, err := LoadDir(filepath.Join(root, gm.Dir), tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.ModelType != gm.ModelType {
		t.Errorf("model_type %s, golden says %s", m.cfg.ModelType, gm.ModelType)
	}
	// parameters and ignored buffers
	var names []string
	total := 0
	for _, w := range m.Weights() {
		names = append(names, w.Name)
		total += w.T.Shape().TotalSize()
	}
	sort.Strings(names)
	if !equalStrings(names, gm.ParamNames) {
		t.Errorf("parameter names %v, golden %v", names, gm.ParamNames)
	}
	if total != gm.NumParameters {
		t.Errorf("%d parameters, golden %d", total, gm.NumParameters)
	}
	ign := m.Ignored()
	if len(ign) == 0 {
		ign = nil
	}
	want := gm.Ignored
	if len(want) == 0 {
		want = nil
	}
	if !equalStrings(ign, want) {
		t.Errorf("ignored tensors %v, golden %v", ign, want)
	}

	b := g.Batch
	V := m.cfg.Vocab
	T := len(b.IDs[0])
	tol := func(what string, e, limit float64) {
		if !(e <= limit) {
			t.Errorf("%s: %s differs by %.3g relative to max-abs (tolerance %.0g)", name, what, e, limit)
		}
	}

	// policy forward
	pol := runLM(t, m, b.IDs, nil)
	mc.policy64 = pol
	mc.logits = relMax(pol.logits[:T*V], flatten(gm.LogitsRow0))
	mc.policyLp = relMax(pol.lp, flatten(gm.Policy.TokenLogps))
	pSeq := seqLogps(pol.lp, b.ResponseMask)
	mc.policySeq = relMax(pSeq, gm.Policy.SeqLogps)
	tol("logits_row0", mc.logits, 1e-12)
	tol("policy token_logps", mc.policyLp, 1e-12)
	tol("policy seq_logps", mc.policySeq, 1e-12)

	// reference (weights-only file)
	rts, _, err := safetensors.Read(filepath.Join(root, gm.Reference.File))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := WeightsLike(m, rts, gm.Reference.File)
	if err != nil {
		t.Fatal(err)
	}
	rr := runLM(t, ref, b.IDs, nil)
	rSeq := seqLogps(rr.lp, b.ResponseMask)
	mc.refLp = relMax(rr.lp, flatten(gm.Reference.TokenLogps))
	mc.refSeq = relMax(rSeq, gm.Reference.SeqLogps)
	tol("reference token_logps", mc.refLp, 1e-12)
	tol("reference seq_logps", mc.refSeq, 1e-12)

	// DPO against the reference, and against the policy itself
	for _, c := range []struct {
		gold goldenLoss
		ref  []float64
		self bool
	}{{gm.DPO, rSeq, false}, {gm.DPOSelfRef, pSeq, true}} {
		d := dpo(b, g.Beta, pSeq, c.ref)
		le := math.Abs(d.loss-c.gold.Loss) / math.Max(1, math.Abs(c.gold.Loss))
		pe := math.Max(math.Max(relMax(d.perPair, c.gold.PerPairLoss), relMax(d.margin, c.gold.MarginH)),
			math.Max(relMax(d.cRew, c.gold.ChosenRewards), relMax(d.rRew, c.gold.RejectedRewards)))
		label := "dpo"
		if c.self {
			label = "dpo_selfref"
			mc.selfLoss = le
		} else {
			mc.loss, mc.perPair = le, pe
		}
		tol(label+" loss", le, 1e-12)
		if !c.self {
			tol(label+" per-pair loss/margins/rewards", pe, 1e-12)
		} else if d.loss != math.Ln2 {
			t.Errorf("%s: self-reference loss %v is not exactly log 2", name, d.loss)
		}
		res := runLM(t, m, b.IDs, lpWeights(b.ResponseMask, d.coef))
		gts, _, err := safetensors.Read(filepath.Join(root, c.gold.GradFile))
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		var worstName string
		for _, w := range m.Weights() {
			gt, ok := gts[w.Name]
			if !ok {
				t.Fatalf("%s: %s has no gradient for %q", name, c.gold.GradFile, w.Name)
			}
			if e := relMax(res.grads[w.Name], gt.Float64s()); e > worst || worstName == "" {
				worst, worstName = e, w.Name
			}
		}
		if len(gts) != len(m.Weights()) {
			t.Errorf("%s: %s has %d tensors, the model %d parameters", name, c.gold.GradFile, len(gts), len(m.Weights()))
		}
		tol(label+" gradient ("+worstName+")", worst, 1e-10)
		if c.self {
			mc.selfGrad, mc.worstSelfTensor, mc.selfGrads64 = worst, worstName, res
		} else {
			mc.grad, mc.worstGradTensor, mc.grads64 = worst, worstName, res
		}
	}
	return mc
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkFloat32 runs the model in float32 on the same batch and
// coefficients and compares with the float64 run (tolerance 1e-4 relative
// to max-abs, per tensor for gradients).
func checkFloat32(t *testing.T, root string, g goldenSet, name string, mc *modelCheck) {
	gm := g.Models[name]
	m, err := LoadDir(filepath.Join(root, gm.Dir), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	b := g.Batch
	pol := runLM(t, m, b.IDs, nil)
	mc.f32Logits = relMax(pol.logits, mc.policy64.logits)
	mc.f32Lp = relMax(pol.lp, mc.policy64.lp)
	rts, _, err := safetensors.Read(filepath.Join(root, gm.Reference.File))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := WeightsLike(m, rts, gm.Reference.File)
	if err != nil {
		t.Fatal(err)
	}
	rr := runLM(t, ref, b.IDs, nil)
	d := dpo(b, g.Beta, seqLogps(pol.lp, b.ResponseMask), seqLogps(rr.lp, b.ResponseMask))
	res := runLM(t, m, b.IDs, lpWeights(b.ResponseMask, d.coef))
	for _, w := range m.Weights() {
		if e := relMax(res.grads[w.Name], mc.grads64.grads[w.Name]); e > mc.f32Grad {
			mc.f32Grad, mc.worstF32GradTensor = e, w.Name
		}
	}
	for what, e := range map[string]float64{"logits": mc.f32Logits, "token log-probs": mc.f32Lp, "dpo gradient (" + mc.worstF32GradTensor + ")": mc.f32Grad} {
		if !(e <= 1e-4) {
			t.Errorf("%s float32: %s differ from float64 by %.3g > 1e-4", name, what, e)
		}
	}
}

// testGoldenSet checks every model of a golden set in float64 and float32.
func testGoldenSet(t *testing.T, root string) {
	g := readGoldenSet(t, root)
	for _, name := range sortedKeys(g.Models) {
		t.Run(name, func(t *testing.T) {
			mc := checkModel(t, root, g, name)
			t.Logf("%s float64: logits %.2g, policy lp %.2g seq %.2g, reference lp %.2g seq %.2g, dpo loss %.2g pairs %.2g, "+
				"dpo grad %.2g (%s), selfref loss %.2g grad %.2g (%s)",
				name, mc.logits, mc.policyLp, mc.policySeq, mc.refLp, mc.refSeq, mc.loss, mc.perPair,
				mc.grad, mc.worstGradTensor, mc.selfLoss, mc.selfGrad, mc.worstSelfTensor)
			if t.Failed() {
				return
			}
			checkFloat32(t, root, g, name, mc)
			t.Logf("%s float32 vs float64: logits %.2g, lp %.2g, dpo grad %.2g (%s)", name, mc.f32Logits, mc.f32Lp, mc.f32Grad, mc.worstF32GradTensor)
		})
	}
}

// TestGoldenHF checks the four shared tiny models (gpt2 F32 with bare names
// and mask buffers, pythia BF16 with buffers, llama F16 sharded, qwen2
// tied) against shared/hf/golden: logits, token and sequence log-probs of
// the policy and of the weights-only reference, DPO loss, per-pair values
// and every parameter gradient, against the reference and against itself.
func TestGoldenHF(t *testing.T) {
	testGoldenSet(t, sharedHF(t))
}

package loss

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/objectives"
)

// packTestPairs are pairs of different prompt and response lengths (a
// one-token prompt, an empty prompt, a one-token chosen response), laid
// out with padding beyond the longest row.
func packTestPairs(vocab int) []data.EncodedPair {
	tok := func(seed, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = 1 + (seed*7+i*13)%(vocab-1)
		}
		return out
	}
	return []data.EncodedPair{
		{Prompt: tok(1, 4), Chosen: tok(2, 3), Rejected: tok(3, 5)},
		{Prompt: tok(4, 1), Chosen: tok(5, 2), Rejected: tok(6, 1)},
		{Prompt: tok(7, 6), Chosen: tok(8, 5), Rejected: tok(9, 2)},
		{Prompt: tok(10, 2), Chosen: tok(11, 1), Rejected: tok(12, 4)},
		{Prompt: nil, Chosen: tok(13, 3), Rejected: tok(14, 4)},
	}
}

// packedLen is the packed row length a batch of pairs needs.
func packedLen(pairs []data.EncodedPair) int {
	t := 2
	for _, p := range pairs {
		t = max(t, PackedPairLen(len(p.Prompt), len(p.Chosen), len(p.Rejected)))
	}
	return t
}

type prefRun struct {
	res   PrefResult
	grads map[string][]float64
}

func runPref(t *testing.T, lm models.LM, b data.Batch, tp int, opt PrefOptions, rc, rr []float64) prefRun {
	t.Helper()
	T := b.T
	if opt.Pack {
		T = tp
	}
	pg, err := NewPrefGraph(lm, len(b.ChosenIDs), T, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if err := pg.SetBatch(b, rc, rr); err != nil {
		t.Fatal(err)
	}
	if err := pg.Run(); err != nil {
		t.Fatal(err)
	}
	var o prefRun
	if o.res, err = pg.Result(); err != nil {
		t.Fatal(err)
	}
	if o.grads, err = pg.Grads(); err != nil {
		t.Fatal(err)
	}
	return o
}

// relClose reports whether a and b agree within tol relative to
// max(1e-300, max|b|) (one scale per vector, so elements that cancel to
// near 0 are measured against the vector's size).
func relClose(a, b []float64, tol float64) (float64, bool) {
	if len(a) != len(b) {
		return math.Inf(1), false
	}
	scale := 1e-300
	for _, x := range b {
		scale = math.Max(scale, math.Abs(x))
	}
	worst := 0.0
	for i := range a {
		e := math.Abs(a[i]-b[i]) / scale
		if !(e <= tol) {
			return e, false
		}
		worst = math.Max(worst, e)
	}
	return worst, true
}

// statsVector flattens gate statistics (counts included) for comparison.
func statsVector(t *testing.T, s gating.Stats) (keys []string, vals []float64) {
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n_tokens", "mean_g", "frac_g_lt_0.5", "n_g_eq_1", "n_g_eq_0", "min_g", "max_g", "logp_q10", "logp_q50", "logp_q90"} {
		v, ok := m[k]
		if !ok {
			t.Fatalf("gate statistics have no %s", k)
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals
}

// comparePacked checks a packed preference graph against the unpacked one
// on the same batch: loss, per-pair losses and terms, sequence log-probs,
// TRL metrics, the rejected gates and their statistics, and every
// parameter gradient, within tol relative.
func comparePacked(t *testing.T, name string, lm models.LM, vocab int, tol float64) {
	pairs := packTestPairs(vocab)
	b := data.MakeBatch(pairs, 0, 0)
	b = data.MakeBatch(pairs, 0, b.T+3) // padding beyond the longest row
	tp := packedLen(pairs)
	if tp >= 2*b.T {
		t.Fatalf("packed rows of %d tokens are no shorter than two rows of %d", tp, b.T)
	}
	B := len(pairs)
	rc, rr := make([]float64, B), make([]float64, B)
	for i := range rc {
		rc[i], rr[i] = -3-0.7*float64(i), -4+0.3*float64(i)
	}
	cases := []struct {
		obj  objectives.Spec
		gate gating.Spec
	}{
		{objectives.Spec{Name: objectives.DPO, Beta: 0.1},
			gating.Spec{Kind: gating.KindSigmoid, Tau: 0.03, Level: gating.LevelToken, Relative: true, Temperature: 0.5, Alpha: 0.5}},
		{objectives.Spec{Name: objectives.IPO, Beta: 0.1, LengthNormalize: true},
			gating.Spec{Kind: gating.KindRamp, Tau: 0.05, Level: gating.LevelSequence, Temperature: 1, Alpha: 0.5}},
		{objectives.Spec{Name: objectives.RPO, Beta: 0.1, Alpha: 1, SFTNorm: objectives.SFTNormToken},
			gating.Spec{Kind: gating.KindSigmoid, Tau: 0.03, Level: gating.LevelToken, Temperature: 0.5, Alpha: 0.5}},
	}
	for _, c := range cases {
		if err := c.obj.Validate(); err != nil {
			t.Fatalf("%s: %v", c.obj.Name, err)
		}
		if err := c.gate.Validate(); err != nil {
			t.Fatalf("%s gate: %v", c.gate.Kind, err)
		}
		what := name + " " + c.obj.Name + "/" + c.gate.Kind + " " + c.gate.Level
		un := runPref(t, lm, b, tp, PrefOptions{Objective: c.obj, Gate: c.gate, Grad: true}, rc, rr)
		pk := runPref(t, lm, b, tp, PrefOptions{Objective: c.obj, Gate: c.gate, Grad: true, Pack: true}, rc, rr)
		worst := 0.0
		check := func(field string, a, want []float64) {
			t.Helper()
			e, ok := relClose(a, want, tol)
			if !ok {
				t.Errorf("%s %s: packed %v, unpacked %v (relative difference %g)", what, field, a, want, e)
			}
			worst = math.Max(worst, e)
		}
		check("loss", []float64{pk.res.Loss}, []float64{un.res.Loss})
		check("per-pair loss", pk.res.PerPairLoss, un.res.PerPairLoss)
		check("policy chosen", pk.res.Logps.PolicyChosen, un.res.Logps.PolicyChosen)
		check("policy rejected", pk.res.Logps.PolicyRejected, un.res.Logps.PolicyRejected)
		if len(pk.res.PerPairTerms) != len(un.res.PerPairTerms) {
			t.Errorf("%s: %d terms packed, %d unpacked", what, len(pk.res.PerPairTerms), len(un.res.PerPairTerms))
		}
		for k, v := range un.res.PerPairTerms {
			check("term "+k, pk.res.PerPairTerms[k], v)
		}
		if len(pk.res.Metrics) != len(un.res.Metrics) {
			t.Errorf("%s: %d metrics packed, %d unpacked", what, len(pk.res.Metrics), len(un.res.Metrics))
		}
		for k, v := range un.res.Metrics {
			check("metric "+k, []float64{pk.res.Metrics[k]}, []float64{v})
		}
		if len(pk.res.RejectedGates) != B {
			t.Fatalf("%s: %d rows of gates, want %d", what, len(pk.res.RejectedGates), B)
		}
		for i := range un.res.RejectedGates {
			if len(pk.res.RejectedGates[i]) != b.T-1 {
				t.Fatalf("%s: gates of pair %d have %d positions, want %d (the unpacked layout)", what, i, len(pk.res.RejectedGates[i]), b.T-1)
			}
			check("gates", pk.res.RejectedGates[i], un.res.RejectedGates[i])
		}
		keys, sp := statsVector(t, pk.res.GateStats)
		_, su := statsVector(t, un.res.GateStats)
		for i, k := range keys {
			check("gate stat "+k, sp[i:i+1], su[i:i+1])
		}
		if st := un.res.GateStats; st.NTokens == 0 || st.MeanG >= 1 || st.MeanG <= 0 {
			t.Errorf("%s: the gate does not act on the test batch: %+v", what, st)
		}
		if len(pk.grads) != len(un.grads) || len(un.grads) == 0 {
			t.Errorf("%s: %d gradients packed, %d unpacked", what, len(pk.grads), len(un.grads))
		}
		for k, g := range un.grads {
			check("gradient of "+k, pk.grads[k], g)
		}
		t.Logf("%s: worst relative difference %g", what, worst)
	}

	// the packed reference gives the unpacked reference log-probs
	ref, err := NewSeqGraph(lm, 2*B, b.T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	wc, wr, err := ReferenceLogps(ref, b)
	if err != nil {
		t.Fatal(err)
	}
	pref, err := NewPackedReference(lm, B, tp)
	if err != nil {
		t.Fatal(err)
	}
	defer pref.Close()
	gc, gr, err := pref.Logps(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range [][2][]float64{{gc, wc}, {gr, wr}} {
		if e, ok := relClose(x[0], x[1], tol); !ok {
			t.Errorf("%s packed reference: %v, unpacked %v (relative difference %g)", name, x[0], x[1], e)
		}
	}
}

// TestPackedPrefMatchesUnpacked: a preference graph over packed pairs
// (PrefOptions.Pack) gives the loss, per-pair values, log-probs, metrics,
// gates, gate statistics and parameter gradients of the unpacked graph
// within 1e-12 relative in float64, for the TinyGPT and a rotary Hugging
// Face model (Llama: grouped-query attention, partial rotary), with DPO,
// IPO and RPO under token- and sequence-level gates; and the packed
// reference gives the unpacked reference log-probs.
func TestPackedPrefMatchesUnpacked(t *testing.T) {
	tg, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 2, NLayers: 2, MaxSeqLen: 24, LNEps: 1e-5}, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	comparePacked(t, "transformer", tg, 40, 1e-12)

	raw := `{"model_type":"llama","hidden_size":24,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"num_hidden_layers":2,
		"vocab_size":40,"intermediate_size":40,"max_position_embeddings":24,"tie_word_embeddings":false,"partial_rotary_factor":0.5,"rope_theta":1000.0,"rms_norm_eps":1e-5}`
	c, err := hf.ParseConfig([]byte(raw), "test")
	if err != nil {
		t.Fatal(err)
	}
	lm, err := hf.NewRandom(c, tensor.Float64, 5)
	if err != nil {
		t.Fatal(err)
	}
	comparePacked(t, "llama", lm, 40, 1e-12)
}

// TestPackedPrefMatchesUnpackedFloat32: the same in float32, the dtype the
// sweep trains in, within 1e-5 relative (float32 rounding of sums taken in
// another order).
func TestPackedPrefMatchesUnpackedFloat32(t *testing.T) {
	tg, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 2, NLayers: 2, MaxSeqLen: 24, LNEps: 1e-5}, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	comparePacked(t, "transformer float32", tg, 40, 1e-5)
}

// TestPackedPrefBadInput: packing a model that cannot build packed rows,
// a pair whose rows do not share a prompt, and a pair too long for the
// graph's packed rows are errors that say so.
func TestPackedPrefBadInput(t *testing.T) {
	obj := objectives.Spec{Name: objectives.DPO, Beta: 0.1}
	mlp, err := models.NewMLP(models.MLPConfig{VocabSize: 40, Window: 4, DEmbed: 8, DHidden: 16, MaxSeqLen: 32}, tensor.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPrefGraph(mlp, 2, 16, PrefOptions{Objective: obj, Gate: gating.DefaultSpec(), Pack: true}); err == nil || !strings.Contains(err.Error(), "packed rows") {
		t.Errorf("packed MLP preference graph: error %v, want one about packed rows", err)
	}
	if _, err := NewPackedReference(mlp, 2, 16); err == nil || !strings.Contains(err.Error(), "packed rows") {
		t.Errorf("packed MLP reference: error %v, want one about packed rows", err)
	}

	tg, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 8, NHeads: 2, NLayers: 1, MaxSeqLen: 24, LNEps: 1e-5}, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	pairs := packTestPairs(40)[:2]
	pg, err := NewPrefGraph(tg, 2, packedLen(pairs), PrefOptions{Objective: obj, Gate: gating.DefaultSpec(), Pack: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	rc, rr := []float64{-1, -2}, []float64{-3, -4}
	b := data.MakeBatch(pairs, 0, 0)
	if err := pg.SetBatch(b, rc, rr); err != nil {
		t.Fatalf("a batch that fits: %v", err)
	}
	b.RejectedIDs[0][1]++
	if err := pg.SetBatch(b, rc, rr); err == nil || !strings.Contains(err.Error(), "pair 0: the chosen and rejected rows differ at prompt token 1") {
		t.Errorf("different prompts: error %v", err)
	}
	long := append([]data.EncodedPair{}, pairs...)
	long[1].Rejected = append(append([]int{}, long[1].Rejected...), 5, 6, 7, 8, 9, 10, 11, 12, 13)
	if err := pg.SetBatch(data.MakeBatch(long, 0, 0), rc, rr); err == nil || !strings.Contains(err.Error(), "pair 1: its packed row has") {
		t.Errorf("a pair too long for the packed rows: error %v", err)
	}
	b = data.MakeBatch(pairs, 0, 0)
	b.ChosenMask[0][len(pairs[0].Prompt)+1] = 0
	if err := pg.SetBatch(b, rc, rr); err == nil || !strings.Contains(err.Error(), "not one contiguous run") {
		t.Errorf("a response mask with a hole: error %v", err)
	}
}

package probe

import (
	"math"
	"testing"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/results"
)

// TestProbeRecords checks the §5 metric definitions on hand-made values
// (exact arithmetic on small binary fractions: tolerance 0).
func TestProbeRecords(t *testing.T) {
	base := &Pass{Step: 0, Split: results.SplitHeldout, Fields: []FieldValues{
		{Field: "chosen", Example: []int{0, 1}, LP: []float64{-10, -20}, NTok: []int{2, 4}},
		{Field: "rejected", Example: []int{0, 1}, LP: []float64{-12, -16}, NTok: []int{3, 4}},
		{Field: "irr_hum", Example: []int{1}, LP: []float64{-30}, NTok: []int{5}},
		{Field: "chosen_initial", Example: []int{0}, LP: []float64{-8}, NTok: []int{2}},
	}, Chosen: ChosenStats{LPArgmax: []float64{-4, -6}, Top1: []float64{0.5, 0.25}, Entropy: []float64{1, 2}, Collision: []float64{0.25, 0.5}}}
	now := &Pass{Step: 50, Split: results.SplitHeldout, Fields: []FieldValues{
		{Field: "chosen", Example: []int{0, 1}, LP: []float64{-12, -22}, NTok: []int{2, 4}},
		{Field: "rejected", Example: []int{0, 1}, LP: []float64{-20, -14}, NTok: []int{3, 4}},
		{Field: "irr_hum", Example: []int{1}, LP: []float64{-31}, NTok: []int{5}},
		{Field: "chosen_initial", Example: []int{0}, LP: []float64{-7}, NTok: []int{2}},
	}, Chosen: ChosenStats{LPArgmax: []float64{-2, -4}, Top1: []float64{0.75, 0.5}, Entropy: []float64{0.5, 1}, Collision: []float64{0.5, 0.5}}}
	metric, fields, examples := Rows(now, base)
	got := map[string]float64{"step": float64(metric.Step)}
	for _, c := range results.FloatColumns[results.ProbeMetricRow]() {
		got[c], _ = metric.Value(c)
	}
	if metric.Split != results.SplitHeldout {
		t.Errorf("split %q", metric.Split)
	}
	want := map[string]float64{
		"step": 50, "lp_chosen": -17, "lptok_chosen": (-6 - 5.5) / 2, "dlp_chosen": -2,
		"lp_rejected": -17, "dlp_rejected": -3, "lp_argmax": -3, "gap": 14,
		"top1_mass": 0.625, "entropy": 0.75, "collision": 0.5,
		"suppression": 2.0 / 3, // rejected and irr_hum fell, chosen_initial rose
		// rewards r = LP − LP₀: pair 0 r⁺ −2, r⁻ −8 (win); pair 1 r⁺ −2, r⁻ +2 (loss)
		"reward_acc": 0.5, "reward_margin": (6 + -4) / 2.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(fields) != 4 || fields[2].Field != "irr_hum" || fields[2].Category != results.CategoryIrrelevant || fields[2].DLP != -1 || fields[2].N != 1 {
		t.Errorf("field rows: %v", fields)
	}
	if len(examples) != 6 {
		t.Errorf("%d example rows, want 6", len(examples))
	}
	// a split without other fields has no suppression
	m, _, _ := Rows(&Pass{Fields: now.Fields[:2], Chosen: now.Chosen}, &Pass{Fields: base.Fields[:2], Chosen: base.Chosen})
	if m.Suppression != 1 {
		t.Errorf("suppression with only rejected: %v", m.Suppression)
	}
	if !math.IsNaN(mean(nil)) {
		t.Error("mean of nothing is not NaN")
	}
}

// TestTokenRecords checks the rows of probe_tokens.csv.gz on hand-made
// values: the gate is that of the cell's spec on the rejected log-probs
// (token level, sequence level, relative), NaN on chosen tokens and when
// the objective does not read the rejected log-probs; text is escaped.
func TestTokenRecords(t *testing.T) {
	tok := data.NewByteTokenizer()
	ids := tok.Encode("a\n\xe2")
	lp := []float64{math.Log(0.5), math.Log(0.01), math.Log(0.04)}
	mx := []float64{math.Log(0.5), math.Log(0.02), math.Log(0.9)}
	p := &Pass{Step: 7, Split: results.SplitHeldout, Tokens: []TokenValues{
		{Field: "chosen", Example: 0, IDs: ids, LP: lp, Max: mx},
		{Field: "rejected", Example: 0, IDs: ids, LP: lp, Max: mx},
	}}
	ramp := gating.Spec{Kind: gating.KindRamp, Tau: 0.05, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}
	seq := ramp
	seq.Level, seq.Tau = gating.LevelSequence, 0.2
	rel := ramp
	rel.Relative = true
	geo := math.Exp((lp[0] + lp[1] + lp[2]) / 3) // the sequence gate reads the geometric mean
	cases := []struct {
		name    string
		gate    gating.Spec
		applied bool
		want    []float64 // gates of the rejected tokens
	}{
		{"ungated", gating.DefaultSpec(), true, []float64{1, 1, 1}},
		{"ramp token", ramp, true, []float64{1, 0.01 / 0.05, 0.04 / 0.05}},
		{"ramp sequence", seq, true, []float64{geo / 0.2, geo / 0.2, geo / 0.2}},
		{"ramp relative", rel, true, []float64{1, 1, 0.04 / 0.9 / 0.05}},
		{"sft reads no rejected", ramp, false, []float64{math.NaN(), math.NaN(), math.NaN()}},
	}
	for _, c := range cases {
		rows, err := TokenRows(p, &TokenView{Gate: c.gate, Applied: c.applied, Tok: tok})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 6 {
			t.Fatalf("%s: %d rows, want 6", c.name, len(rows))
		}
		for i, r := range rows {
			pos := i % 3
			if r.Step != 7 || r.Split != results.SplitHeldout || r.Example != 0 || r.Position != pos || r.Token != ids[pos] {
				t.Errorf("%s: row %d = %+v", c.name, i, r)
			}
			if r.LogP != lp[pos] {
				t.Errorf("%s: row %d logp %v, want %v", c.name, i, r.LogP, lp[pos])
			}
			if r.LogPMax != mx[pos] {
				t.Errorf("%s: row %d logp_max %v, want %v", c.name, i, r.LogPMax, mx[pos])
			}
			g := r.Gate
			want := math.NaN()
			if i >= 3 {
				want = c.want[pos]
			}
			if math.IsNaN(want) != math.IsNaN(g) || (!math.IsNaN(want) && math.Abs(g-want) > 1e-12) {
				t.Errorf("%s: %s token %d gate %v, want %v", c.name, r.Field, pos, g, want)
			}
		}
		if rows[0].Text != "a" || rows[1].Text != `\n` || rows[2].Text != `\xe2` {
			t.Errorf("%s: texts %q %q %q", c.name, rows[0].Text, rows[1].Text, rows[2].Text)
		}
	}
	if _, err := TokenRows(&Pass{Tokens: []TokenValues{{Field: "chosen", IDs: ids, LP: lp[:2], Max: mx}}},
		&TokenView{Gate: ramp, Applied: true, Tok: tok}); err == nil {
		t.Error("mismatched lengths: no error")
	}
}

// TestPassAdd checks how a pass collects probed responses: fields in the
// order first added with their examples in order, the chosen peakiness
// statistics of chosen responses only, and the token view — the chosen
// and rejected responses of the first results.ProbeTokenExamples pairs of
// the held-out split, nothing on the train split.
func TestPassAdd(t *testing.T) {
	for _, split := range []string{results.SplitHeldout, results.SplitTrain} {
		p := &Pass{Step: 3, Split: split}
		n := results.ProbeTokenExamples + 2
		for _, f := range []string{"chosen", "rejected", "irr_hum"} {
			for ex := 0; ex < n; ex++ {
				seq := data.Sequence{Prompt: []int{1}, Response: []int{ex, ex + 1}}
				p.Add(f, ex, seq, SeqStats{LP: -float64(ex), NTok: 2, LPArgmax: -0.5, Top1: 0.25, Entropy: 1, Collision: 0.5,
					TokLP: []float64{-1, 1 - float64(ex)}, TokMax: []float64{-0.25, -0.25}})
			}
		}
		if len(p.Fields) != 3 || p.Fields[0].Field != "chosen" || p.Fields[1].Field != "rejected" || p.Fields[2].Field != "irr_hum" {
			t.Fatalf("%s: fields %+v", split, p.Fields)
		}
		for _, f := range p.Fields {
			for ex := 0; ex < n; ex++ {
				if f.Example[ex] != ex || f.LP[ex] != -float64(ex) || f.NTok[ex] != 2 {
					t.Errorf("%s %s: example %d: %d, lp %v, ntok %d", split, f.Field, ex, f.Example[ex], f.LP[ex], f.NTok[ex])
				}
			}
		}
		if len(p.Chosen.LPArgmax) != n || len(p.Chosen.Top1) != n || len(p.Chosen.Entropy) != n || len(p.Chosen.Collision) != n {
			t.Errorf("%s: chosen statistics of %d, %d, %d, %d responses, want %d", split, len(p.Chosen.LPArgmax), len(p.Chosen.Top1), len(p.Chosen.Entropy), len(p.Chosen.Collision), n)
		}
		want := 0
		if split == results.SplitHeldout {
			want = 2 * results.ProbeTokenExamples
		}
		if len(p.Tokens) != want {
			t.Fatalf("%s: %d token-view responses, want %d", split, len(p.Tokens), want)
		}
		for i, tv := range p.Tokens {
			f, ex := []string{"chosen", "rejected"}[i/results.ProbeTokenExamples], i%results.ProbeTokenExamples
			if tv.Field != f || tv.Example != ex || len(tv.IDs) != 2 || tv.IDs[0] != ex || tv.LP[1] != 1-float64(ex) || tv.Max[0] != -0.25 {
				t.Errorf("token view %d: %+v, want %s example %d", i, tv, f, ex)
			}
		}
	}
}

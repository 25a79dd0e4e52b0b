package experiments

import (
	"math"
	"path/filepath"
	"testing"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/results"
)

// TestTokenRecords checks the rows of probe_tokens.csv.gz on hand-made
// values: the gate is that of the cell's spec on the rejected log-probs
// (token level, sequence level, relative), NaN on chosen tokens and when
// the objective does not read the rejected log-probs; text is escaped.
func TestTokenRecords(t *testing.T) {
	tok := data.NewByteTokenizer()
	ids := tok.Encode("a\n\xe2")
	lp := []float64{math.Log(0.5), math.Log(0.01), math.Log(0.04)}
	mx := []float64{math.Log(0.5), math.Log(0.02), math.Log(0.9)}
	p := &probePass{Step: 7, Split: results.SplitHeldout, Tokens: []tokenValues{
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
		rows, err := tokenRecords(p, &tokenView{Gate: c.gate, Applied: c.applied, Tok: tok})
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
	if _, err := tokenRecords(&probePass{Tokens: []tokenValues{{Field: "chosen", IDs: ids, LP: lp[:2], Max: mx}}},
		&tokenView{Gate: ramp, Applied: true, Tok: tok}); err == nil {
		t.Error("mismatched lengths: no error")
	}
}

// TestProbeTokensMatchProbe checks probe_tokens.csv.gz of the test grid's
// cells against the probe's own records and the data: at every probe step
// the first ProbeTokenExamples held-out pairs have one row per response
// token, the token ids are the encoded responses, the logp of an example
// sum (in position order, bit for bit) to its lp in probe_examples.csv.gz,
// and the rejected gates are those of the cell's gate spec on the recorded
// log-probs (all 1 in an ungated cell, min(1, p/τ) in the ramp cells).
func TestProbeTokensMatchProbe(t *testing.T) {
	dir := referenceRun(t)
	g, err := loadGrid("test")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadDatasets(); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Cells) == 0 {
		t.Fatal("no complete cell")
	}
	gatedSeen := false
	for _, c := range sw.Cells {
		pd, err := prepareData(g, c.Config.Dataset, c.Config.Arch)
		if err != nil {
			t.Fatal(err)
		}
		toks, ok, err := c.LoadTokens()
		if err != nil || !ok {
			t.Fatalf("cell %s: %s: ok %v, %v", c.ID, results.ProbeTokensFile, ok, err)
		}
		exs, err := results.ReadRows[results.ProbeExampleRow](filepath.Join(c.Dir, results.ProbeExamplesFile))
		if err != nil {
			t.Fatal(err)
		}
		type key struct {
			step    int
			field   string
			example int
		}
		lp := map[key]results.ProbeExampleRow{}
		for _, e := range exs {
			if e.Split == results.SplitHeldout {
				lp[key{e.Step, e.Field, e.Example}] = e
			}
		}
		byKey := map[key][]results.ProbeTokenRow{}
		for _, r := range toks {
			if r.Split != results.SplitHeldout {
				t.Fatalf("cell %s: token row on split %q", c.ID, r.Split)
			}
			k := key{r.Step, r.Field, r.Example}
			byKey[k] = append(byKey[k], r)
		}
		steps, _ := c.ProbeSeries(results.SplitHeldout, "lp_chosen")
		nEx := min(results.ProbeTokenExamples, len(pd.Probe[results.SplitHeldout]))
		if len(byKey) != len(steps)*2*nEx {
			t.Errorf("cell %s: %d (step, field, example) groups, want %d steps × 2 fields × %d examples", c.ID, len(byKey), len(steps), nEx)
		}
		spec := gating.Spec(c.Config.Gate)
		gatedSeen = gatedSeen || !spec.Off()
		for _, step := range steps {
			for ex := 0; ex < nEx; ex++ {
				pair := pd.Probe[results.SplitHeldout][ex]
				for _, field := range []string{"chosen", "rejected"} {
					rows := byKey[key{step, field, ex}]
					ids, _ := pair.Field(field)
					e, ok := lp[key{step, field, ex}]
					if !ok || len(rows) != e.NTok || len(rows) != len(ids) {
						t.Fatalf("cell %s step %d %s %d: %d token rows, ntok %d, %d ids", c.ID, step, field, ex, len(rows), e.NTok, len(ids))
					}
					sum := 0.0
					lps, mxs, mask := make([]float64, len(rows)), make([]float64, len(rows)), make([]float64, len(rows))
					for i, r := range rows {
						text, err := results.UnescapeTokenText(r.Text)
						if r.Position != i || r.Token != ids[i] || err != nil || text != pd.Tok.Decode([]int{ids[i]}) {
							t.Errorf("cell %s step %d %s %d row %d: position %d token %d text %q, want %d %d %q",
								c.ID, step, field, ex, i, r.Position, r.Token, r.Text, i, ids[i], pd.Tok.Decode([]int{ids[i]}))
						}
						if !(r.LogP <= 0 && r.LogP <= r.LogPMax && r.LogPMax <= 0) {
							t.Errorf("cell %s: logp %v, logp_max %v", c.ID, r.LogP, r.LogPMax)
						}
						sum += r.LogP
						lps[i], mxs[i], mask[i] = r.LogP, r.LogPMax, 1
					}
					if sum != e.LP {
						t.Errorf("cell %s step %d %s %d: Σ logp = %v, probe lp = %v", c.ID, step, field, ex, sum, e.LP)
					}
					want, _ := gating.Values(spec, lps, mxs, mask, 1, len(rows), 0)
					for i, r := range rows {
						switch {
						case field == "chosen":
							if !math.IsNaN(r.Gate) {
								t.Errorf("cell %s: chosen token with gate %v", c.ID, r.Gate)
							}
						case spec.Off():
							if r.Gate != 1 {
								t.Errorf("cell %s: ungated rejected token with gate %v", c.ID, r.Gate)
							}
						default:
							indep := math.Min(1, math.Exp(r.LogP)/spec.Tau) // the test grid's gate: ramp, token level
							if r.Gate != want[i] || math.Abs(r.Gate-indep) > 1e-12 {
								t.Errorf("cell %s step %d: rejected token %d gate %v, want %v (%v)", c.ID, step, i, r.Gate, want[i], indep)
							}
						}
					}
				}
			}
		}
	}
	if !gatedSeen {
		t.Error("the test grid has no gated cell")
	}
}

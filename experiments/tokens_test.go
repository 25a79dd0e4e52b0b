package experiments

import (
	"math"
	"path/filepath"
	"testing"

	"gatedpo/gating"
	"gatedpo/results"
)

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

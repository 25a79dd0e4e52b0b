package gating

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gatedpo/graph/safetensors"
	"gatedpo/internal/sharedtest"
)

// sharedDir returns ../shared next to the module root (found by walking up
// from the package directory to go.mod), or skips the test.
func sharedDir(t *testing.T) string {
	t.Helper()
	return sharedtest.Dir(t, "golden/golden.json")
}

type goldenGateCase struct {
	ID            string          `json:"id"`
	Gate          Spec            `json:"gate"`
	RejectedGates [][]float64     `json:"rejected_gates"`
	GateStats     *Stats          `json:"gate_stats"`
	Objective     json.RawMessage `json:"objective"`
}

// TestGoldenGates recomputes the gates of every gated golden case from the
// golden policy token log-probs (forward.safetensors, rows 4..7 are the
// rejected responses) and compares with golden.json: continuous gates to
// 1e-12 absolute (g ≤ 1, so relative to max-abs), hard gates exactly, and
// the gate statistics (counts exactly, values to 1e-12).
func TestGoldenGates(t *testing.T) {
	shared := sharedDir(t)
	raw, err := os.ReadFile(filepath.Join(shared, "golden", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Cases []goldenGateCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	fw, _, err := safetensors.Read(filepath.Join(shared, "golden", "forward.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	lpAll := fw["policy_token_logps"]
	lmAll := fw["policy_token_logp_max"]
	rm := fw["response_mask"]
	rows, m := lpAll.Shape[0], lpAll.Shape[1]
	B := rows / 2
	T := rm.Shape[1]
	lp := lpAll.Float64s()[B*m:]
	lmax := lmAll.Float64s()[B*m:]
	mask := make([]float64, B*m)
	for r := 0; r < B; r++ {
		for t0 := 0; t0 < m; t0++ {
			mask[r*m+t0] = float64(rm.I64[(B+r)*T+t0+1]) // prediction t ↔ token t+1
		}
	}
	checked := 0
	worst := 0.0
	for _, c := range gold.Cases {
		if c.RejectedGates == nil {
			continue
		}
		checked++
		g, err := Values(c.Gate, lp, lmax, mask, B, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		exact := c.Gate.Kind == KindHard || c.Gate.Kind == KindNone || c.Gate.Off()
		for r := 0; r < B; r++ {
			for t0 := 0; t0 < m; t0++ {
				want, got := c.RejectedGates[r][t0], g[r*m+t0]
				d := math.Abs(want - got)
				worst = math.Max(worst, d)
				if (exact && d != 0) || d > 1e-12 {
					t.Errorf("%s: gate[%d][%d] = %v, want %v", c.ID, r, t0, got, want)
				}
			}
		}
		st := ComputeStats(g, lp, mask)
		w := c.GateStats
		if st.NTokens != w.NTokens || st.NEq0 != w.NEq0 || st.NEq1 != w.NEq1 {
			t.Errorf("%s: counts %+v, want %+v", c.ID, st, *w)
		}
		for _, p := range [][3]any{
			{"mean_g", st.MeanG, w.MeanG}, {"frac_g_lt_0.5", st.FracLtHf, w.FracLtHf},
			{"min_g", st.MinG, w.MinG}, {"max_g", st.MaxG, w.MaxG},
			{"logp_q10", st.LogpQ10, w.LogpQ10}, {"logp_q50", st.LogpQ50, w.LogpQ50}, {"logp_q90", st.LogpQ90, w.LogpQ90},
		} {
			got, want := p[1].(float64), p[2].(float64)
			if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: %s = %v, want %v", c.ID, p[0], got, want)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d gated cases in golden.json", checked)
	}
	t.Logf("%d gated cases, worst gate |Δ| = %.3g", checked, worst)
}

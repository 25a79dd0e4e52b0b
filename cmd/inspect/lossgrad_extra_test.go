package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gatedpo/internal/sharedtest"
)

// sharedSet returns ../shared/<set> next to the module root, or skips the
// test when it has no golden.json.
func sharedSet(t *testing.T, set string) string {
	t.Helper()
	return filepath.Join(sharedtest.Dir(t, set+"/golden.json"), set)
}

// TestLossgradGoldenExtra: `inspect lossgrad -cases golden-extra/cases.toml`
// prints one line per case (dpop, apo_zero, apo_down, nca_pair, alone and
// gated) whose loss, per-pair loss and terms, log-probs, metrics and gates
// match golden.json to 1e-12 and whose gradient norms match to 1e-10,
// relative to each quantity's max-abs.
func TestLossgradGoldenExtra(t *testing.T) {
	dir := sharedSet(t, "golden-extra")
	var out, errb bytes.Buffer
	code := lossgrad([]string{"-policy", filepath.Join(dir, "policy.safetensors"), "-reference", filepath.Join(dir, "reference.safetensors"),
		"-batch", filepath.Join(dir, "batch.json"), "-cases", filepath.Join(dir, "cases.toml")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Cases []lossgradLine `json:"cases"`
	}
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	i := 0
	for sc.Scan() {
		var l lossgradLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d is not one JSON object: %v", i+1, err)
		}
		if i >= len(gold.Cases) {
			t.Fatalf("more lines than the %d golden cases", len(gold.Cases))
		}
		g := gold.Cases[i]
		if l.ID != g.ID || l.Objective != g.Objective || l.Gate != g.Gate {
			t.Fatalf("line %d: %s %+v %+v, want %s %+v %+v", i+1, l.ID, l.Objective, l.Gate, g.ID, g.Objective, g.Gate)
		}
		var lossErr, valErr, gradErr float64
		cmp := func(what string, got, want []float64, tol float64, worst *float64) {
			if len(got) != len(want) {
				t.Errorf("%s: %s has %d values, want %d", l.ID, what, len(got), len(want))
				return
			}
			s := 1e-300
			for _, w := range want {
				s = math.Max(s, math.Abs(w))
			}
			for k := range want {
				e := math.Abs(got[k]-want[k]) / s
				*worst = math.Max(*worst, e)
				if e > tol {
					t.Errorf("%s: %s[%d] = %.17g, want %.17g", l.ID, what, k, got[k], want[k])
				}
			}
		}
		cmp("loss", []float64{l.Loss}, []float64{g.Loss}, 1e-12, &lossErr)
		cmp("per_pair_loss", l.PerPairLoss, g.PerPairLoss, 1e-12, &lossErr)
		if len(l.PerPairTerms) != len(g.PerPairTerms) {
			t.Errorf("%s: per_pair_terms %v, want the keys of %v", l.ID, l.PerPairTerms, g.PerPairTerms)
		}
		for k, v := range g.PerPairTerms {
			cmp("per_pair_terms."+k, l.PerPairTerms[k], v, 1e-12, &lossErr)
		}
		cmp("logps.policy_chosen", l.Logps.PolicyChosen, g.Logps.PolicyChosen, 1e-12, &valErr)
		cmp("logps.policy_rejected", l.Logps.PolicyRejected, g.Logps.PolicyRejected, 1e-12, &valErr)
		cmp("logps.reference_chosen", l.Logps.ReferenceChosen, g.Logps.ReferenceChosen, 1e-12, &valErr)
		cmp("logps.reference_rejected", l.Logps.ReferenceRejected, g.Logps.ReferenceRejected, 1e-12, &valErr)
		if len(l.Metrics) != len(g.Metrics) {
			t.Errorf("%s: metrics %v, want the keys of %v", l.ID, l.Metrics, g.Metrics)
		}
		for k, v := range g.Metrics {
			cmp("metrics."+k, []float64{l.Metrics[k]}, []float64{v}, 1e-12, &valErr)
		}
		if (g.RejectedGates == nil) != (l.RejectedGates == nil) {
			t.Errorf("%s: rejected_gates present %t, golden %t", l.ID, l.RejectedGates != nil, g.RejectedGates != nil)
		}
		for p := range g.RejectedGates {
			cmp("rejected_gates", l.RejectedGates[p], g.RejectedGates[p], 1e-12, &valErr)
		}
		cmp("grad_global_norm", []float64{l.GradGlobalNorm}, []float64{g.GradGlobalNorm}, 1e-10, &gradErr)
		if len(l.GradNorms) != len(g.GradNorms) {
			t.Errorf("%s: %d grad_norms, want %d", l.ID, len(l.GradNorms), len(g.GradNorms))
		}
		for k, v := range g.GradNorms {
			cmp("grad_norms."+k, []float64{l.GradNorms[k]}, []float64{v}, 1e-10, &gradErr)
		}
		t.Logf("%-28s loss/per-pair/terms %.2g  logps/metrics/gates %.2g  grad norms %.2g", l.ID, lossErr, valErr, gradErr)
		i++
	}
	if i != len(gold.Cases) {
		t.Fatalf("%d lines, want %d", i, len(gold.Cases))
	}
}

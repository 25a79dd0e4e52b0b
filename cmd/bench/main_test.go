package main

import (
	"testing"

	"gatedpo/graph"
)

// TestParseSpec checks the peer's NAME:key=value,... syntax and typing.
func TestParseSpec(t *testing.T) {
	name, table, err := parseSpec("ramp:tau=0.05,level=sequence,relative=true", "gate")
	if err != nil || name != "ramp" || table["tau"] != 0.05 || table["level"] != "sequence" || table["relative"] != true {
		t.Fatalf("got %q %v %v", name, table, err)
	}
	if _, _, err := parseSpec("dpo:beta", "objective"); err == nil {
		t.Error("accepted a key without a value")
	}
	o := options{objective: "ipo:beta=0.2,length_normalize=true", gate: "sigmoid:tau=0.1,temperature=0.5"}
	obj, gate, err := parseSpecs(o)
	if err != nil || obj.Name != "ipo" || obj.Beta != 0.2 || !obj.LengthNormalize || gate.Kind != "sigmoid" || gate.Temperature != 0.5 {
		t.Fatalf("parseSpecs: %+v %+v %v", obj, gate, err)
	}
	if _, _, err := parseSpecs(options{objective: "dpo:gamma=1", gate: "none"}); err == nil {
		t.Error("accepted a key dpo does not have")
	}
}

// TestMakeBatch checks the peer's synthetic batch scheme.
func TestMakeBatch(t *testing.T) {
	const pairs, T, V = 16, 64, 50
	b := makeBatch(graph.NewRNG(7), pairs, T, V)
	for i := 0; i < pairs; i++ {
		p := b.PromptLens[i]
		if p < T/8 || p > T/2 {
			t.Errorf("pair %d: prompt length %d outside [%d, %d]", i, p, T/8, T/2)
		}
		for j := 0; j < T; j++ {
			c, r := b.ChosenIDs[i][j], b.RejectedIDs[i][j]
			if c < 1 || c >= V || r < 1 || r >= V {
				t.Fatalf("pair %d: id outside [1, V)", i)
			}
			if j < p && c != r {
				t.Fatalf("pair %d: prompts differ at %d", i, j)
			}
			if want := map[bool]int{true: 1, false: 0}[j >= p]; b.ChosenMask[i][j] != want || b.RejectedMask[i][j] != want {
				t.Fatalf("pair %d: mask at %d", i, j)
			}
		}
	}
}

// TestRunSmoke runs two steps of a tiny model end to end and checks the
// output keys the comparison with the peer relies on.
func TestRunSmoke(t *testing.T) {
	for _, pre := range []bool{false, true} {
		res, err := run(options{vocab: 32, dModel: 16, heads: 2, layers: 1, seqLen: 16, pairs: 2,
			steps: 2, warmup: 1, dtype: "float64", objective: "dpo", gate: "ramp:tau=0.05", lr: 1e-3, precomputeRef: pre})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"median_step_s", "mean_step_s", "min_step_s", "max_step_s", "tokens_per_s", "peak_rss_mib", "blas_libs", "dtype", "other_procs_cpu_cores_avg"} {
			if _, ok := res[k]; !ok {
				t.Errorf("output lacks %q", k)
			}
		}
		if l := res["loss_first"].(float64); l < 0.69 || l > 0.70 {
			t.Errorf("first DPO loss %v, want log 2 (policy = reference)", l)
		}
	}
}

package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/graph"
	"gatedpo/internal/sharedtest"
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

// tinyNeoX is a small GPT-NeoX config (no weights: random by config).
const tinyNeoX = `{"model_type":"gpt_neox","hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
"num_attention_heads":4,"vocab_size":97,"max_position_embeddings":64,"rotary_pct":0.25,"use_parallel_residual":true}`

// TestRunHFConfigOnly runs -model hf:DIR on a directory that holds only
// config.json: random weights, the peer's defaults for the flags not
// given, bit-identical losses on a second run (seeded weights and batch),
// the output keys of the comparison; -ref-rows changes nothing but the
// reference graph's size.
func TestRunHFConfigOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyNeoX), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{model: "hf:" + dir, seqLen: 16, steps: 2, warmup: 0, dtype: "float64", objective: "dpo", gate: "none",
		refRows: -1, microPairs: -1, gcPercent: -1, set: map[string]bool{"seq-len": true, "steps": true, "warmup": true}}
	a, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"median_step_s", "peak_rss_mib", "params", "model_type"} {
		if _, ok := a[k]; !ok {
			t.Errorf("output lacks %q", k)
		}
	}
	if a["random_weights"] != true || a["model_type"] != "gpt_neox" || a["pairs"] != 4 || a["lr"] != 1e-5 || a["ref_rows"] != 4 || a["micro_pairs"] != 2 {
		t.Errorf("random %v, type %v, pairs %v (want the peer's 4), lr %v (want 1e-5), ref rows %v (want 4), micro-pairs %v (want 2)",
			a["random_weights"], a["model_type"], a["pairs"], a["lr"], a["ref_rows"], a["micro_pairs"])
	}
	if l := a["loss_first"].(float64); math.Abs(l-math.Log(2)) > 1e-6 {
		t.Errorf("first DPO loss %v, want log 2 (policy = reference)", l)
	}
	o.refRows, o.microPairs = 0, 0
	b, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	// reference in one pass, policy over the whole batch: the same step up to rounding
	if d := math.Abs(a["loss_last"].(float64) - b["loss_last"].(float64)); d > 1e-12 || b["ref_rows"] != 8 || b["micro_pairs"] != 4 {
		t.Errorf("whole-batch run (%v reference rows, %v pairs per pass): loss %v, micro-batched run %v; want equal",
			b["ref_rows"], b["micro_pairs"], b["loss_last"], a["loss_last"])
	}
	c, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if b["loss_last"] != c["loss_last"] {
		t.Errorf("a second identical run gave loss %v, the first %v: not deterministic", c["loss_last"], b["loss_last"])
	}
}

// TestRunHFOddPairsDefaults: with an odd -pairs the default micro-batch
// of a Hugging Face model is one pair (2 would not divide the batch), and
// the reference runs 2 rows at a time.
func TestRunHFOddPairsDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyNeoX), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{model: "hf:" + dir, seqLen: 16, pairs: 3, steps: 1, warmup: 0, dtype: "float64", objective: "dpo", gate: "none",
		refRows: -1, microPairs: -1, gcPercent: -1, set: map[string]bool{"seq-len": true, "pairs": true, "steps": true, "warmup": true}}
	a, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if a["pairs"] != 3 || a["micro_pairs"] != 1 || a["ref_rows"] != 2 {
		t.Errorf("-pairs 3: pairs %v, micro-pairs %v (want 1), ref rows %v (want 2)", a["pairs"], a["micro_pairs"], a["ref_rows"])
	}
}

// TestRunHFSharedModel runs -model hf:DIR on a shared model directory with
// weights.
func TestRunHFSharedModel(t *testing.T) {
	dir := sharedtest.Path(t, "hf/models/pythia-tiny")
	res, err := run(options{model: "hf:" + dir, seqLen: 32, pairs: 2, steps: 1, dtype: "float64", objective: "dpo", gate: "none",
		refRows: -1, gcPercent: -1, set: map[string]bool{"seq-len": true, "pairs": true, "steps": true}})
	if err != nil {
		t.Fatal(err)
	}
	if res["random_weights"] != false || res["params"] != 149248 {
		t.Errorf("random %v, params %v; want the directory's weights (149248 parameters)", res["random_weights"], res["params"])
	}
}

// TestRunHFBadInput: a missing directory and a too long -seq-len are
// usage errors (exit status 2).
func TestRunHFBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyNeoX), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range []options{
		{model: "hf:" + filepath.Join(dir, "nope"), seqLen: 16},
		{model: "hf:" + dir, seqLen: 65},
		{model: "gpt5", seqLen: 16},
		{model: "hf:" + dir, seqLen: 16, microPairs: 3, pairs: 4},
	} {
		o.steps, o.dtype, o.objective, o.gate = 1, "float32", "dpo", "none"
		if o.pairs == 0 {
			o.pairs = 1
		}
		o.set = map[string]bool{"seq-len": true, "pairs": true}
		_, err := run(o)
		if _, ok := err.(usageError); !ok {
			t.Errorf("-model %s -seq-len %d -micro-pairs %d: got %v, want a usage error", o.model, o.seqLen, o.microPairs, err)
		}
	}
}

// TestRunPack: -pack (packed pairs in the policy step and the reference)
// gives the unpacked losses up to rounding, on the TinyGPT and on a
// Hugging Face model with the default micro-batching and reference chunks
// (the reference's last chunk padded).
func TestRunPack(t *testing.T) {
	tiny := options{vocab: 32, dModel: 16, heads: 2, layers: 1, seqLen: 16, pairs: 3,
		steps: 3, warmup: 0, dtype: "float64", objective: "dpo", gate: "ramp:tau=0.05", lr: 1e-3}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyNeoX), 0o644); err != nil {
		t.Fatal(err)
	}
	hfo := options{model: "hf:" + dir, seqLen: 16, pairs: 3, steps: 3, warmup: 0, dtype: "float64", objective: "ipo", gate: "sigmoid:tau=0.02,level=sequence",
		refRows: 4, microPairs: -1, gcPercent: -1, lr: 1e-3, set: map[string]bool{"seq-len": true, "steps": true, "warmup": true, "pairs": true, "lr": true}}
	for name, o := range map[string]options{"transformer": tiny, "hf": hfo} {
		un, err := run(o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o.pack = true
		pk, err := run(o)
		if err != nil {
			t.Fatalf("%s -pack: %v", name, err)
		}
		if pk["pack"] != true || pk["packed_row_len"] == nil {
			t.Errorf("%s -pack: output pack %v, packed_row_len %v", name, pk["pack"], pk["packed_row_len"])
		}
		for _, k := range []string{"loss_first", "loss_last"} {
			a, b := pk[k].(float64), un[k].(float64)
			if math.Abs(a-b) > 1e-12*math.Max(1, math.Abs(b)) {
				t.Errorf("%s %s: -pack %v, unpacked %v", name, k, a, b)
			}
		}
		if un["loss_first"] == un["loss_last"] {
			t.Errorf("%s: the loss did not move over the steps", name)
		}
	}
}

// TestRunTrace: -trace writes a Go execution trace of the timed steps
// (with -cpuprofile too, both files), and the run's output is unchanged.
func TestRunTrace(t *testing.T) {
	dir := t.TempDir()
	o := options{vocab: 32, dModel: 16, heads: 2, layers: 1, seqLen: 16, pairs: 2,
		steps: 2, warmup: 1, dtype: "float64", objective: "dpo", gate: "none", lr: 1e-3}
	plain, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	o.traceFile, o.cpuProfile = filepath.Join(dir, "step.trace"), filepath.Join(dir, "cpu.prof")
	traced, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if traced["loss_last"] != plain["loss_last"] {
		t.Errorf("loss with -trace %v, without %v", traced["loss_last"], plain["loss_last"])
	}
	b, err := os.ReadFile(o.traceFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "go 1.") || len(b) < 100 {
		t.Errorf("trace file of %d bytes starting %q: not a Go execution trace", len(b), b[:min(len(b), 16)])
	}
	if st, err := os.Stat(o.cpuProfile); err != nil || st.Size() == 0 {
		t.Errorf("CPU profile next to the trace: %v (size %v)", err, st)
	}
	o.traceFile = filepath.Join(dir, "no-such-dir", "step.trace")
	if _, err := run(o); err == nil {
		t.Error("-trace into a missing directory: no error")
	}
}

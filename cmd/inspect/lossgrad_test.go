package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/internal/sharedtest"
	"gatedpo/models"
)

// goldenDir returns ../shared/golden next to the module root, or skips.
func goldenDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(sharedtest.Dir(t, "golden/golden.json"), "golden")
}

// TestLossgradGolden: one JSON line per case whose loss, log-probs, gates
// and gradient norms match golden.json (values 1e-12, norms 1e-10 relative).
func TestLossgradGolden(t *testing.T) { lossgradGolden(t) }

// TestLossgradGoldenPacked: with -pack (each pair one packed row) every case
// still matches golden.json within the same tolerances: packing changes
// only the order of sums.
func TestLossgradGoldenPacked(t *testing.T) { lossgradGolden(t, "-pack") }

func lossgradGolden(t *testing.T, extra ...string) {
	dir := goldenDir(t)
	var out, errb bytes.Buffer
	code := lossgrad(append([]string{"-policy", filepath.Join(dir, "policy.safetensors"), "-reference", filepath.Join(dir, "reference.safetensors"),
		"-batch", filepath.Join(dir, "batch.json"), "-cases", filepath.Join(dir, "cases.toml")}, extra...), &out, &errb)
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
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }
	for sc.Scan() {
		var l lossgradLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d is not one JSON object: %v", i+1, err)
		}
		g := gold.Cases[i]
		if l.ID != g.ID || rel(l.Loss, g.Loss) > 1e-12 || rel(l.GradGlobalNorm, g.GradGlobalNorm) > 1e-10 {
			t.Errorf("%s: loss %v global %v, want %s %v %v", l.ID, l.Loss, l.GradGlobalNorm, g.ID, g.Loss, g.GradGlobalNorm)
		}
		for k, v := range g.GradNorms {
			if rel(l.GradNorms[k], v) > 1e-10 {
				t.Errorf("%s: grad_norms[%s] = %v, want %v", l.ID, k, l.GradNorms[k], v)
			}
		}
		for p := range g.Logps.ReferenceRejected {
			if rel(l.Logps.ReferenceRejected[p], g.Logps.ReferenceRejected[p]) > 1e-12 || rel(l.Logps.PolicyRejected[p], g.Logps.PolicyRejected[p]) > 1e-12 {
				t.Errorf("%s: logps %+v, want %+v", l.ID, l.Logps, g.Logps)
			}
		}
		if (g.RejectedGates == nil) != (l.RejectedGates == nil) {
			t.Errorf("%s: rejected_gates present %t, golden %t", l.ID, l.RejectedGates != nil, g.RejectedGates != nil)
		}
		for p := range g.RejectedGates {
			for k := range g.RejectedGates[p] {
				if math.Abs(l.RejectedGates[p][k]-g.RejectedGates[p][k]) > 1e-12 {
					t.Errorf("%s: gate[%d][%d] = %v, want %v", l.ID, p, k, l.RejectedGates[p][k], g.RejectedGates[p][k])
				}
			}
		}
		i++
	}
	if i != len(gold.Cases) {
		t.Fatalf("%d lines, want %d", i, len(gold.Cases))
	}
}

// TestLossgradOtherConfig: a float32 checkpoint of another transformer
// size (vocab 40, width 16, 4 heads, 1 layer) runs in float32.
func TestLossgradOtherConfig(t *testing.T) {
	tmp := t.TempDir()
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 4, NLayers: 1, MaxSeqLen: 12, LNEps: 1e-5}, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tmp, "p.safetensors")
	if err := models.Save(lm, ckpt, nil); err != nil {
		t.Fatal(err)
	}
	batch := `{"chosen_ids": [[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]],
 "rejected_ids": [[5, 6, 20, 21, 22, 0], [9, 10, 30, 31, 0, 0]],
 "chosen_response_mask": [[0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]],
 "rejected_response_mask": [[0, 1, 1, 1, 1, 0], [0, 0, 1, 1, 0, 0]]}`
	cases := "[[case]]\nid = \"simpo_ramp\"\n[case.objective]\nname = \"simpo\"\n[case.gate]\nkind = \"ramp\"\ntau = 0.05\n"
	os.WriteFile(filepath.Join(tmp, "b.json"), []byte(batch), 0o644)
	os.WriteFile(filepath.Join(tmp, "c.toml"), []byte(cases), 0o644)
	var out, errb bytes.Buffer
	code := lossgrad([]string{"-policy", ckpt, "-reference", ckpt, "-batch", filepath.Join(tmp, "b.json"), "-cases", filepath.Join(tmp, "c.toml")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var l lossgradLine
	if err := json.Unmarshal(out.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if l.ID != "simpo_ramp" || !(l.Loss > 0) || len(l.RejectedGates) != 2 || len(l.RejectedGates[0]) != 5 || len(l.GradNorms) != 15 || !(l.GradGlobalNorm > 0) {
		t.Errorf("unexpected line %s", out.String())
	}
}

// TestLossgradBadInput: bad files and flags exit 2 with one line naming
// the file (and line and key for TOML).
func TestLossgradBadInput(t *testing.T) {
	dir := goldenDir(t)
	tmp := t.TempDir()
	badToml := filepath.Join(tmp, "bad.toml")
	os.WriteFile(badToml, []byte("[[case]]\nid = \"x\"\n[case.objective]\nname = \"dpo\"\nbeta = -1.0\n"), 0o644)
	badBatch := filepath.Join(tmp, "bad.json")
	os.WriteFile(badBatch, []byte(`{"chosen_ids": [[1, 2]], "rejected_ids": [[1]], "chosen_response_mask": [[0, 1]], "rejected_response_mask": [[0, 1]]}`), 0o644)
	std := func(k, v string) []string {
		args := map[string]string{"-policy": filepath.Join(dir, "policy.safetensors"), "-reference": filepath.Join(dir, "reference.safetensors"),
			"-batch": filepath.Join(dir, "batch.json"), "-cases": filepath.Join(dir, "cases.toml")}
		args[k] = v
		var out []string
		for _, f := range []string{"-policy", "-reference", "-batch", "-cases"} {
			out = append(out, f, args[f])
		}
		return out
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{std("-cases", badToml), badToml + ":5: case[0].objective.beta: expected a finite number > 0"},
		{std("-batch", badBatch), badBatch + ": rejected_ids: row 0 has 1 values, expected 2"},
		{std("-policy", filepath.Join(tmp, "none.safetensors")), "none.safetensors"},
		{std("-policy", badToml), "bad.toml"},
		{[]string{"-policy", "p"}, "missing -batch, -cases"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		code := lossgrad(c.args, &out, &errb)
		first := strings.SplitN(errb.String(), "\n", 2)[0]
		if code != 2 || !strings.Contains(first, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
		if c.want != "missing -batch, -cases" && !strings.Contains(c.want, "flag") && strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("%v: error is not one line: %q", c.args, errb.String())
		}
	}
}

// TestLossgradPackedPromptsDiffer: -pack reaches the packed graph: a pair
// whose chosen and rejected rows hold different prompts cannot be packed and
// is bad input (exit 2, naming the batch file); without -pack it runs.
func TestLossgradPackedPromptsDiffer(t *testing.T) {
	tmp := t.TempDir()
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 40, DModel: 16, NHeads: 4, NLayers: 1, MaxSeqLen: 12, LNEps: 1e-5}, tensor.Float64, 3)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(tmp, "p.safetensors")
	if err := models.Save(lm, ckpt, nil); err != nil {
		t.Fatal(err)
	}
	batch := `{"chosen_ids": [[5, 6, 7, 8, 0, 0]],
 "rejected_ids": [[9, 6, 20, 21, 22, 0]],
 "chosen_response_mask": [[0, 0, 1, 1, 0, 0]],
 "rejected_response_mask": [[0, 0, 1, 1, 1, 0]]}`
	cases := "[[case]]\nid = \"dpo\"\n[case.objective]\nname = \"dpo\"\n[case.gate]\nkind = \"none\"\n"
	bpath, cpath := filepath.Join(tmp, "b.json"), filepath.Join(tmp, "c.toml")
	os.WriteFile(bpath, []byte(batch), 0o644)
	os.WriteFile(cpath, []byte(cases), 0o644)
	args := []string{"-policy", ckpt, "-reference", ckpt, "-batch", bpath, "-cases", cpath}
	var out, errb bytes.Buffer
	if code := lossgrad(args, &out, &errb); code != 0 {
		t.Fatalf("unpacked: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	code := lossgrad(append(args, "-pack"), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), bpath) || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
		t.Errorf("packed, prompts differ: exit %d, stderr %q; want 2 and one line naming %s", code, errb.String(), bpath)
	}
}

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gorgonia.org/tensor"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/gating"
	"gatedpo/graph/safetensors"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/objectives"
)

const lossgradUsage = `usage: inspect lossgrad -policy P.safetensors|DIR|hf:DIR [-reference R.safetensors|DIR|hf:DIR] -batch batch.json -cases cases.toml [-dtype auto|float32|float64] [-pack]

Evaluates every [[case]] (objective × gate) of the cases file on one
preference batch and prints one JSON object per case and line:
id, loss, per_pair_loss, per_pair_terms (cal_dpo, rpo, dpop, apo_zero,
apo_down), logps {policy_chosen, policy_rejected, reference_chosen,
reference_rejected}, metrics (TRL names),
rejected_gates [pairs][T-1] and gate_stats (gated cases: kind != "none"),
grad_norms (by checkpoint tensor name) and grad_global_norm.

-policy and -reference take a checkpoint (models.Save format) or a Hugging
Face model directory (config.json + model.safetensors or shards; "hf:DIR"
or a directory path). -reference also takes a weights-only safetensors file
with the policy's tensor names (no config metadata), read as the policy's
architecture. grad_norms are keyed by the tensor names as stored (HF names
for HF models; tied heads and buffers are not parameters).

The batch file has the layout of shared/golden/batch.json. The model config
comes from the checkpoint's metadata or config.json; -dtype auto computes
in float64 when the policy holds F64 tensors, else float32. -reference is
needed for every objective but simpo and sft. -pack runs the policy as the
sweep does with train.pack_pairs = true: each pair as one packed row (the
prompt once, then the chosen and the rejected response); the output then
equals the unpacked one up to floating-point rounding.

Exit status: 0 ok, 1 the computation failed, 2 bad input.`

// runLossgrad is `inspect lossgrad`.
func runLossgrad(args []string) int { return lossgrad(args, os.Stdout, os.Stderr) }

// badInput marks errors caused by the user's files or flags (exit 2).
type badInput struct{ err error }

func (e badInput) Error() string { return e.err.Error() }
func (e badInput) Unwrap() error { return e.err }

// lossgradLine is one output line.
type lossgradLine struct {
	ID             string               `json:"id"`
	Objective      objectives.Spec      `json:"objective"`
	Gate           gating.Spec          `json:"gate"`
	Loss           float64              `json:"loss"`
	PerPairLoss    []float64            `json:"per_pair_loss"`
	PerPairTerms   map[string][]float64 `json:"per_pair_terms,omitempty"`
	Logps          objectives.Logps     `json:"logps"`
	Metrics        map[string]float64   `json:"metrics"`
	RejectedGates  [][]float64          `json:"rejected_gates,omitempty"`
	GateStats      *gating.Stats        `json:"gate_stats,omitempty"`
	GradNorms      map[string]float64   `json:"grad_norms"`
	GradGlobalNorm float64              `json:"grad_global_norm"`
}

func lossgrad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lossgrad", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	policyPath := fs.String("policy", "", "policy checkpoint (safetensors) or HF model directory")
	refPath := fs.String("reference", "", "reference checkpoint, HF model directory or weights-only safetensors")
	batchPath := fs.String("batch", "", "preference batch (batch.json layout)")
	casesPath := fs.String("cases", "", "cases file (cases.toml layout)")
	dtypeFlag := fs.String("dtype", "auto", "auto | float32 | float64")
	pack := fs.Bool("pack", false, "run each pair as one packed row (train.pack_pairs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, lossgradUsage)
			return 0
		}
		fmt.Fprintf(stderr, "inspect lossgrad: %v (run 'inspect lossgrad -h' for the usage)\n", err)
		return 2
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"-policy", *policyPath}, {"-batch", *batchPath}, {"-cases", *casesPath}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "inspect lossgrad: missing %s or extra arguments %q\n%s\n", strings.Join(missing, ", "), fs.Args(), lossgradUsage)
		return 2
	}
	err := lossgradRun(*policyPath, *refPath, *batchPath, *casesPath, *dtypeFlag, *pack, stdout)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "inspect lossgrad: %s\n", oneLine(err.Error()))
	var bi badInput
	if errors.As(err, &bi) || config.IsConfigError(err) {
		return 2
	}
	return 1
}

func lossgradRun(policyPath, refPath, batchPath, casesPath, dtypeFlag string, pack bool, stdout io.Writer) error {
	cases, err := config.LoadCases(casesPath)
	if err != nil {
		if config.IsConfigError(err) {
			return err
		}
		return badInput{fmt.Errorf("%s: %v", casesPath, err)}
	}
	batch, err := loss.LoadBatchJSON(batchPath)
	if err != nil {
		return badInput{err}
	}
	dt, err := checkpointDtype(policyPath, dtypeFlag)
	if err != nil {
		return badInput{err}
	}
	policy, err := hf.Load(policyPath, dt)
	if err != nil {
		return badInput{err}
	}
	B := len(batch.ChosenIDs)
	var rc, rr []float64
	if refPath != "" {
		ref, err := hf.LoadReference(refPath, policy)
		if err != nil {
			return badInput{err}
		}
		rg, err := loss.NewSeqGraph(ref, 2*B, batch.T, false)
		if err != nil {
			return badInput{fmt.Errorf("%s with %s: %v", refPath, batchPath, err)}
		}
		rc, rr, err = loss.ReferenceLogps(rg, batch)
		rg.Close()
		if err != nil {
			return badInput{fmt.Errorf("%s with %s: %v", refPath, batchPath, err)}
		}
	} else {
		for _, c := range cases {
			if c.Objective.UsesReference() {
				return badInput{fmt.Errorf("%s: case %s: objective %s needs -reference", casesPath, c.ID, c.Objective.Name)}
			}
		}
	}
	enc := json.NewEncoder(stdout)
	for _, c := range cases {
		line, err := lossgradCase(policy, batch, rc, rr, c, pack, policyPath, batchPath)
		if err != nil {
			return err
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("case %s: %v", c.ID, err)
		}
	}
	return nil
}

func lossgradCase(policy models.LM, batch data.Batch, rc, rr []float64, c config.Case, pack bool, policyPath, batchPath string) (lossgradLine, error) {
	t := batch.T
	if pack {
		t = 2 * batch.T // a packed pair is at most both rows long
	}
	pg, err := loss.NewPrefGraph(policy, len(batch.ChosenIDs), t,
		loss.PrefOptions{Objective: c.Objective, Gate: c.Gate, Grad: true, Pack: pack})
	if err != nil {
		return lossgradLine{}, badInput{fmt.Errorf("%s with %s: case %s: %v", policyPath, batchPath, c.ID, err)}
	}
	defer pg.Close()
	if err := pg.SetBatch(batch, rc, rr); err != nil {
		return lossgradLine{}, badInput{fmt.Errorf("%s: case %s: %v", batchPath, c.ID, err)}
	}
	if err := pg.Run(); err != nil {
		return lossgradLine{}, fmt.Errorf("case %s: %v", c.ID, err)
	}
	res, err := pg.Result()
	if err != nil {
		return lossgradLine{}, fmt.Errorf("case %s: %v", c.ID, err)
	}
	norms, global, err := pg.GradNorms()
	if err != nil {
		return lossgradLine{}, fmt.Errorf("case %s: %v", c.ID, err)
	}
	line := lossgradLine{ID: c.ID, Objective: c.Objective, Gate: c.Gate, Loss: res.Loss, PerPairLoss: res.PerPairLoss,
		PerPairTerms: res.PerPairTerms, Logps: res.Logps, Metrics: res.Metrics, GradNorms: norms, GradGlobalNorm: global}
	if c.Gate.Kind != gating.KindNone {
		line.RejectedGates = res.RejectedGates
		st := res.GateStats
		line.GateStats = &st
	}
	return line, nil
}

// checkpointDtype resolves -dtype: auto is float64 when the checkpoint (or
// HF model directory) holds an F64 tensor, else float32.
func checkpointDtype(path, flagValue string) (tensor.Dtype, error) {
	switch flagValue {
	case "float64":
		return tensor.Float64, nil
	case "float32":
		return tensor.Float32, nil
	case "auto":
	default:
		return tensor.Dtype{}, fmt.Errorf("-dtype: expected auto, float32 or float64, got %q", flagValue)
	}
	dts, err := hf.StoredDtypes(path)
	if err != nil {
		return tensor.Dtype{}, err
	}
	for _, d := range dts {
		if d == safetensors.F64 {
			return tensor.Float64, nil
		}
	}
	return tensor.Float32, nil
}

// oneLine folds an error message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

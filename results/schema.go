package results

// This file pins the on-disk layout of a sweep directory. Writers
// (experiments) and readers (plots, cmd/compare, cmd/figures) both go
// through these names, so a change here is a schema change: bump
// SchemaVersion.
//
//	<out>/                         sweep directory (runs/<name>/ by default)
//	  grid.toml                    the grid file as given
//	  grid.resolved.json           the expanded grid (every cell's resolved config)
//	  hub-lock.json                the commit each hf:ORG/NAME arch and hf://datasets/… dataset resolved to, reused by reruns (experiments.HubLockFile)
//	  summary.csv                  one row per cell (SummaryColumns), rebuilt atomically
//	  metrics_long.csv.gz          one row per cell × probe step × split × metric, with the config (MetricsLongFixed)
//	  report.html                  self-contained report (figures + comparison)
//	  figures/F*_*.png|svg         figures, regenerated from records
//	  comparison.csv|md            gated vs ungated comparison
//	  toy/toy_f1.json              toy single-step experiment (ToyF1), F1
//	  toy/toy_f1b.csv              toy multi-step experiment (ToyF1bColumns), F1b
//	  cells/<cell-id>/             one directory per cell; cell-id = stable hash of its resolved config
//	    config.json                CellConfig (resolved: every default filled in)
//	    train.csv                  TrainColumns, one row per optimizer step of stage 2
//	    probe_metrics.csv          ProbeMetricColumns, one row per (step, split)
//	    probe_fields.csv           ProbeFieldColumns, one row per (step, split, field)
//	    probe_examples.csv.gz      ProbeExampleColumns, one row per (step, split, field, example)
//	    probe_tokens.csv.gz        ProbeTokenColumns, one row per response token of the token-view examples at each probe
//	    summary.json               CellSummary; written last, atomically: its status says whether the cell is done,
//	                               and "files" lists the sha256 of the record files above (see integrity.go)
//	    events.out.tfevents.*      TensorBoard scalars (train/… per step, eval/<split>/… per probe), one file per run or resume
//	    ckpt/                      checkpoints (safetensors) and resume state
//
// All CSV files have a header row, use '.' decimals, write floats with
// strconv 'g' -1 (shortest round-trip) and NaN as "NaN". They load in pandas
// with a plain read_csv.

// SchemaVersion is recorded in every CellSummary.
const SchemaVersion = 1

// File names inside a sweep directory and a cell directory.
const (
	GridFile          = "grid.toml"
	GridResolvedFile  = "grid.resolved.json"
	SummaryCSVFile    = "summary.csv"
	ReportFile        = "report.html"
	FiguresDir        = "figures"
	ComparisonCSVFile = "comparison.csv"
	ComparisonMDFile  = "comparison.md"
	ToyDir            = "toy"
	ToyF1File         = "toy_f1.json"
	ToyF1bFile        = "toy_f1b.csv"
	CellsDir          = "cells"

	CellConfigFile     = "config.json"
	TrainCSVFile       = "train.csv"
	ProbeMetricsFile   = "probe_metrics.csv"
	ProbeFieldsFile    = "probe_fields.csv"
	ProbeExamplesFile  = "probe_examples.csv.gz"
	ProbeTokensFile    = "probe_tokens.csv.gz"
	CellSummaryFile    = "summary.json"
	CheckpointDir      = "ckpt"
	StatusComplete     = "complete"
	StatusFailed       = "failed"
	StatusRunning      = "running" // only ever seen in a summary.json of a killed run; treated as incomplete
	SplitTrain         = "train"   // the train probe set
	SplitHeldout       = "heldout" // the held-out probe set
	CategoryChosen     = "chosen"
	CategoryChosenLike = "chosen-like"
	CategoryChosenFmt  = "chosen-format"
	CategoryRejected   = "rejected"
	CategoryRejLike    = "rejected-like"
	CategoryRejFmt     = "rejected-format"
	CategoryIrrelevant = "irrelevant"
	CategoryRandom     = "random"
)

// FieldCategory maps every probe field of docs/method.md §5 to its category.
var FieldCategory = map[string]string{
	"chosen":             CategoryChosen,
	"chosen_initial":     CategoryChosenLike,
	"chosen_gptsemantic": CategoryChosenLike,
	"chosen_gptformat":   CategoryChosenFmt,
	"rejected":           CategoryRejected,
	"reject_gptsemantic": CategoryRejLike,
	"reject_gptformat":   CategoryRejFmt,
	"irr_train":          CategoryIrrelevant,
	"irr_test":           CategoryIrrelevant,
	"irr_hum":            CategoryIrrelevant,
	"random_permute":     CategoryRandom,
	"random_nonhum":      CategoryRandom,
}

// ProbeFields lists the probe fields in display order.
var ProbeFields = []string{
	"chosen", "chosen_initial", "chosen_gptsemantic", "chosen_gptformat",
	"rejected", "reject_gptsemantic", "reject_gptformat",
	"irr_train", "irr_test", "irr_hum", "random_permute", "random_nonhum",
}

// TrainColumns are the columns of train.csv (TRL names where TRL has one).
// Stage is "sft" or "pref"; step counts optimizer steps within the stage.
var TrainColumns = []string{
	"stage", "step", "epoch", "loss",
	"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
	"logps/chosen", "logps/rejected", "grad_norm", "lr",
	"gate/mean_g", "gate/frac_g_lt_0.5", "gate/logp_q10", "gate/logp_q50", "gate/logp_q90",
}

// ProbeMetricColumns are the columns of probe_metrics.csv: the scalar mass
// dynamics metrics of docs/method.md §5 on one probe split at one step.
// lp_* are means over examples of summed log-probs (nats); d* are changes
// from step 0; gap = lp_argmax - lp_chosen; suppression is the fraction of
// probe fields other than chosen whose mean ΔLP < 0; reward_acc and
// reward_margin are the preference metrics on the probe pairs (margin in
// log-ratio units, r+ - r-, without β).
var ProbeMetricColumns = []string{
	"step", "split",
	"lp_chosen", "lptok_chosen", "dlp_chosen",
	"lp_rejected", "dlp_rejected",
	"lp_argmax", "gap",
	"top1_mass", "entropy", "collision",
	"suppression", "reward_acc", "reward_margin",
}

// ProbeFieldColumns are the columns of probe_fields.csv.
var ProbeFieldColumns = []string{"step", "split", "field", "category", "n", "lp", "lptok", "dlp"}

// ProbeExampleColumns are the columns of probe_examples.csv.gz.
var ProbeExampleColumns = []string{"step", "split", "field", "example", "lp", "ntok"}

// ProbeTokenColumns are the columns of probe_tokens.csv.gz: the per-token
// values of the token view, for the chosen and rejected responses of the
// first ProbeTokenExamples held-out probe pairs, at every probe step.
// position counts response tokens from 0; token is the token id and text
// its decoded text (EscapeTokenText; "" for a special token); logp is
// log π(token | prompt, response<position) under the policy at that step
// (the terms of the example's lp in probe_examples.csv.gz, summed in
// position order), logp_max is log max_v π(v | same prefix), and gate is
// the gate value g that the cell's gate spec gives this rejected token
// from these log-probs (what a training step at that policy applies to
// its gradient: 1 for an ungated cell; one value per response for a
// sequence-level gate; from logp − logp_max for a relative gate). gate is
// NaN on chosen tokens and when the objective does not read the rejected
// log-probs (no gate is applied).
var ProbeTokenColumns = []string{"step", "split", "field", "example", "position", "token", "text", "logp", "logp_max", "gate"}

// ProbeTokenExamples is how many held-out probe pairs (the first ones of
// the held-out probe set) probe_tokens.csv.gz records.
const ProbeTokenExamples = 4

// SummaryColumns are the columns of the sweep-level summary.csv, in order.
// Metric columns are held-out probe values; *_0 at step 0, *_final at the
// last probe, lp_chosen_peak the maximum over probes.
var SummaryColumns = []string{
	"cell", "arch", "dataset", "pipeline", "objective", "gate", "level", "relative", "tau", "seed",
	"status", "steps", "wall_s",
	"lp_chosen_0", "lp_chosen_peak", "lp_chosen_final", "lp_rejected_final",
	"lp_argmax_0", "lp_argmax_final", "gap_0", "gap_final",
	"top1_mass_0", "top1_mass_final", "suppression_final", "reward_acc_final",
}

// ToyF1Row is one row of the toy single-step experiment (docs/method.md §6 F1).
type ToyF1Row struct {
	Row         int       `json:"row"`          // 1..6
	Title       string    `json:"title"`        // e.g. "negative on 11 next to the peak"
	K           int       `json:"k"`            // number of classes
	Positive    []int     `json:"positive"`     // classes pushed up
	Negative    []int     `json:"negative"`     // classes pushed down
	LR          float64   `json:"lr"`           // step size
	Gate        string    `json:"gate"`         // gate description ("none" if ungated)
	Before      []float64 `json:"before"`       // probabilities before the step, length K
	After       []float64 `json:"after"`        // probabilities after the step, length K
	ArgmaxAfter int       `json:"argmax_after"` // class with the highest probability after the step
}

// ToyF1 is the content of toy/toy_f1.json.
type ToyF1 struct {
	Seed uint64     `json:"seed"`
	Rows []ToyF1Row `json:"rows"`
}

// ToyF1bColumns are the columns of toy/toy_f1b.csv: the multi-step toy
// experiment, one row per (method, seed, step). method is "dpo" or a gate
// description such as "ramp tau=0.01". logp_chosen is log p(y⁺|x⁺),
// logp_rejected log p(y⁻|x⁻), top1_mass and entropy are of the chosen
// context x⁺, top1_mass_rejected of the rejected context x⁻ (added
// later: files without it still load, with NaN there).
var ToyF1bColumns = []string{"method", "seed", "step", "logp_chosen", "logp_rejected", "top1_mass", "entropy", "top1_mass_rejected"}

// ObjectiveSpec is the objective vocabulary of shared/golden/cases.toml.
// Unused parameters are zero and omitted.
type ObjectiveSpec struct {
	Name            string  `json:"name"`
	Beta            float64 `json:"beta,omitempty"`
	LabelSmoothing  float64 `json:"label_smoothing,omitempty"`
	LengthNormalize bool    `json:"length_normalize,omitempty"`
	CalWeight       float64 `json:"cal_weight,omitempty"`
	Alpha           float64 `json:"alpha,omitempty"`
	SFTNorm         string  `json:"sft_norm,omitempty"`
	Gamma           float64 `json:"gamma,omitempty"`
	Lambda          float64 `json:"lambda,omitempty"`
}

// GateSpec is the gate vocabulary of shared/golden/cases.toml, all six keys.
type GateSpec struct {
	Kind        string  `json:"kind"`
	Tau         float64 `json:"tau"`
	Level       string  `json:"level"`
	Relative    bool    `json:"relative"`
	Temperature float64 `json:"temperature"`
	Alpha       float64 `json:"alpha"`
}

// CellConfig is config.json: a cell's fully resolved configuration. Its
// canonical JSON encoding (this struct, encoding/json) hashes to the cell id.
type CellConfig struct {
	Sweep     string         `json:"sweep"`
	Arch      string         `json:"arch"`
	Dataset   string         `json:"dataset"`
	Pipeline  string         `json:"pipeline"` // baseline | extended_sft
	Seed      int            `json:"seed"`
	Objective ObjectiveSpec  `json:"objective"`
	Gate      GateSpec       `json:"gate"`
	Data      map[string]any `json:"data"`  // resolved [data] table
	Train     map[string]any `json:"train"` // resolved [train] table
	Model     map[string]any `json:"model"` // resolved model config of the arch preset
}

// Failure says where and why a cell failed.
type Failure struct {
	Stage  string `json:"stage"` // sft | pref | probe | setup
	Step   int    `json:"step"`
	Reason string `json:"reason"`
}

// Provenance records what produced a cell.
type Provenance struct {
	SchemaVersion int    `json:"schema_version"`
	GitCommit     string `json:"git_commit"`
	GoVersion     string `json:"go_version"`
	BLAS          string `json:"blas"` // "gonum (pure Go)" or "openblas"
	DatasetHash   string `json:"dataset_hash"`
	TokenizerHash string `json:"tokenizer_hash"`
	// Model (addition, schema 1): where a Hugging Face arch ("hf:…") came
	// from; absent for presets.
	Model *ModelProvenance `json:"model,omitempty"`
}

// ModelProvenance records the Hugging Face model a cell started from: its
// directory and, for a hub model, the repository, the revision as written
// and the commit it resolved to, with the SHA-256 of config.json and of
// each weight file.
type ModelProvenance struct {
	Arch        string            `json:"arch"`               // as written in the grid
	Dir         string            `json:"dir"`                // the directory loaded (for the hub: the cache snapshot)
	Repo        string            `json:"repo,omitempty"`     // ORG/NAME on the hub
	Revision    string            `json:"revision,omitempty"` // as written (default main)
	Commit      string            `json:"commit,omitempty"`   // what the revision resolved to
	FilesSHA256 map[string]string `json:"files_sha256"`
}

// CellSummary is summary.json.
type CellSummary struct {
	Cell       string             `json:"cell"`
	Status     string             `json:"status"` // complete | failed | running
	Failure    *Failure           `json:"failure,omitempty"`
	Steps      int                `json:"steps"`  // preference-stage optimizer steps done
	WallS      float64            `json:"wall_s"` // wall-clock seconds (excluded from reproducibility checks)
	Final      map[string]float64 `json:"final"`  // held-out probe metrics at the last probe (SummaryColumns names)
	Provenance Provenance         `json:"provenance"`
	// Timing (addition, schema 1): seconds spent per part of the cell, e.g.
	// sft_s (stage-1 training, shared by cells), ref_logps_s (reference
	// log-prob precomputation), pref_train_s, probe_s; resumed_from_step
	// when the cell was resumed from a checkpoint. Wall-clock: excluded from
	// reproducibility checks.
	Timing map[string]float64 `json:"timing,omitempty"`
	// Files (addition, schema 1): the sha256 (hex) of every record file of
	// a finished cell (RecordFiles), by file name. A cell is complete only
	// while its files match (VerifyRecords); summaries written before this
	// field existed have none and are not checked.
	Files map[string]string `json:"files,omitempty"`
}

package results

// This file pins the on-disk layout of a sweep directory. Writers
// (experiments) and readers (plots, cmd/compare, cmd/figures) both go
// through these names, so a change here is a schema change: bump
// SchemaVersion.
//
//	<out>/                         sweep directory (runs/<name>/ by default)
//	  grid.toml                    the grid file as given
//	  grid.resolved.json           the expanded grid (every cell's resolved config)
//	  grids/<name>.toml|.resolved.json  the same two files per grid name, so a directory that
//	                               several grids write into keeps each one (grid.toml is the last run's)
//	  omitted.json                 optional: record files left out of every cell on purpose (OmittedFile)
//	  comparison_size.csv          smaller gated vs larger ungated models (sizes.go), when a sweep has two sizes
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
// with a plain read_csv. Each record file has a row type below (TrainRow,
// ProbeMetricRow, …) whose csv tags name its columns in order; rows.go
// writes and reads them (WriteRows, ReadRows), for every writer and reader.

// SchemaVersion is recorded in every CellSummary.
const SchemaVersion = 1

// File names inside a sweep directory and a cell directory.
const (
	GridFile          = "grid.toml"
	GridResolvedFile  = "grid.resolved.json"
	GridsDir          = "grids" // grids/<name>.toml and grids/<name>.resolved.json
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

// TrainRow is one row of train.csv: one optimizer step (TRL's names
// where TRL has one). Stage is "sft" or "pref"; Step counts optimizer
// steps within the stage, from 1; Epoch is Step over the steps of one
// epoch. The rewards/* and logps/* columns are the objective's metrics on
// the step's batch, and gate/* statistics over the batch's rejected
// response tokens (docs/method.md §3: the mean gate value, the fraction
// with g < 0.5, quantiles of their log-probs); a metric the step does not
// report (every one in the SFT stage) is NaN.
type TrainRow struct {
	Stage             string  `csv:"stage,required"`
	Step              int     `csv:"step,required"`
	Epoch             float64 `csv:"epoch"`
	Loss              float64 `csv:"loss"`
	RewardsChosen     float64 `csv:"rewards/chosen"`
	RewardsRejected   float64 `csv:"rewards/rejected"`
	RewardsMargins    float64 `csv:"rewards/margins"`
	RewardsAccuracies float64 `csv:"rewards/accuracies"`
	LogpsChosen       float64 `csv:"logps/chosen"`
	LogpsRejected     float64 `csv:"logps/rejected"`
	GradNorm          float64 `csv:"grad_norm"`
	LR                float64 `csv:"lr"`
	GateMeanG         float64 `csv:"gate/mean_g"`
	GateFracGLtHalf   float64 `csv:"gate/frac_g_lt_0.5"`
	GateLogpQ10       float64 `csv:"gate/logp_q10"`
	GateLogpQ50       float64 `csv:"gate/logp_q50"`
	GateLogpQ90       float64 `csv:"gate/logp_q90"`
}

// TrainColumns are the columns of train.csv (TrainRow), in order.
var TrainColumns = Columns[TrainRow]()

// ProbeMetricRow is one row of probe_metrics.csv: the scalar mass
// dynamics metrics of docs/method.md §5 on one probe split at one step.
// LP* are means over examples of summed log-probs (nats); D* are changes
// from step 0; Gap = LPArgmax − LPChosen; Suppression is the fraction of
// probe fields other than chosen whose mean ΔLP < 0; RewardAcc and
// RewardMargin are the preference metrics on the probe pairs (margin in
// log-ratio units, r+ − r−, without β).
type ProbeMetricRow struct {
	Step         int     `csv:"step,required"`
	Split        string  `csv:"split,required"`
	LPChosen     float64 `csv:"lp_chosen"`
	LPTokChosen  float64 `csv:"lptok_chosen"`
	DLPChosen    float64 `csv:"dlp_chosen"`
	LPRejected   float64 `csv:"lp_rejected"`
	DLPRejected  float64 `csv:"dlp_rejected"`
	LPArgmax     float64 `csv:"lp_argmax"`
	Gap          float64 `csv:"gap"`
	Top1Mass     float64 `csv:"top1_mass"`
	Entropy      float64 `csv:"entropy"`
	Collision    float64 `csv:"collision"`
	Suppression  float64 `csv:"suppression"`
	RewardAcc    float64 `csv:"reward_acc"`
	RewardMargin float64 `csv:"reward_margin"`
}

// ProbeMetricColumns are the columns of probe_metrics.csv (ProbeMetricRow).
var ProbeMetricColumns = Columns[ProbeMetricRow]()

// ProbeFieldRow is one row of probe_fields.csv: one probe field on one
// split at one step. A file whose category is empty reads it from
// FieldCategory.
type ProbeFieldRow struct {
	Step     int     `csv:"step,required"`
	Split    string  `csv:"split,required"`
	Field    string  `csv:"field,required"`
	Category string  `csv:"category"`
	N        int     `csv:"n"`            // examples
	LP       float64 `csv:"lp"`           // mean summed log-prob over examples (nats)
	LPTok    float64 `csv:"lptok"`        // mean per-token log-prob (nats)
	DLP      float64 `csv:"dlp,required"` // LP minus its step-0 value (nats)
}

// ProbeFieldColumns are the columns of probe_fields.csv (ProbeFieldRow).
var ProbeFieldColumns = Columns[ProbeFieldRow]()

// ProbeExampleRow is one row of probe_examples.csv.gz: one example of one
// probe field on one split at one step.
type ProbeExampleRow struct {
	Step    int     `csv:"step,required"`
	Split   string  `csv:"split,required"`
	Field   string  `csv:"field,required"`
	Example int     `csv:"example,required"` // index of the pair in the probe set
	LP      float64 `csv:"lp,required"`      // summed response log-prob (nats)
	NTok    int     `csv:"ntok,required"`    // response tokens
}

// ProbeExampleColumns are the columns of probe_examples.csv.gz (ProbeExampleRow).
var ProbeExampleColumns = Columns[ProbeExampleRow]()

// ProbeTokenRow is one row of probe_tokens.csv.gz: the per-token values
// of the token view, for the chosen and rejected responses of the first
// ProbeTokenExamples held-out probe pairs, at every probe step. Position
// counts response tokens from 0; Token is the token id and Text its
// decoded text (EscapeTokenText; "" for a special token); LogP is
// log π(token | prompt, response<position) under the policy at that step
// (the terms of the example's lp in probe_examples.csv.gz, summed in
// position order), LogPMax is log max_v π(v | same prefix), and Gate is
// the gate value g that the cell's gate spec gives this rejected token
// from these log-probs (what a training step at that policy applies to
// its gradient: 1 for an ungated cell; one value per response for a
// sequence-level gate; from logp − logp_max for a relative gate). Gate is
// NaN on chosen tokens and when the objective does not read the rejected
// log-probs (no gate is applied).
type ProbeTokenRow struct {
	Step     int     `csv:"step,required"`
	Split    string  `csv:"split,required"`
	Field    string  `csv:"field,required"`    // "chosen" or "rejected"
	Example  int     `csv:"example,required"`  // index of the pair in the probe set
	Position int     `csv:"position,required"` // index of the token in the response, from 0
	Token    int     `csv:"token,required"`    // token id
	Text     string  `csv:"text,required"`     // decoded text, escaped (EscapeTokenText)
	LogP     float64 `csv:"logp,required"`
	LogPMax  float64 `csv:"logp_max,required"`
	Gate     float64 `csv:"gate,required"`
}

// ProbeTokenColumns are the columns of probe_tokens.csv.gz (ProbeTokenRow).
var ProbeTokenColumns = Columns[ProbeTokenRow]()

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

// ToyF1bRow is one row of toy/toy_f1b.csv: the multi-step toy
// experiment, one row per (method, seed, step). Method is "dpo" or a gate
// description such as "ramp tau=0.01". LogpChosen is log p(y⁺|x⁺),
// LogpRejected log p(y⁻|x⁻), Top1Mass and Entropy are of the chosen
// context x⁺, Top1MassRejected is max_v p(v|x⁻) of the rejected context
// (added later: files without the column still load, with NaN there).
type ToyF1bRow struct {
	Method           string  `csv:"method,required"`
	Seed             int     `csv:"seed,required"`
	Step             int     `csv:"step,required"`
	LogpChosen       float64 `csv:"logp_chosen,required"`
	LogpRejected     float64 `csv:"logp_rejected,required"`
	Top1Mass         float64 `csv:"top1_mass,required"`
	Entropy          float64 `csv:"entropy,required"`
	Top1MassRejected float64 `csv:"top1_mass_rejected"`
}

// ToyF1bColumns are the columns of toy/toy_f1b.csv (ToyF1bRow).
var ToyF1bColumns = Columns[ToyF1bRow]()

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

package config

import (
	"gatedpo/experiments/data"
	"gatedpo/results"
)

// This file is the grid schema: every key of a grid file is one field
// below, with its type (the field's), its default, its bounds and its doc
// comment. It is the single source of
//
//   - the parser (parse.go decodes every table by these fields and tags;
//     the keys tagged parse:"custom" have hand-written code there),
//   - the defaults (Defaults),
//   - a cell's resolved config tables (Grid.CellTables; keys tagged
//     cell:"custom" have a rule in cellRules, cell:"-" keys are left out),
//   - and the key list of the package documentation (keys_doc.go,
//     generated from this file: go generate ./experiments/config).
//
// Tags:
//
//	toml:"key"            the key (a field without one is derived, not read)
//	default:"V"           the default: a string as is, a number, true/false, a
//	                      list as comma-separated items; absent = the zero value
//	derived:"TEXT"        the default is derived from other keys (the doc
//	                      comment says how); TEXT is what the documentation shows
//	min:"N" max:"N"       bounds of an integer (max absent: 2³¹−1)
//	range:"positive"      a finite number > 0 ("nonneg": ≥ 0)
//	choices:"a|b"         the values a string may take
//	parse:"custom"        read by hand-written code in parse.go
//	cell:"custom" | "-"   in a cell's config by a rule of cellRules | never
//
// An int64 field is a byte count ("expected an integer number of bytes").
// Objective and gate tables use the vocabularies of gatedpo/objectives and
// gatedpo/gating (objectives.ParseSpec, gating.ParseSpec), which own their
// parameters and defaults.

//go:generate go test -run TestKeysDoc -update

// Schema holds every key of a grid file.
type Schema struct {
	// Output goes to runs/<name>/ unless -out is given.
	Name string `toml:"name" default:"grid" parse:"custom"`
	// [data]: the datasets, their tokenization and the data limits.
	Data DataConfig `toml:"data"`
	// [train]: the training schedule shared by every cell.
	Train TrainConfig `toml:"train"`
	// [toy]: the toy experiments.
	Toy ToyConfig `toml:"toy"`
	// [grid]: the axes whose cross product is the set of cells.
	Axes `toml:"grid"`
}

// DataConfig is the [data] table: what every cell trains and probes on.
type DataConfig struct {
	// "synthetic" or a data file (JSONL, .gz, Parquet; relative to the grid
	// file), or hf://datasets/ORG/NAME[@REV]/PATH (PATH may be a glob over
	// shards); a list is an axis.
	Datasets []string `toml:"dataset" default:"synthetic" parse:"custom" cell:"custom"`
	// Unset: the held-out pairs are split from the dataset. A file (or
	// hf://datasets/…): its pairs are the held-out probe set (a list: one
	// per dataset, by position). In a cell's config only when set.
	EvalDatasets []string `toml:"eval_dataset" parse:"custom" cell:"custom"`
	// Record format, the loader's vocabulary (experiments/data
	// FormatNames): "" or auto (detect) | prompt | probe | hh |
	// conversational; aliases (jsonl, ultrafeedback = auto) are stored
	// canonical.
	Format string `toml:"format"`
	// byte | bpe (trained on the training texts, cached in the user cache
	// dir; saved as <out>/tokenizers/*.json) | model (an hf: arch's own
	// tokenizer.json). Unset: model for hf: archs, byte for presets
	// (Grid.TokenizerOf).
	Tokenizer string `toml:"tokenizer" default:"byte" choices:"byte|bpe|model" cell:"custom"`
	// The bpe vocabulary (ignored by byte and model; in a cell's config
	// only for bpe).
	VocabSize int `toml:"vocab_size" default:"512" min:"260" max:"1048576" cell:"custom"`
	// Prompts keep their last N tokens.
	MaxPromptTokens int `toml:"max_prompt_tokens" default:"32" min:"1" max:"8192"`
	// Responses keep their first N tokens.
	MaxResponseTokens int `toml:"max_response_tokens" default:"32" min:"1" max:"8192"`
	// Held-out probe pairs; the train probe set has as many.
	ProbeExamples int `toml:"probe_examples" default:"64" min:"1" max:"100000"`
	// Training pairs used; 0 = every pair left after the held-out split.
	TrainExamples int `toml:"train_examples" default:"0" min:"0" max:"100000000"`
	// [data.synthetic]: the knobs of the synthetic generator for dataset =
	// "synthetic", the snake_case of experiments/data.SyntheticConfig's
	// fields (seed, train_pairs, eval_pairs, head_decay, …; each
	// bounded); unset = the generator's defaults (seed 1). A count
	// that is given is ≥ 1 (eval_pairs: or -1 for none).
	Synthetic data.SyntheticConfig `toml:"synthetic" parse:"custom" cell:"custom"`
	// Longest JSONL line read (a data limit, not part of a cell's config;
	// raise it for big records).
	MaxLineBytes int `toml:"max_line_bytes" default:"8388608" min:"1" max:"1073741824" cell:"-"`
	// Largest dataset after decompression (a gzip bomb stops here).
	MaxDataBytes int64 `toml:"max_data_bytes" default:"1073741824" min:"1" max:"1099511627776" cell:"-"`
	// Tokens of one text field before truncation.
	MaxFieldTokens int `toml:"max_field_tokens" default:"65536" min:"1" max:"16777216" cell:"-"`
	// End every response with the tokenizer's EOS (before truncation, as
	// TRL). Unset: on for tokenizer = "model" (whose tokenizer must then
	// know its EOS: tokenizer_config.json eos_token), off for byte and bpe
	// (Grid.AppendEOSOf). In a cell's config only when on.
	AppendEOS bool `toml:"append_eos" default:"false" cell:"custom"`
	// Conversational records: "model" renders them with an hf: arch's chat
	// template (tokenizer_config.json or chat_template.jinja) when it has
	// one, else in the HH layout; "hh" always in the HH layout. In a cell's
	// config only when "hh".
	ChatTemplate string `toml:"chat_template" default:"model" choices:"model|hh" cell:"custom"`

	// AppendEOSSet says whether append_eos was written.
	AppendEOSSet bool
	// Paths maps each dataset (and eval_dataset) as written to the file it
	// resolved to (relative paths resolve against the grid file's
	// directory). Cell configs record the name as written, so cell ids do
	// not depend on where the repository lives; the content hash is in the
	// provenance.
	Paths map[string]string
}

// TrainConfig is the [train] table, shared by every cell.
type TrainConfig struct {
	// Stage-1 (SFT) epochs.
	SFTEpochs int `toml:"sft_epochs" default:"8" min:"0" max:"100000"`
	// Stage-2 (preference) epochs.
	PrefEpochs int `toml:"pref_epochs" default:"6" min:"0" max:"100000"`
	// Preference pairs per step; SFT steps take 2× as many sequences.
	BatchPairs int `toml:"batch_pairs" default:"8" min:"1" max:"4096"`
	// adam | adamw | rmsprop (graph.Optimizer).
	Optimizer string `toml:"optimizer" default:"adam" choices:"adam|adamw|rmsprop"`
	// Preference-stage learning rate.
	LR float64 `toml:"lr" default:"1e-3" range:"positive"`
	// Stage-1 learning rate; unset: lr.
	SFTLR float64 `toml:"sft_lr" derived:"lr" range:"positive"`
	// constant | linear | cosine after warmup_steps.
	LRSchedule string `toml:"lr_schedule" default:"constant" choices:"constant|linear|cosine"`
	// Linear warm-up steps.
	WarmupSteps int `toml:"warmup_steps" default:"20" min:"0"`
	// Decoupled weight decay; unset: 0.01 for adamw, else 0.
	WeightDecay float64 `toml:"weight_decay" default:"0" range:"nonneg"`
	// Global-norm gradient clipping; 0 = off.
	MaxGradNorm float64 `toml:"max_grad_norm" default:"10.0" range:"nonneg"`
	// Probe every N preference steps, and at step 0.
	EvalEvery int `toml:"eval_every" default:"50" min:"1"`
	// Checkpoint every N steps; a killed cell resumes from its last
	// checkpoint.
	CheckpointEvery int `toml:"checkpoint_every" default:"200" min:"1"`
	// float32 | float64.
	DType string `toml:"dtype" default:"float32" choices:"float32|float64"`
	// Run each preference pair as one packed row — the prompt once, then
	// the chosen and the rejected response, each attending to the prompt
	// and to itself — in the policy's forward and backward, instead of two
	// rows that both hold the prompt. Losses, log-probs, gates and
	// gradients equal the unpacked ones up to floating-point rounding (the
	// prompt's gradients are summed in another order), so a cell with it
	// on has its own id. Needs a transformer-* or hf: arch (not mlp-*).
	PackPairs bool `toml:"pack_pairs" default:"false" cell:"custom"`
	// Pairs per forward/backward pass; 0 = the whole batch. Smaller
	// values run each batch in micro-batches of this many pairs (SFT:
	// 2× as many sequences), summing their gradients, each scaled by its
	// share of the batch loss, before the batch's one optimizer step: the
	// same step up to floating-point rounding, with activation memory in
	// proportion to micro_pairs instead of batch_pairs (plus one
	// gradient-sized buffer); the reference log-probs and the probes then
	// run 2·micro_pairs sequences at a time (the same values) instead of
	// 32. Must divide batch_pairs; not with rpo
	// sft_norm = "token" (its loss mixes a pair mean with a batch token
	// mean). A value below batch_pairs gives the cell (and its SFT stage)
	// its own id; batch_pairs itself is the whole batch.
	MicroPairs int `toml:"micro_pairs" default:"0" min:"0" max:"4096" cell:"custom"`
	// A checkpoint (models.Save format, HF models too) to start stage 1
	// from, relative to the grid file; "" = random init. The cell config
	// records it as written.
	InitFrom string `toml:"init_from"`

	// InitFromPath is InitFrom resolved against the grid file's directory.
	InitFromPath string
}

// ToyConfig is the [toy] table: the toy experiments of experiments/toy.
type ToyConfig struct {
	// Also write toy/toy_f1.json and toy/toy_f1b.csv.
	Run bool `toml:"run" default:"false"`
	// Multi-step toy steps.
	Steps int `toml:"steps" default:"200" min:"1" max:"1000000"`
	// Multi-step toy seeds.
	Seeds int `toml:"seeds" default:"3" min:"1" max:"1000"`
}

// Axes is the [grid] table: the cross product of its axes (and of
// data.dataset) is the set of cells, in the order dataset, arch, pipeline,
// objective, gate, seed (seed fastest), less the excluded combinations.
type Axes struct {
	// A preset (ArchPresets), "hf:PATH" (a local Hugging Face model
	// directory) or "hf:ORG/NAME[@REV]" (a hub model).
	Arch []string `toml:"arch" default:"transformer-xs" parse:"custom"`
	// baseline (SFT on chosen) | extended_sft (SFT on chosen ∪ rejected).
	Pipeline []string `toml:"pipeline" default:"baseline" choices:"baseline|extended_sft" parse:"custom"`
	// Seeds of the cells.
	Seed []int `toml:"seed" default:"1" min:"0" parse:"custom"`
	// [[grid.objective]]: one value of the objective axis per table, in the
	// vocabulary of objectives.ParseSpec (name and its parameters; a
	// parameter left out takes the objective's default). Default: one
	// table, name = "dpo".
	Objectives []results.ObjectiveSpec `toml:"objective" parse:"custom"`
	// [[grid.gate]]: one value of the gate axis per table, in the
	// vocabulary of gating.ParseSpec; a list-valued tau expands the table
	// into one value per τ. Default: one table, kind = "none".
	Gates []results.GateSpec `toml:"gate" parse:"custom"`
	// [[grid.exclude]]: combinations left out of the product. Each table
	// names axis values (keys dataset, arch, pipeline, seed, objective (its
	// name), gate (its kind), tau; a value or a list, any of which
	// matches); a cell matching every key of one table is dropped. Each
	// value must be on its axis.
	Exclude []ExcludeRule `toml:"exclude" parse:"custom"`
}

// syntheticLimits are the upper bounds of the [data.synthetic] integer
// knobs (their fields belong to experiments/data, so their bounds are
// here rather than in tags).
var syntheticLimits = map[string]int{
	"train_pairs": 1000000,
	"eval_pairs":  1000000,
	"word_len":    64,
	"min_words":   256,
	"topics":      1000,
	"head_size":   1000,
	"tail_start":  1000,
}

// Values of keys that code outside the parser compares against.
const (
	PipelineBaseline    = "baseline"     // grid.pipeline: SFT on chosen
	PipelineExtendedSFT = "extended_sft" // grid.pipeline: SFT on chosen ∪ rejected

	// ChatTemplateModel (data.chat_template) renders conversational
	// records with the chat template of the cell's Hugging Face model
	// (tokenizer_config.json's chat_template or chat_template.jinja) when
	// it has one, and in the HH layout otherwise (preset archs, models
	// without a template).
	ChatTemplateModel = "model"
	// ChatTemplateHH always uses the HH layout ("\n\nHuman: …").
	ChatTemplateHH = "hh"
	// TokenizerModel is data.tokenizer = "model": the cell's HF model's
	// own tokenizer (append_eos then defaults on).
	TokenizerModel = "model"
)

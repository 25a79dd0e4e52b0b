// Package experiments expands TOML grids into cells, trains and probes
// each cell, and records the results (the `go run ./cmd/sweep` product).
//
// # Running a sweep
//
//	go run ./cmd/sweep                          # built-in "default" grid → runs/default/
//	go run ./cmd/sweep -grid my.toml            # a grid file (or: go run ./cmd/sweep my.toml)
//	go run ./cmd/sweep -grid paper -dry-run     # list the cells of a built-in grid and their state
//	go run ./cmd/sweep -only gate.kind=ramp -only arch=transformer-s
//	go run ./cmd/sweep -workers 2 -out /scratch/sweep -shard 0/4
//	go run ./cmd/sweep -retry-failed            # rerun the cells recorded as failed
//
// Built-in grids (embedded, usable by name): default (toy + transformer-xs
// on the synthetic dataset; 15 cells, a few minutes on 2 cores), test
// (4 tiny cells, seconds; the test suite's), paper (hh-probe and
// UltraFeedback from ../shared/data, 900 cells; its header gives the
// expected cost), paper-small-fixes (hh-probe, transformer-xs: dpo, dpop,
// apo_zero, apo_down, nca_pair, each ungated and under a ramp gate, three
// seeds; 30 cells), paper-small-dpo and paper-small-objectives (60 cells
// each, both datasets; the study committed in docs/results/paper-small).
//
// Exit status: 0 when every selected cell is complete; 1 when some cell
// failed deterministically (a divergence; every other cell was still run;
// ErrCellsFailed); 2 for bad input — an unknown key, a bad value, a value
// beyond its limit, a missing or special file — reported as "file:line:
// key: what was expected" before anything is run or written
// (config.ConfigError); 3 when the sweep was interrupted (ErrInterrupted) or a
// cell stopped on an environmental failure such as a full disk
// (ErrEnvironment): those are not recorded, and a rerun continues.
//
// A finished cell's summary.json lists the sha256 of its record files; a
// rerun recomputes a complete cell whose files no longer match (and says
// so), and a resume continues from a checkpoint only while the records up
// to its step are the ones it was taken with.
//
// A rerun of the same command skips complete cells, resumes incomplete
// ones from their last checkpoint (bit-identical to an uninterrupted
// run), and leaves failed ones alone unless -retry-failed. Ctrl-C (SIGINT
// or SIGTERM) stops cleanly: each running cell saves a checkpoint first.
// The progress display is a redrawn block on a terminal (cells done/total,
// each running cell's stage, step, loss and ETA) and periodic log/slog
// lines otherwise.
//
// # The grid file
//
// Package gatedpo/experiments/config reads grid files: every key with its
// type, default, bounds and meaning is in its schema, and
// `go doc ./experiments/config` lists them. A grid looks like
//
//	name = "mine"
//	[data]
//	dataset = "synthetic"
//	[train]
//	pref_epochs = 6
//	[grid]
//	arch = ["transformer-xs"]
//	seed = [1, 2, 3]
//	[[grid.gate]]
//	kind = "ramp"
//	tau = [1e-3, 1e-2]
//
// Limits. Every size is bounded before anything is allocated; a value
// beyond its bound is bad input ("grid.toml:7: data.max_prompt_tokens:
// expected ≤ 8192, got 1000000000", exit status 2; every bound is in the
// key list of `go doc ./experiments/config`). Strings (names, paths) have
// at most 4096 bytes (the name: 128) and no control characters; a grid
// file has at most 16 MiB in lines of at most 64 KiB; datasets and
// init_from must be regular files; a value given twice on an axis
// (seed = [1, 1]) is refused; at most 100000 cells. A checkpoint's model
// config is bounded too (models.MaxVocabSize and the others) and must fit
// the tensors in the file.
//
// Cells are expanded in the order dataset, arch, pipeline, objective,
// gate, seed (seed fastest), less the excluded combinations. A cell's id
// is the first 12 hex digits of the SHA-256 of its resolved
// results.CellConfig (every default filled in; datasets as written in the
// grid, so ids do not depend on where the repository lives; the
// dataset's content hash is in the provenance).
// -only key=value keeps the cells whose flattened config has that value
// (arch, dataset, pipeline, seed, objective.name or objective, gate.kind
// or gate, gate.tau, train.lr, …; numbers compare by value).
//
// # Model presets (grid.arch)
//
//	transformer-xs  d_model 64,  2 heads, 2 layers   (docs/method.md §9)
//	transformer-s   d_model 128, 4 heads, 2 layers
//	transformer-m   d_model 256, 4 heads, 4 layers
//	transformer-l   d_model 384, 6 heads, 6 layers
//	mlp-xs          8-token window, 32-dim embeddings, 128 hidden (tanh)
//	mlp-s           8-token window, 64-dim embeddings, 256 hidden (tanh)
//
// The context is max_prompt_tokens + max_response_tokens (rows are
// prompt ++ response, right-padded; no BOS/EOS), the vocabulary that of
// the tokenizer (259 for bytes).
//
// # Hugging Face models (grid.arch = "hf:PATH" or "hf:ORG/NAME[@REV]")
//
// "hf:PATH" names a local Hugging Face model directory (config.json plus
// model.safetensors or shards; model_type gpt2, gpt_neox, llama or qwen2,
// see gatedpo/models/hf), PATH relative to the grid file or absolute.
// "hf:ORG/NAME", optionally "@REVISION" (a branch, tag or commit), names a
// model on the Hugging Face hub; an existing local directory of that path
// wins, as in Hugging Face's libraries. Before anything is written,
// Grid.ResolveHub fetches config.json, tokenizer.json (and
// tokenizer_config.json), and the safetensors weights into the standard
// Hugging Face cache (package gatedpo/experiments/hub: HF_HUB_CACHE, else
// HF_HOME/hub, else ~/.cache/huggingface/hub, shared with Python), or
// finds them there; HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE=1 work as in
// huggingface_hub. The commit a revision resolved to is pinned in
// <out>/hub-lock.json (HubLockFile), so reruns and other shards use the
// same snapshot, with no request when it is in the cache; a different
// revision is a different arch value. An unknown repository, revision or
// file, a gated repository without a token, an unreachable hub with no
// cached snapshot, or a failed download is a config error naming
// grid.arch[i] (exit status 2); a cache that cannot be written (disk
// full) is an environmental failure (exit status 3). A dry run resolves hub models too (it
// needs their hashes for the cell ids) and may download into the cache.
//
// Hub datasets (data.dataset or data.eval_dataset =
// "hf://datasets/ORG/NAME[@REV]/PATH", PATH a file or a glob over shards)
// are fetched the same way (ResolveHubDatasets, before LoadDatasets),
// into datasets--ORG--NAME, a glob expanded with the hub's listing API;
// their commit is pinned in hub-lock.json under the value as written, and
// the shards are read in name order as one dataset (data.LoadFiles) whose
// hash is in the cell ids. Errors name the data key (exit status 2).
//
// The cell config records the arch as written; its model table holds
// kind "hf", model_type, vocab_size, max_position_embeddings, max_seq_len,
// dtype and source_sha256 (SHA-256 of config.json and the weight files,
// so changed weights make new cells). The provenance in summary.json
// (provenance.model) records the directory, for a hub model the
// repository, revision and resolved commit, and the SHA-256 of
// config.json and each weight file.
//
// data.tokenizer = "model" (the default for hf: archs when the grid does
// not set data.tokenizer; presets keep byte) encodes the text with the
// model's own tokenizer.json (package gatedpo/experiments/data/hftok); the
// cell's data table then records tokenizer_sha256, and the final policy's
// directory gets the model's tokenizer files. It needs every arch of the
// grid to be hf:… when set explicitly. The byte and bpe tokenizers remain
// allowed when their ids fit vocab_size (the byte tokenizer needs ≥ 259).
// The grid is rejected (naming the key) when the directory is missing or
// its config unsupported, when the tokenizer's ids do not fit vocab_size,
// when the model has no tokenizer.json for tokenizer = "model", or when
// max_prompt_tokens + max_response_tokens exceeds max_position_embeddings.
// Stage 1 starts from the loaded weights; with sft_epochs = 0 the loaded
// model itself is both the policy's start and the frozen reference. A
// cell's final policy is saved as ckpt/final.safetensors and as the model
// directory ckpt/final-hf/ (Hugging Face names, {"format": "pt"},
// config.json with torch_dtype set to the compute dtype; the tokenizer
// files with tokenizer = "model").
//
// # What a cell does
//
// Data: the pairs of eval_dataset when the grid names one (records of the
// training file marked as eval are then left out of training), else the
// dataset's own held-out split if it has one, else probe_examples pairs
// drawn with a fixed PCG permutation (the same for every seed), are the
// held-out probe set (at most probe_examples of them) and are never
// trained on; the first probe_examples training pairs are the train probe
// set. Conversational records are rendered per arch (experiments/data
// ApplyChatTemplate, TRL's split of prompt and responses): cells of an HF
// arch whose model has a chat template record its hash in their data
// table (chat_template_sha256), so they are cached and identified apart
// from cells rendered in the HH layout. A key added for data files
// (eval_dataset, append_eos, chat_template) enters the data table only
// when it is not at the value every earlier grid had, so earlier sweeps
// keep their cell ids.
//
// Stage 1 (SFT): the token-mean NLL of the chosen responses (baseline) or
// of chosen and rejected responses as separate rows (extended_sft), from
// random weights (seeded) or init_from. It is trained once for all cells
// that share its settings and cached under <out>/sft/<key>/, built under
// an exclusive file lock so concurrent workers and shards never build it
// twice or see it half written. Right after it, the reference log-probs of
// every training pair are computed once (TRL's precompute_ref_log_probs;
// the time is recorded as timing.ref_logps_s) — the reference never runs
// again.
//
// Stage 2: the preference objective with the gate (loss.PrefGraph),
// the reference being the frozen stage-1 model, for pref_epochs epochs of
// batch_pairs pairs (the last partial batch of an epoch is dropped so
// every step has one graph shape). Both stages run the one loop of
// experiments/train: batches of epoch e are a pure function of (seed, e)
// (each stage orders its batches from its own named stream of the cell
// seed, train.SFTOrder and train.PrefOrder), so a checkpoint needs only
// the weights, the optimizer state and the step. NaN or ±Inf (loss or
// gradient norm) fails the cell with its stage, step and reason; the
// other cells go on.
//
// Probes (docs/method.md §5), at step 0 and every eval_every steps (and the
// last step), teacher-forced and batched, no gradient: on the held-out
// split every probe field present; on the train split chosen and rejected
// (to track the train-probe margin, for comparisons at matched margin).
// Step 0 runs on the reference model, so its chosen/rejected values are
// the probe pairs' reference log-probs and probe rewards are r = LP − LP₀.
// What is probed and when, and the records, are this package's
// (probePasses, recordProbes in cell.go); the forward passes and every
// metric's definition are package gatedpo/experiments/probe's (its
// metrics.go): lp_chosen, lptok_chosen, dlp_chosen, lp_rejected,
// dlp_rejected, lp_argmax (Σ_t log max_v π on the chosen prefixes), gap =
// lp_argmax − lp_chosen, top1_mass, entropy and collision (means over
// chosen positions, then over examples), suppression (fraction of fields
// other than chosen whose mean ΔLP < 0), reward_acc (r⁺ > r⁻) and
// reward_margin (mean r⁺ − r⁻, no β). Per-field means and per-example
// values are kept, and for the first results.ProbeTokenExamples held-out
// pairs the per-token values of the chosen and rejected responses (log π
// of each token, log max_v π, and on rejected tokens the gate value the
// cell's gate gives them at that policy) in probe_tokens.csv.gz, for the
// token view.
//
// # Records
//
// The layout is pinned in results/schema.go. Every file is written
// atomically (temporary file + rename); summary.json is a cell's last
// file, and a cell is complete exactly when it says so. Metric files are
// rewritten in full at each checkpoint, so they always match the newest
// checkpoint. The sweep-level summary.csv, figures, comparison and
// report.html are rebuilt from the cell directories, under a file lock,
// whenever a process finishes its cells: shards writing into one directory
// need no merge step. Provenance (schema version, git commit, Go version,
// BLAS build, dataset and tokenizer hashes) is in every summary.json.
//
// # Parallelism and sharding
//
// -workers N trains N cells at once, one goroutine each (default: one per
// CPU). Results do not depend on N: each cell is deterministic
// (math/rand/v2 PCG seeds, fixed reduction orders), so the metric files of
// a sweep are bit-identical whatever -workers (wall-clock fields aside).
// -shard i/n runs cells i, i+n, i+2n, … (0-based) of the selected cells;
// it is also read from a Slurm job array (SLURM_ARRAY_TASK_ID −
// SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed
// Job (JOB_COMPLETION_INDEX of -shards N or GATEDPO_SHARDS). See deploy/
// for job files. A per-cell file lock keeps two processes from running one
// cell.
//
// # What the default grid shows
//
// The README's default-results section gives a default sweep's numbers
// and the command that produced them. BenchmarkDefaultSweep
// (bench_test.go) reruns the grid and prints them; TestDefaultShowsSqueezing
// checks the squeezing signature on a finished sweep
// (GATEDPO_DEFAULT_DIR=runs/default).
package experiments

package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gorgonia.org/tensor"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/experiments/probe"
	"gatedpo/experiments/train"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/results"
)

// Stage 1 (SFT) is trained once for all cells that share its settings and
// cached under <out>/sft/<key>/:
//
//	model.safetensors   the SFT model (the reference of stage 2)
//	train.csv           its training log (stage "sft")
//	ref_logps.json      reference log-probs of every training pair (chosen, rejected)
//	done.json           written last: the cache entry is complete
//	failed.json         the stage diverged (cells sharing it fail with its reason)
//	ckpt/               checkpoints while training
//
// An exclusive file lock (<out>/sft/<key>.lock) is held while an entry is
// built, so concurrent workers and shards build it once and never see it
// half written; the kernel drops the lock if the process dies.
const (
	sftDirName   = "sft"
	sftDoneFile  = "done.json"
	sftFailFile  = "failed.json"
	sftRefFile   = "ref_logps.json"
	sftModelFile = "model.safetensors"
)

// sftDone is done.json.
type sftDone struct {
	Key          string  `json:"key"`
	Steps        int     `json:"steps"`
	WallS        float64 `json:"wall_s"`         // SFT training time
	RefLogpsS    float64 `json:"ref_logps_s"`    // time to precompute the reference log-probs
	RefLogpsSeqs int     `json:"ref_logps_seqs"` // sequences teacher-forced for them
}

// refLogps are the reference sequence log-probs of the training pairs
// (TRL precompute_ref_log_probs): computed once per SFT model.
type refLogps struct {
	Chosen   []float64 `json:"chosen"`
	Rejected []float64 `json:"rejected"`
}

// stage1 is a ready SFT cache entry.
type stage1 struct {
	Dir   string
	Rows  []results.TrainRow // train.csv rows
	Ref   refLogps
	Done  sftDone
	Model string // path of model.safetensors
}

// sftKey hashes everything stage 1 depends on.
func sftKey(cfg results.CellConfig) string {
	t := cfg.Train
	k := map[string]any{
		"arch": cfg.Arch, "model": cfg.Model, "dataset": cfg.Dataset, "data": cfg.Data,
		"pipeline": cfg.Pipeline, "seed": cfg.Seed,
		"sft_epochs": t["sft_epochs"], "sft_lr": t["sft_lr"], "batch_pairs": t["batch_pairs"],
		"optimizer": t["optimizer"], "lr_schedule": t["lr_schedule"], "warmup_steps": t["warmup_steps"],
		"weight_decay": t["weight_decay"], "max_grad_norm": t["max_grad_norm"], "dtype": t["dtype"],
		"init_from": t["init_from"],
	}
	if m, ok := t["micro_pairs"]; ok { // only below batch_pairs: the key then changes the numbers by rounding
		k["micro_pairs"] = m
	}
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// errBusy is returned for a cell that another process is running.
var errBusy = errors.New("cell is being run by another process")

// optimConfig builds the optimizer configuration of a stage.
func optimConfig(t config.TrainConfig, lr float64, totalSteps int) graph.OptimConfig {
	return graph.OptimConfig{
		Kind: graph.OptimKind(t.Optimizer), LR: lr, WeightDecay: t.WeightDecay, MaxGradNorm: t.MaxGradNorm,
		Schedule: graph.Schedule{Kind: graph.ScheduleKind(t.LRSchedule), WarmupSteps: min(t.WarmupSteps, max(totalSteps-1, 0)), TotalSteps: totalSteps},
	}
}

// dtypeOf maps the grid's dtype name.
func dtypeOf(name string) tensor.Dtype {
	if name == "float64" {
		return tensor.Float64
	}
	return tensor.Float32
}

// newModel builds the cell's model from its preset (random init from the
// seed), loads the Hugging Face model directory of an "hf:PATH" arch, or
// loads init_from.
func newModel(g *Grid, cfg results.CellConfig) (models.LM, error) {
	dt := dtypeOf(g.Train.DType)
	m := cfg.Model
	num := func(k string) int { v, _ := m[k].(float64); return int(v) }
	if g.Train.InitFromPath != "" {
		lm, err := models.Load(g.Train.InitFromPath, dt)
		if err != nil {
			return nil, fmt.Errorf("train.init_from: %w", err)
		}
		return lm, nil
	}
	seed := train.ModelInit.Seed(cfg.Seed)
	switch m["kind"] {
	case hf.Kind: // a local Hugging Face model: its weights are the start
		a, ok := g.hfArchs[cfg.Arch]
		if !ok {
			return nil, fmt.Errorf("arch %s: not resolved by the grid", cfg.Arch)
		}
		return hf.LoadDir(a.Path, dt)
	case "mlp":
		return models.NewMLP(models.MLPConfig{VocabSize: num("vocab_size"), Window: num("window"), DEmbed: num("d_embed"),
			DHidden: num("d_hidden"), Activation: models.ActTanh, MaxSeqLen: num("max_seq_len")}, dt, seed)
	default:
		return models.NewTransformer(models.TransformerConfig{VocabSize: num("vocab_size"), DModel: num("d_model"),
			NHeads: num("n_heads"), NLayers: num("n_layers"), MaxSeqLen: num("max_seq_len"), LNEps: 1e-5}, dt, seed)
	}
}

// sftSequences are the stage-1 training sequences of a pipeline.
func sftSequences(pipeline string, pairs []data.EncodedPair) []data.Sequence {
	seqs := make([]data.Sequence, 0, 2*len(pairs))
	for _, p := range pairs {
		seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Chosen})
	}
	if pipeline == config.PipelineExtendedSFT {
		for _, p := range pairs {
			seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Rejected})
		}
	}
	return seqs
}

// ensureStage1 returns the SFT cache entry of cfg, building it if needed.
func (env *sweepEnv) ensureStage1(ctx context.Context, cfg results.CellConfig, pd *preparedData, st *cellStatus) (*stage1, error) {
	key := sftKey(cfg)
	dir := filepath.Join(env.out, sftDirName, key)
	if s, err := readStage1(dir); err == nil || isStageFailure(err) {
		return s, err
	}
	st.set("sft-wait", 0, 0, math.NaN())
	unlock, err := results.LockFile(filepath.Join(env.out, sftDirName, key+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if env.retryFailed {
		if _, err := os.Stat(filepath.Join(dir, sftFailFile)); err == nil && !env.retried[key] {
			os.Remove(filepath.Join(dir, sftFailFile))
		}
	}
	if s, err := readStage1(dir); err == nil || isStageFailure(err) {
		return s, err
	}
	env.retried[key] = true
	results.RemoveTemps(dir)
	results.RemoveTemps(filepath.Join(dir, results.CheckpointDir))
	s, err := env.trainStage1(ctx, cfg, pd, dir, st)
	// The SFT model, its optimizer state and graphs are garbage now; collect
	// them before stage 2 loads its models, or the heap holds both until
	// the collector next runs.
	runtime.GC()
	return s, err
}

func isStageFailure(err error) bool {
	var sf *train.Failure
	return errors.As(err, &sf)
}

// readStage1 reads a complete cache entry (or its recorded failure).
func readStage1(dir string) (*stage1, error) {
	if b, err := os.ReadFile(filepath.Join(dir, sftFailFile)); err == nil {
		var f results.Failure
		if json.Unmarshal(b, &f) == nil {
			return nil, &train.Failure{Failure: f}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, sftDoneFile))
	if err != nil {
		return nil, err
	}
	s := &stage1{Dir: dir, Model: filepath.Join(dir, sftModelFile)}
	if err := json.Unmarshal(b, &s.Done); err != nil {
		return nil, err
	}
	b, err = os.ReadFile(filepath.Join(dir, sftRefFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.Ref); err != nil {
		return nil, err
	}
	if s.Rows, err = results.ReadRows[results.TrainRow](filepath.Join(dir, results.TrainCSVFile)); err != nil {
		return nil, err
	}
	return s, nil
}

// trainStage1 trains the SFT model (resuming from its checkpoint), then
// precomputes the reference log-probs and marks the entry done. Caller
// holds the lock.
func (env *sweepEnv) trainStage1(ctx context.Context, cfg results.CellConfig, pd *preparedData, dir string, st *cellStatus) (*stage1, error) {
	start := time.Now()
	g := env.grid
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lm, err := newModel(g, cfg)
	if err != nil {
		return nil, err
	}
	seqs := sftSequences(cfg.Pipeline, pd.Train)
	stage := train.Stage{Name: "sft", Examples: len(seqs), Batch: 2 * g.Train.BatchPairs, Epochs: g.Train.SFTEpochs,
		Seed: train.SFTOrder.Seed(cfg.Seed), CheckpointEvery: g.Train.CheckpointEvery}
	total := stage.Total()
	opt, err := graph.NewOptimizer(optimConfig(g.Train, g.Train.SFTLR, total))
	if err != nil {
		return nil, err
	}
	ckptDir := filepath.Join(dir, results.CheckpointDir)
	var rows []results.TrainRow // train.csv
	first := 1
	if k, cdir, ok := latestCheckpoint(ckptDir); ok {
		if err := loadCheckpoint(cdir, lm, opt); err != nil {
			return nil, fmt.Errorf("resume stage 1 from %s: %w", cdir, err)
		}
		if rows, err = results.ReadRows[results.TrainRow](filepath.Join(cdir, results.TrainCSVFile)); err != nil {
			return nil, err
		}
		first = k + 1
	}
	n := stage.Batch // sequences per SFT step
	// micro_pairs pairs per preference pass: twice as many sequences per SFT pass
	graphs := train.NewBuckets(func(t int) (*train.SFTStep, error) { return train.NewSFTStep(lm, opt, n, 2*g.Train.MicroPairs, t) })
	defer graphs.Close()
	_, err = stage.Run(first, train.Hooks{
		Prepare: func(k int, idx []int) (func() (train.Output, error), error) {
			batch := make([]data.Sequence, n)
			longest := 0
			for i, j := range idx {
				batch[i] = seqs[j]
				longest = max(longest, len(seqs[j].Prompt)+len(seqs[j].Response))
			}
			t := train.Bucket(longest, pd.T)
			sg, err := graphs.Get(t)
			if err != nil {
				return nil, err
			}
			return func() (train.Output, error) { return sg.Step(data.MakeSeqBatch(batch, pd.PadID, t)) }, nil
		},
		Log: func(k int, out train.Output) {
			rows = append(rows, trainRow("sft", k, stage.Epoch(k), out))
		},
		Diverged: func(f *train.Failure) {
			b, _ := json.Marshal(f.Failure)
			results.WriteBytesAtomic(filepath.Join(dir, sftFailFile), b)
		},
		After: func(k int, out train.Output) error {
			st.set("sft", k, total, out.Loss)
			return nil
		},
		Checkpoint: func(k int) error { return env.saveStage1Checkpoint(ckptDir, k, lm, opt, rows) },
		Stopped:    func() bool { return ctx.Err() != nil },
	})
	if err != nil {
		return nil, err
	}
	if first <= total && ctx.Err() != nil {
		// stopped during the last step: the entry is not finished (its
		// model and reference log-probs are not written); a rerun resumes
		// from the last checkpoint
		return nil, train.ErrInterrupted
	}
	wall := time.Since(start).Seconds()
	if err := models.Save(lm, filepath.Join(dir, sftModelFile), map[string]string{"stage": "sft", "key": filepath.Base(dir)}); err != nil {
		return nil, err
	}
	// reference log-probs of every training pair, once (TRL precompute_ref_log_probs)
	st.set("ref-logps", 0, 0, math.NaN())
	t0 := time.Now()
	ref, err := sequenceLogps(g.Train, lm, pd)
	if err != nil {
		return nil, err
	}
	refS := time.Since(t0).Seconds()
	if err := results.WriteJSONAtomic(filepath.Join(dir, sftRefFile), ref); err != nil {
		return nil, err
	}
	if err := results.WriteRows(filepath.Join(dir, results.TrainCSVFile), rows); err != nil {
		return nil, err
	}
	done := sftDone{Key: filepath.Base(dir), Steps: total, WallS: wall, RefLogpsS: refS, RefLogpsSeqs: 2 * len(pd.Train)}
	if err := results.WriteJSONAtomic(filepath.Join(dir, sftDoneFile), done); err != nil {
		return nil, err
	}
	os.RemoveAll(ckptDir)
	return readStage1(dir)
}

// saveStage1Checkpoint saves the SFT checkpoint with its log.
func (env *sweepEnv) saveStage1Checkpoint(ckptDir string, k int, lm models.LM, opt *graph.Optimizer, rows []results.TrainRow) error {
	// the log goes inside the checkpoint directory before it is renamed into place
	return saveCheckpoint(ckptDir, k, lm, opt, func(dir string) error {
		return results.WriteRows(filepath.Join(dir, results.TrainCSVFile), rows)
	})
}

// newProber returns the prober of a cell's forward-only passes (the
// reference log-probs and the probes): batches of probe.Batch sequences,
// or, with train.micro_pairs below batch_pairs, of the 2·micro_pairs rows
// of a training micro-batch, so that these passes shrink with the
// training graphs (the values are the same; only the passes are more).
func newProber(t config.TrainConfig, lm models.LM, maxT int) *probe.Prober {
	if m := t.Micro(); m < t.BatchPairs {
		return probe.NewBatched(lm, maxT, 2*m)
	}
	return probe.New(lm, maxT)
}

// sequenceLogps teacher-forces every training pair's chosen and rejected
// response through lm (forward only).
func sequenceLogps(t config.TrainConfig, lm models.LM, pd *preparedData) (refLogps, error) {
	pg := newProber(t, lm, pd.T)
	defer pg.Close()
	seqs := make([]data.Sequence, 0, 2*len(pd.Train))
	for _, p := range pd.Train {
		seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Chosen})
	}
	for _, p := range pd.Train {
		seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Rejected})
	}
	st, err := pg.Run(seqs, pd.PadID)
	if err != nil {
		return refLogps{}, err
	}
	r := refLogps{Chosen: make([]float64, len(pd.Train)), Rejected: make([]float64, len(pd.Train))}
	for i := range pd.Train {
		r.Chosen[i], r.Rejected[i] = st[i].LP, st[len(pd.Train)+i].LP
	}
	return r, nil
}

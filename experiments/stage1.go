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
	"time"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
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
	Rows  [][]string // train.csv rows
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
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// stageFailure is a training stage that diverged or could not run.
type stageFailure struct{ results.Failure }

// Error formats the failure as "stage step N: reason".
func (f *stageFailure) Error() string {
	return fmt.Sprintf("%s step %d: %s", f.Stage, f.Step, f.Reason)
}

// errInterrupted is returned when the context is cancelled mid-stage; the
// stage has saved a checkpoint.
var errInterrupted = errors.New("interrupted")

// errBusy is returned for a cell that another process is running.
var errBusy = errors.New("cell is being run by another process")

// optimConfig builds the optimizer configuration of a stage.
func optimConfig(t TrainConfig, lr float64, totalSteps int) graph.OptimConfig {
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
	seed := uint64(cfg.Seed)
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
	if pipeline == PipelineExtendedSFT {
		for _, p := range pairs {
			seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Rejected})
		}
	}
	return seqs
}

// seqBatches orders n items for one epoch, batches of size b, the last
// partial batch dropped (every graph has one fixed shape).
func seqBatches(n, b int, seed uint64, epoch int) [][]int {
	enc := make([]data.EncodedPair, n)
	var out [][]int
	for _, bt := range data.Batches(enc, b, seed, epoch) {
		if len(bt) == b {
			out = append(out, bt)
		}
	}
	return out
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
	return env.trainStage1(ctx, cfg, pd, dir, st)
}

func isStageFailure(err error) bool {
	var sf *stageFailure
	return errors.As(err, &sf)
}

// readStage1 reads a complete cache entry (or its recorded failure).
func readStage1(dir string) (*stage1, error) {
	if b, err := os.ReadFile(filepath.Join(dir, sftFailFile)); err == nil {
		var f results.Failure
		if json.Unmarshal(b, &f) == nil {
			return nil, &stageFailure{f}
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
	if s.Rows, err = readCSVRows(filepath.Join(dir, results.TrainCSVFile)); err != nil {
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
	n := 2 * g.Train.BatchPairs // sequences per SFT step
	perEpoch := len(seqs) / n
	total := perEpoch * g.Train.SFTEpochs
	opt, err := graph.NewOptimizer(optimConfig(g.Train, g.Train.SFTLR, total))
	if err != nil {
		return nil, err
	}
	ckptDir := filepath.Join(dir, results.CheckpointDir)
	rec := &cellRecords{}
	first := 1
	if k, cdir, ok := latestCheckpoint(ckptDir); ok {
		if err := loadCheckpoint(cdir, lm, opt); err != nil {
			return nil, fmt.Errorf("resume stage 1 from %s: %w", cdir, err)
		}
		rows, err := readCSVRows(filepath.Join(cdir, results.TrainCSVFile))
		if err != nil {
			return nil, err
		}
		rec.Train, first = rows, k+1
	}
	graphs := map[int]*sftGraph{} // one per row-length bucket
	defer func() {
		for _, g := range graphs {
			g.close()
		}
	}()
	seed := uint64(cfg.Seed)
	var order [][]int
	orderEpoch := -1
	for k := first; k <= total; k++ {
		epoch := (k - 1) / perEpoch
		if epoch != orderEpoch { // the batch order of an epoch, computed once
			order, orderEpoch = seqBatches(len(seqs), n, seed^0x5f7, epoch), epoch
		}
		idx := order[(k-1)%perEpoch]
		batch := make([]data.Sequence, n)
		for i, j := range idx {
			batch[i] = seqs[j]
		}
		longest := 0
		for _, q := range batch {
			longest = max(longest, len(q.Prompt)+len(q.Response))
		}
		t := trainBucket(longest, pd.T)
		sg, ok := graphs[t]
		if !ok {
			if sg, err = newSFTGraph(lm, opt, n, t); err != nil {
				return nil, err
			}
			graphs[t] = sg
		}
		out, err := sg.step(data.MakeSeqBatch(batch, pd.PadID, t))
		rec.Train = append(rec.Train, trainRow("sft", k, float64(k)/float64(perEpoch), out))
		if f := divergence("sft", k, out, err); f != nil {
			b, _ := json.Marshal(f.Failure)
			results.WriteBytesAtomic(filepath.Join(dir, sftFailFile), b)
			return nil, f
		}
		st.set("sft", k, total, out.Loss)
		stop := ctx.Err() != nil
		if (k%g.Train.CheckpointEvery == 0 && k < total) || (stop && k < total) {
			if err := env.saveStage1Checkpoint(ckptDir, k, lm, opt, rec); err != nil {
				return nil, err
			}
		}
		if stop {
			return nil, errInterrupted
		}
	}
	wall := time.Since(start).Seconds()
	if err := models.Save(lm, filepath.Join(dir, sftModelFile), map[string]string{"stage": "sft", "key": filepath.Base(dir)}); err != nil {
		return nil, err
	}
	// reference log-probs of every training pair, once (TRL precompute_ref_log_probs)
	st.set("ref-logps", 0, 0, math.NaN())
	t0 := time.Now()
	ref, err := sequenceLogps(lm, pd)
	if err != nil {
		return nil, err
	}
	refS := time.Since(t0).Seconds()
	if err := results.WriteJSONAtomic(filepath.Join(dir, sftRefFile), ref); err != nil {
		return nil, err
	}
	if err := results.WriteCSVAtomic(filepath.Join(dir, results.TrainCSVFile), results.TrainColumns, rec.Train); err != nil {
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
func (env *sweepEnv) saveStage1Checkpoint(ckptDir string, k int, lm models.LM, opt *graph.Optimizer, rec *cellRecords) error {
	// the log goes inside the checkpoint directory before it is renamed into place
	return saveCheckpoint(ckptDir, k, lm, opt, func(dir string) error {
		return results.WriteCSVAtomic(filepath.Join(dir, results.TrainCSVFile), results.TrainColumns, rec.Train)
	})
}

// sequenceLogps teacher-forces every training pair's chosen and rejected
// response through lm (forward only).
func sequenceLogps(lm models.LM, pd *preparedData) (refLogps, error) {
	pg := newBucketedProbe(lm, probeBatch, pd.T)
	defer pg.close()
	seqs := make([]data.Sequence, 0, 2*len(pd.Train))
	for _, p := range pd.Train {
		seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Chosen})
	}
	for _, p := range pd.Train {
		seqs = append(seqs, data.Sequence{Prompt: p.Prompt, Response: p.Rejected})
	}
	st, err := pg.run(seqs, pd.PadID)
	if err != nil {
		return refLogps{}, err
	}
	r := refLogps{Chosen: make([]float64, len(pd.Train)), Rejected: make([]float64, len(pd.Train))}
	for i := range pd.Train {
		r.Chosen[i], r.Rejected[i] = st[i].LP, st[len(pd.Train)+i].LP
	}
	return r, nil
}

// trainBucket is the row length a training batch whose longest row has
// longest tokens is padded to: the next multiple of 16 (32 beyond 64
// tokens, to bound the number of graphs), at most maxT. Each bucket has
// its own graph; the choice depends on the batch alone, so runs stay
// deterministic and resumable.
func trainBucket(longest, maxT int) int {
	step := 16
	if maxT > 64 {
		step = 32
	}
	t := (longest + step - 1) / step * step
	return min(max(t, 2), maxT)
}

// probeBatch is the number of sequences per forward-only probe batch.
const probeBatch = 32

// divergence turns a non-finite loss or gradient into a stage failure.
func divergence(stage string, step int, out trainOutput, err error) *stageFailure {
	switch {
	case errors.Is(err, graph.ErrNonFiniteGrad):
		return &stageFailure{results.Failure{Stage: stage, Step: step, Reason: fmt.Sprintf("non-finite gradient norm (%v), loss %v", out.GradNorm, out.Loss)}}
	case err != nil:
		return &stageFailure{results.Failure{Stage: stage, Step: step, Reason: err.Error()}}
	case math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0):
		return &stageFailure{results.Failure{Stage: stage, Step: step, Reason: fmt.Sprintf("loss is %v", out.Loss)}}
	}
	return nil
}

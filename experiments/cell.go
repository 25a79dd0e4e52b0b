package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/experiments/probe"
	"gatedpo/experiments/train"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/objectives"
	"gatedpo/results"
)

// runCell trains, probes and records one cell in <out>/cells/<id>/,
// resuming from its checkpoint if it has one. It returns the cell's final
// summary (complete or failed) or errInterrupted (the cell keeps its
// checkpoint and is resumed by the next run).
func (env *sweepEnv) runCell(ctx context.Context, c *Cell, st *cellStatus) (sum results.CellSummary, err error) {
	dir := filepath.Join(env.out, results.CellsDir, c.ID)
	start := time.Now()
	sum = results.CellSummary{Cell: c.ID, Status: results.StatusRunning, Provenance: env.provenance}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, err
	}
	// one process at a time per cell (two sweeps on one directory, or a
	// shard restarted while its predecessor lingers): the other one skips it
	unlock, ok, err := results.TryLockFile(filepath.Join(env.out, results.CellsDir, "."+c.ID+".lock"))
	if err != nil {
		return sum, err
	}
	if !ok {
		return sum, errBusy
	}
	defer unlock()
	results.RemoveTemps(dir)
	results.RemoveTemps(filepath.Join(dir, results.CheckpointDir))
	if old, done, damaged := finishedCell(dir, env.retryFailed); done {
		return old, nil // finished by another process meanwhile
	} else if damaged != nil { // Run has said so when it listed the cell
		if err := resetDamagedCell(dir); err != nil {
			return sum, &envError{err}
		}
	}
	if err := results.WriteJSONAtomic(filepath.Join(dir, results.CellConfigFile), c.Config); err != nil {
		return sum, err
	}
	prevWall := 0.0
	if _, old, ok := results.ReadCellRecord(dir); ok {
		prevWall = old.WallS // a resumed cell accumulates its wall time
	}
	fail := func(f results.Failure) (results.CellSummary, error) {
		sum.Status, sum.Failure = results.StatusFailed, &f
		sum.WallS = prevWall + time.Since(start).Seconds()
		return sum, env.finishCell(dir, sum)
	}
	defer func() {
		if r := recover(); r != nil {
			sum, err = fail(results.Failure{Stage: st.stage(), Step: st.step(), Reason: fmt.Sprintf("internal error: panic: %v\n%s", r, debug.Stack())})
		}
	}()
	if err := results.WriteJSONAtomic(filepath.Join(dir, results.CellSummaryFile), sum); err != nil {
		return sum, err
	}
	st.set("data", 0, 0, 0)
	pd, err := env.data.get(env.grid, c.Config)
	if err != nil {
		return fail(results.Failure{Stage: "setup", Reason: err.Error()})
	}
	sum.Provenance.DatasetHash, sum.Provenance.TokenizerHash = pd.Hash, pd.Tok.Hash()
	sum.Provenance.Model = env.grid.modelProvenance(c.Config.Arch)
	s1, err := env.ensureStage1(ctx, c.Config, pd, st)
	// a stage error is a recorded failure, or an interruption (checkpoint kept)
	stageErr := func(err error, stage string, step int) (results.CellSummary, error) {
		var sf *train.Failure
		switch {
		case errors.As(err, &sf):
			return fail(sf.Failure)
		case errors.Is(err, train.ErrInterrupted):
			return sum, train.ErrInterrupted
		case IsEnvironmental(err):
			return sum, &envError{err} // not a property of the cell: not recorded, a rerun retries
		}
		return fail(results.Failure{Stage: stage, Step: step, Reason: err.Error()})
	}
	if err != nil {
		return stageErr(err, "sft", 0)
	}
	steps, timing, err := env.trainStage2(ctx, c, dir, pd, s1, st)
	sum.Steps = steps
	sum.Timing = timing
	if timing == nil {
		sum.Timing = map[string]float64{}
	}
	sum.Timing["sft_s"] = s1.Done.WallS
	sum.Timing["ref_logps_s"] = s1.Done.RefLogpsS
	if err != nil {
		return stageErr(err, "pref", st.step())
	}
	sum.Status = results.StatusComplete
	sum.WallS = prevWall + time.Since(start).Seconds()
	sum.Final = finalMetrics(dir)
	return sum, env.finishCell(dir, sum)
}

// finishCell writes summary.json, the cell's last file.
func (env *sweepEnv) finishCell(dir string, sum results.CellSummary) error {
	if sum.Final == nil {
		sum.Final = finalMetrics(dir)
	}
	files, err := results.HashRecords(dir)
	if err != nil {
		return err
	}
	sum.Files = files
	return results.WriteJSONAtomic(filepath.Join(dir, results.CellSummaryFile), sum)
}

// trainStage2 runs the preference stage of a cell with probes and
// checkpoints. It returns the number of steps done and timings.
func (env *sweepEnv) trainStage2(ctx context.Context, c *Cell, dir string, pd *preparedData, s1 *stage1, st *cellStatus) (int, map[string]float64, error) {
	g := env.grid
	timing := map[string]float64{}
	dt := dtypeOf(g.Train.DType)
	ref, err := models.Load(s1.Model, dt)
	if err != nil {
		return 0, timing, err
	}
	policy := ref.Clone()
	stage := train.Stage{Name: "pref", Examples: len(pd.Train), Batch: g.Train.BatchPairs, Epochs: g.Train.PrefEpochs,
		Seed: train.PrefOrder.Seed(c.Config.Seed), CheckpointEvery: g.Train.CheckpointEvery}
	total := stage.Total()
	opt, err := graph.NewOptimizer(optimConfig(g.Train, g.Train.LR, total))
	if err != nil {
		return 0, timing, err
	}
	ckptDir := filepath.Join(dir, results.CheckpointDir)
	rec := &results.CellRecords{Train: append([]results.TrainRow{}, s1.Rows...)}
	first := 1
	if k, cdir, ok := latestCheckpoint(ckptDir); ok {
		// a checkpoint that cannot be read, or whose records were damaged
		// since, is dropped: the cell is recomputed from scratch
		resumed, err := loadRecordsUpTo(dir, k)
		if err == nil {
			err = checkpointRecordsOK(cdir, dir, resumed)
		}
		if err == nil {
			err = loadCheckpoint(cdir, policy, opt)
		}
		if err != nil {
			if isEnvErrno(err) {
				return 0, timing, err
			}
			env.warn("cannot resume from the checkpoint: recomputing the cell from scratch", "cell", c.ID, "checkpoint", cdir, "err", err)
			if err := os.RemoveAll(ckptDir); err != nil {
				return 0, timing, err
			}
			policy = ref.Clone()
			if opt, err = graph.NewOptimizer(optimConfig(g.Train, g.Train.LR, total)); err != nil {
				return 0, timing, err
			}
		} else {
			rec = resumed
			first = k + 1
			timing["resumed_from_step"] = float64(k)
		}
	}
	// step-0 probes on the reference model: the baseline of every delta,
	// and (since the policy starts as the reference) the reference
	// log-probs of the probe pairs.
	st.set("probe", 0, total, 0)
	refProbe := newProber(g.Train, ref, pd.T)
	base, err := probePasses(refProbe, pd, 0)
	refProbe.Close()
	if err != nil {
		return 0, timing, &train.Failure{Failure: results.Failure{Stage: "probe", Step: 0, Reason: err.Error()}}
	}
	tv := &probe.TokenView{Gate: gating.Spec(c.Config.Gate), Applied: objectives.Spec(c.Config.Objective).ReadsRejected(), Tok: pd.Tok}
	if first == 1 {
		if err := recordProbes(rec, base, base, tv); err != nil {
			return 0, timing, &train.Failure{Failure: results.Failure{Stage: "probe", Step: 0, Reason: err.Error()}}
		}
	}
	tr, err := newTracker(dir, rec.Train, first-1)
	if err != nil {
		return 0, timing, err
	}
	defer tr.close()
	if first == 1 {
		if err := tr.probe(0, rec.Metrics, rec.Train); err != nil {
			return 0, timing, err
		}
	}
	objSpec := objectives.Spec(c.Config.Objective)
	gateSpec := gating.Spec(c.Config.Gate)
	b := stage.Batch
	pack := g.Train.PackPairs
	graphs := train.NewBuckets(func(t int) (*train.PrefStep, error) {
		if pack {
			return train.NewPackedPrefStep(policy, opt, objSpec, gateSpec, b, g.Train.MicroPairs, t)
		}
		return train.NewPrefStep(policy, opt, objSpec, gateSpec, b, g.Train.MicroPairs, t)
	})
	defer graphs.Close()
	policyProbe := newProber(g.Train, policy, pd.T) // builds its graphs on first use
	defer policyProbe.Close()
	var trainS, probeS float64
	var t0 time.Time
	last, err := stage.Run(first, train.Hooks{
		Prepare: func(k int, idx []int) (func() (train.Output, error), error) {
			t0 = time.Now()
			pairs := make([]data.EncodedPair, b)
			rc, rr := make([]float64, b), make([]float64, b)
			longest, packed := 0, 0
			for i, j := range idx {
				p := pd.Train[j]
				pairs[i], rc[i], rr[i] = p, s1.Ref.Chosen[j], s1.Ref.Rejected[j]
				longest = max(longest, len(p.Prompt)+max(len(p.Chosen), len(p.Rejected)))
				packed = max(packed, loss.PackedPairLen(len(p.Prompt), len(p.Chosen), len(p.Rejected)))
			}
			t := train.Bucket(longest, pd.T)
			if pack {
				// one packed row per pair, bucketed by its length; the
				// batch itself is laid out at its longest unpacked row
				pg, err := graphs.Get(train.Bucket(packed, 2*pd.T))
				if err != nil {
					return nil, err
				}
				return func() (train.Output, error) { return pg.Step(data.MakeBatch(pairs, pd.PadID, 0), rc, rr) }, nil
			}
			pg, err := graphs.Get(t)
			if err != nil {
				return nil, err
			}
			return func() (train.Output, error) { return pg.Step(data.MakeBatch(pairs, pd.PadID, t), rc, rr) }, nil
		},
		Log: func(k int, out train.Output) {
			rec.Train = append(rec.Train, trainRow("pref", k, stage.Epoch(k), out))
		},
		Diverged: func(*train.Failure) { rec.Write(dir) },
		After: func(k int, out train.Output) error {
			if err := tr.step(k, rec.Train[len(rec.Train)-1]); err != nil {
				return err
			}
			trainS += time.Since(t0).Seconds()
			st.set("pref", k, total, out.Loss)
			if k%g.Train.EvalEvery == 0 || k == total {
				t1 := time.Now()
				passes, err := probePasses(policyProbe, pd, k)
				if err != nil {
					return &train.Failure{Failure: results.Failure{Stage: "probe", Step: k, Reason: err.Error()}}
				}
				n := len(rec.Metrics)
				if err := recordProbes(rec, passes, base, tv); err != nil {
					return &train.Failure{Failure: results.Failure{Stage: "probe", Step: k, Reason: err.Error()}}
				}
				if err := tr.probe(k, rec.Metrics[n:], rec.Train); err != nil {
					return err
				}
				probeS += time.Since(t1).Seconds()
			}
			return nil
		},
		Checkpoint: func(k int) error {
			if err := rec.Write(dir); err != nil {
				return err
			}
			tr.rewritten(len(rec.Train))
			return saveCheckpoint(ckptDir, k, policy, opt, func(tmp string) error { return writeCheckpointRecords(tmp, rec) })
		},
		Stopped: func() bool { return ctx.Err() != nil },
	})
	if err != nil {
		return last, timing, err
	}
	timing["pref_train_s"], timing["probe_s"] = trainS, probeS
	if err := rec.Write(dir); err != nil {
		return total, timing, err
	}
	// the final weights replace the step checkpoints
	if err := os.MkdirAll(ckptDir, 0o755); err != nil {
		return total, timing, err
	}
	if err := models.Save(policy, filepath.Join(ckptDir, "final.safetensors"), map[string]string{"stage": "pref", "cell": c.ID}); err != nil {
		return total, timing, err
	}
	entries, _ := os.ReadDir(ckptDir)
	for _, e := range entries {
		if e.IsDir() {
			os.RemoveAll(filepath.Join(ckptDir, e.Name()))
		}
	}
	// a Hugging Face model is also saved as a model directory transformers
	// (and shared/hf/peer/hf_ref.py) can load
	if hm, ok := policy.(*hf.Model); ok {
		if err := hf.SaveDir(hm, filepath.Join(ckptDir, FinalHFDir), env.grid.finalTokenizerDir(c.Config.Arch)); err != nil {
			return total, timing, err
		}
	}
	return total, timing, nil
}

// probePasses runs one probe pass over both probe splits at step. The
// held-out split covers every probe field; the train split only chosen and
// rejected (it tracks the preference margin). The sequences of every
// field of a split go through the prober together (it batches them by
// length).
func probePasses(pr *probe.Prober, pd *preparedData, step int) ([]*probe.Pass, error) {
	var passes []*probe.Pass
	for _, split := range []string{results.SplitTrain, results.SplitHeldout} {
		pairs := pd.Probe[split]
		fields := pd.Fields
		if split == results.SplitTrain {
			fields = []string{data.FieldChosen, data.FieldRejected}
		}
		var all []data.Sequence
		var field []string // the field of each sequence of all
		var example []int  // the index of its pair in the probe set
		for _, f := range fields {
			seqs, idx := data.ProbeSequences(pairs, f)
			all = append(all, seqs...)
			example = append(example, idx...)
			for range seqs {
				field = append(field, f)
			}
		}
		stats, err := pr.Run(all, pd.PadID)
		if err != nil {
			return nil, err
		}
		p := &probe.Pass{Step: step, Split: split}
		for i, s := range stats {
			p.Add(field[i], example[i], all[i], s)
		}
		passes = append(passes, p)
	}
	return passes, nil
}

// recordProbes appends the rows of probe passes to r (base: the step-0
// passes).
func recordProbes(r *results.CellRecords, passes, base []*probe.Pass, tv *probe.TokenView) error {
	for i, p := range passes {
		m, f, e := probe.Rows(p, base[i])
		tok, err := probe.TokenRows(p, tv)
		if err != nil {
			return err
		}
		r.Metrics = append(r.Metrics, m)
		r.Fields = append(r.Fields, f...)
		r.Examples = append(r.Examples, e...)
		r.Tokens = append(r.Tokens, tok...)
	}
	return nil
}

// finalMetrics reads a cell's probe_metrics.csv into the summary metrics
// (results.FinalMetrics); nil when it cannot be read.
func finalMetrics(dir string) map[string]float64 {
	rows, err := results.ReadRows[results.ProbeMetricRow](filepath.Join(dir, results.ProbeMetricsFile))
	if err != nil {
		return nil
	}
	return results.FinalMetrics(rows)
}

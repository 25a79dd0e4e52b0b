package experiments

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"gatedpo/experiments/data"
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
		var sf *stageFailure
		switch {
		case errors.As(err, &sf):
			return fail(sf.Failure)
		case errors.Is(err, errInterrupted):
			return sum, errInterrupted
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
	b := g.Train.BatchPairs
	perEpoch := len(pd.Train) / b
	total := perEpoch * g.Train.PrefEpochs
	opt, err := graph.NewOptimizer(optimConfig(g.Train, g.Train.LR, total))
	if err != nil {
		return 0, timing, err
	}
	ckptDir := filepath.Join(dir, results.CheckpointDir)
	rec := &cellRecords{Train: append([][]string{}, s1.Rows...)}
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
	refProbe, err := newProber(ref, pd.T)
	if err != nil {
		return 0, timing, err
	}
	base, err := refProbe.probe(pd, 0)
	refProbe.close()
	if err != nil {
		return 0, timing, &stageFailure{results.Failure{Stage: "probe", Step: 0, Reason: err.Error()}}
	}
	tv := &tokenView{Gate: gating.Spec(c.Config.Gate), Applied: objectives.Spec(c.Config.Objective).ReadsRejected(), Tok: pd.Tok}
	if first == 1 {
		if err := rec.record(base, base, tv); err != nil {
			return 0, timing, &stageFailure{results.Failure{Stage: "probe", Step: 0, Reason: err.Error()}}
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
	graphs := map[int]*prefGraph{} // one per row-length bucket (trainBucket)
	defer func() {
		for _, g := range graphs {
			g.close()
		}
	}()
	var probeG *prober
	if total > 0 {
		if probeG, err = newProber(policy, pd.T); err != nil {
			return 0, timing, err
		}
		defer probeG.close()
	}
	seed := uint64(c.Config.Seed)
	var trainS, probeS float64
	var order [][]int
	orderEpoch := -1
	for k := first; k <= total; k++ {
		t0 := time.Now()
		epoch := (k - 1) / perEpoch
		if epoch != orderEpoch { // the batch order of an epoch, computed once
			order, orderEpoch = seqBatches(len(pd.Train), b, seed^0x9e3, epoch), epoch
		}
		idx := order[(k-1)%perEpoch]
		pairs := make([]data.EncodedPair, b)
		rc, rr := make([]float64, b), make([]float64, b)
		for i, j := range idx {
			pairs[i], rc[i], rr[i] = pd.Train[j], s1.Ref.Chosen[j], s1.Ref.Rejected[j]
		}
		longest := 0
		for _, p := range pairs {
			longest = max(longest, len(p.Prompt)+max(len(p.Chosen), len(p.Rejected)))
		}
		t := trainBucket(longest, pd.T)
		pg, ok := graphs[t]
		if !ok {
			if pg, err = newPrefGraph(policy, opt, objSpec, gateSpec, b, t); err != nil {
				return k - 1, timing, err
			}
			graphs[t] = pg
		}
		out, err := pg.step(data.MakeBatch(pairs, pd.PadID, t), rc, rr)
		rec.Train = append(rec.Train, trainRow("pref", k, float64(k)/float64(perEpoch), out))
		if f := divergence("pref", k, out, err); f != nil {
			rec.write(dir)
			return k, timing, f
		}
		if err := tr.step(k, rec.Train[len(rec.Train)-1]); err != nil {
			return k, timing, err
		}
		trainS += time.Since(t0).Seconds()
		st.set("pref", k, total, out.Loss)
		if k%g.Train.EvalEvery == 0 || k == total {
			t1 := time.Now()
			passes, err := probeG.probe(pd, k)
			if err != nil {
				return k, timing, &stageFailure{results.Failure{Stage: "probe", Step: k, Reason: err.Error()}}
			}
			n := len(rec.Metrics)
			if err := rec.record(passes, base, tv); err != nil {
				return k, timing, &stageFailure{results.Failure{Stage: "probe", Step: k, Reason: err.Error()}}
			}
			if err := tr.probe(k, rec.Metrics[n:], rec.Train); err != nil {
				return k, timing, err
			}
			probeS += time.Since(t1).Seconds()
		}
		stop := ctx.Err() != nil
		if (k%g.Train.CheckpointEvery == 0 && k < total) || (stop && k < total) {
			if err := rec.write(dir); err != nil {
				return k, timing, err
			}
			tr.rewritten(len(rec.Train))
			if err := saveCheckpoint(ckptDir, k, policy, opt, func(tmp string) error { return writeCheckpointRecords(tmp, rec) }); err != nil {
				return k, timing, err
			}
		}
		if stop && k < total {
			return k, timing, errInterrupted
		}
	}
	timing["pref_train_s"], timing["probe_s"] = trainS, probeS
	if err := rec.write(dir); err != nil {
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

// prober runs probe passes for one model.
type prober struct{ b *bucketedProbe }

func newProber(lm models.LM, t int) (*prober, error) {
	return &prober{b: newBucketedProbe(lm, probeBatch, t)}, nil
}

func (pr *prober) close() { pr.b.close() }

// probe runs one probe pass over both probe splits at step. The held-out
// split covers every probe field; the train split only chosen and
// rejected (it tracks the preference margin). The sequences of every
// field are batched together (sorted by length, see bucketedProbe).
func (pr *prober) probe(pd *preparedData, step int) ([]*probePass, error) {
	var passes []*probePass
	for _, split := range []string{results.SplitTrain, results.SplitHeldout} {
		pairs := pd.Probe[split]
		p := &probePass{Step: step, Split: split}
		fields := pd.Fields
		if split == results.SplitTrain {
			fields = []string{data.FieldChosen, data.FieldRejected}
		}
		var all []data.Sequence
		for _, f := range fields {
			seqs, idx := data.ProbeSequences(pairs, f)
			if len(seqs) > 0 {
				p.Fields = append(p.Fields, fieldValues{Field: f, Example: idx})
				all = append(all, seqs...)
			}
		}
		stats, err := pr.b.run(all, pd.PadID)
		if err != nil {
			return nil, err
		}
		seq := 0
		for i := range p.Fields {
			fv := &p.Fields[i]
			for _, ex := range fv.Example {
				s := stats[0]
				stats = stats[1:]
				p.keepTokens(fv.Field, ex, all[seq], s)
				seq++
				fv.LP, fv.NTok = append(fv.LP, s.LP), append(fv.NTok, s.NTok)
				if fv.Field == data.FieldChosen {
					p.Chosen.LPArgmax = append(p.Chosen.LPArgmax, s.LPArgmax)
					p.Chosen.Top1 = append(p.Chosen.Top1, s.Top1)
					p.Chosen.Entropy = append(p.Chosen.Entropy, s.Entropy)
					p.Chosen.Collision = append(p.Chosen.Collision, s.Collision)
				}
			}
		}
		passes = append(passes, p)
	}
	return passes, nil
}

// record appends the rows of probe passes (base: the step-0 passes).
func (r *cellRecords) record(passes, base []*probePass, tv *tokenView) error {
	for i, p := range passes {
		m, f, e := probeRecords(p, base[i])
		tok, err := tokenRecords(p, tv)
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

// finalMetrics reads the held-out probe rows of a cell's probe_metrics.csv
// into the summary metrics of results.SummaryColumns (plus lp_rejected_0,
// so the summary alone says whether the rejected response fell).
func finalMetrics(dir string) map[string]float64 {
	rows, err := readCSVRows(filepath.Join(dir, results.ProbeMetricsFile))
	if err != nil {
		return nil
	}
	col := map[string]int{}
	for i, c := range results.ProbeMetricColumns {
		col[c] = i
	}
	var held [][]string
	for _, r := range rows {
		if r[col["split"]] == results.SplitHeldout {
			held = append(held, r)
		}
	}
	if len(held) == 0 {
		return nil
	}
	val := func(r []string, c string) float64 {
		x, err := strconv.ParseFloat(r[col[c]], 64)
		if err != nil {
			return math.NaN()
		}
		return x
	}
	first, last := held[0], held[len(held)-1]
	peak := val(first, "lp_chosen")
	for _, r := range held {
		peak = max(peak, val(r, "lp_chosen"))
	}
	m := map[string]float64{
		"lp_chosen_0": val(first, "lp_chosen"), "lp_chosen_peak": peak, "lp_chosen_final": val(last, "lp_chosen"),
		"lp_rejected_0": val(first, "lp_rejected"), "lp_rejected_final": val(last, "lp_rejected"),
		"lp_argmax_0": val(first, "lp_argmax"), "lp_argmax_final": val(last, "lp_argmax"),
		"gap_0": val(first, "gap"), "gap_final": val(last, "gap"),
		"top1_mass_0": val(first, "top1_mass"), "top1_mass_final": val(last, "top1_mass"),
		"suppression_final": val(last, "suppression"), "reward_acc_final": val(last, "reward_acc"),
	}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k) // JSON has no NaN; summary.csv writes a missing value as NaN
		}
	}
	return m
}

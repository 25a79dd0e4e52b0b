package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"gatedpo/experiments/config"
	"gatedpo/experiments/hub"
	"gatedpo/experiments/train"
	"gatedpo/models"
	"gatedpo/results"
)

// Options are the command-line settings of a sweep (cmd/sweep).
type Options struct {
	Grid        string   // grid file, or the name of a built-in grid ("" = "default")
	Out         string   // sweep directory ("" = runs/<grid name>)
	DryRun      bool     // list the cells and their state, run nothing, write nothing
	Only        []string // -only key=value filters (dotted keys)
	Set         []string // -set key=value grid overrides (dotted TOML keys, TOML values)
	Workers     int      // cells run in parallel (0 = one per CPU)
	Shard       int      // this process's shard, 0-based
	Shards      int      // number of shards (0 or 1 = no sharding)
	RetryFailed bool     // rerun cells whose summary says failed
	Stdout      io.Writer
	Stderr      io.Writer
	// Logger receives progress lines when Stderr is not a terminal (nil =
	// a text slog logger on Stderr).
	Logger *slog.Logger
	// ProgressEvery is the interval of plain progress lines (default 10 s).
	ProgressEvery time.Duration
	// Figures, when not nil, redraws the sweep's figures, comparison and
	// report from its records once the cells are done (cmd/sweep passes
	// plots.WriteAll); it returns a one-line summary for the log. The
	// runner itself draws nothing, so programs that only train or inspect
	// do not link the plotting code.
	Figures func(dir string) (string, error)
	// Training, when not nil, is called once validation and setup are done,
	// just before the first cell starts: until then an interrupted sweep
	// has nothing to save (cmd/sweep exits at once on a signal).
	Training func()
}

// ErrCellsFailed is returned by Run when at least one selected cell is
// recorded as failed deterministically (divergence; the other cells were
// run); exit status 1. Failed cells stay failed until -retry-failed.
var ErrCellsFailed = errors.New("some cells failed")

// ErrInterrupted is returned by Run when it was stopped (SIGINT/SIGTERM)
// before every cell finished; checkpoints are kept and a rerun resumes.
// Exit status 3.
var ErrInterrupted = errors.New("interrupted; rerun the same command to resume")

// Outcome says what a sweep did.
type Outcome struct {
	Dir        string   // sweep directory
	Cells      int      // cells selected for this process (after -only and -shard)
	Complete   int      // of those, complete at the end
	Failed     int      // of those, failed at the end
	Ran        int      // cells trained by this run
	Skipped    int      // complete cells left alone
	FailedIDs  []string // failed cells
	Interrupts bool     // the run was stopped early
	// Recomputed lists the complete cells whose records no longer matched
	// their hashes (results.VerifyRecords) and were sent back to be run.
	Recomputed []string
	// EnvFailed lists the cells stopped by an environmental failure (not
	// recorded: a rerun retries them).
	EnvFailed []string
}

// sweepEnv is what the cells of one process share.
type sweepEnv struct {
	grid        *Grid
	out         string
	data        *dataCache
	provenance  results.Provenance
	retryFailed bool
	retried     map[string]bool // SFT keys retried by this process
	log         *slog.Logger
}

// warn logs a warning of a cell (damaged records, a dropped checkpoint).
func (env *sweepEnv) warn(msg string, args ...any) {
	if env.log != nil {
		env.log.Warn(msg, args...)
	}
}

// Run expands the grid, validates everything, then trains every selected
// cell that is not complete, and rebuilds the sweep-level files. Input
// errors are *config.ConfigError (before anything is written).
func Run(ctx context.Context, opt Options) (*Outcome, error) {
	opt = opt.withDefaults()
	grid, out, err := loadSweepGrid(ctx, opt)
	if err != nil {
		return nil, err
	}
	all := grid.Cells()
	cells, err := selectedCells(all, opt)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(out); err == nil && !st.IsDir() {
		return nil, &config.ConfigError{File: out, Msg: "the output path exists and is not a directory"}
	}
	if err := checkInitFrom(grid, cells); err != nil {
		return nil, err
	}
	oc := &Outcome{Dir: out, Cells: len(cells)}
	if opt.DryRun {
		return oc, dryRun(opt.Stdout, grid, cells, out)
	}
	env, err := newSweepEnv(grid, out, cells, opt)
	if err != nil {
		return nil, err
	}
	if err := env.writeSweepFiles(all); err != nil {
		return nil, err
	}
	todo := env.workList(cells, oc)
	workers := workerCount(opt.Workers, len(todo))
	env.log.Info("sweep", "grid", grid.File, "dir", out, "cells", len(cells), "to_run", len(todo), "workers", workers)
	if grid.Toy.Run && (opt.Shards <= 1 || opt.Shard == 0) {
		if err := writeToy(out, grid); err != nil {
			env.log.Warn("toy experiment", "err", err)
		}
	}
	if opt.Training != nil {
		opt.Training()
	}
	prog := newProgress(opt.Stderr, env.log, len(cells), oc.Skipped, opt.ProgressEvery)
	prog.start()
	env.runCells(ctx, todo, workers, prog, oc)
	prog.stop()
	if err := env.rebuildSweepFiles(opt.Figures); err != nil {
		return oc, err
	}
	countFinished(out, cells, oc)
	report(opt.Stdout, oc, out)
	return oc, outcomeError(ctx, oc)
}

// workerCount is the number of cells run at once: -workers (0: one per
// CPU), at least 1 and at most the cells to run.
func workerCount(workers, cells int) int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) // respects container CPU limits
	}
	return max(1, min(workers, cells))
}

// withDefaults fills the unset options.
func (opt Options) withDefaults() Options {
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	if opt.Grid == "" {
		opt.Grid = "default"
	}
	return opt
}

// loadSweepGrid reads the grid with its -set overrides, names the sweep
// directory, fetches the grid's hub datasets and models into the Hugging
// Face cache and loads its datasets; nothing is written in the sweep
// directory yet.
func loadSweepGrid(ctx context.Context, opt Options) (*Grid, string, error) {
	sets := make([]config.Override, len(opt.Set))
	for i, arg := range opt.Set {
		o, err := config.ParseOverride(arg)
		if err != nil {
			return nil, "", err
		}
		sets[i] = o
	}
	grid, err := loadGrid(opt.Grid, sets...)
	if err != nil {
		return nil, "", err
	}
	out := opt.Out
	if out == "" {
		out = filepath.Join("runs", grid.Name)
	}
	if msg := config.CheckText(out, config.MaxStringBytes); msg != "" {
		return nil, "", &config.ConfigError{File: "-out", Msg: msg}
	}
	warn := func(w string) { fmt.Fprintln(opt.Stderr, "sweep: warning:", w) }
	// hub datasets are downloaded into the HF cache (at the commit the
	// sweep's hub-lock.json pins, if any) before they are read and before
	// anything is written in the sweep directory
	if err := grid.ResolveHubDatasets(ctx, out, hub.New(opt.Stderr), warn); err != nil {
		return nil, "", err
	}
	if err := grid.LoadDatasets(); err != nil {
		return nil, "", err
	}
	// hub models are resolved (and downloaded into the HF cache) before
	// anything is written in the sweep directory
	if err := grid.ResolveHub(ctx, out, hub.New(opt.Stderr), warn); err != nil {
		return nil, "", err
	}
	return grid, out, nil
}

// selectedCells returns the cells of all that -only keeps and, with
// -shard i/n, this shard's share of them (cells i, i+n, …).
func selectedCells(all []*Cell, opt Options) ([]*Cell, error) {
	filters, err := ParseFilters(opt.Only)
	if err != nil {
		return nil, err
	}
	cells, err := SelectCells(all, filters)
	if err != nil {
		return nil, err
	}
	if opt.Shards <= 1 {
		return cells, nil
	}
	if opt.Shard < 0 || opt.Shard >= opt.Shards {
		return nil, &config.ConfigError{File: "-shard", Msg: fmt.Sprintf("shard %d is outside 0..%d", opt.Shard, opt.Shards-1)}
	}
	var mine []*Cell
	for i, c := range cells {
		if i%opt.Shards == opt.Shard {
			mine = append(mine, c)
		}
	}
	return mine, nil
}

// newSweepEnv sets up what the cells share and validates the data of
// every selected cell, before anything is written.
func newSweepEnv(grid *Grid, out string, cells []*Cell, opt Options) (*sweepEnv, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(opt.Stderr, nil))
	}
	env := &sweepEnv{grid: grid, out: out, data: newDataCache(), provenance: baseProvenance(),
		retryFailed: opt.RetryFailed, retried: map[string]bool{}, log: log}
	for _, c := range cells {
		if _, err := env.data.get(grid, c.Config); err != nil {
			return nil, grid.Errorf("data", "%v", err)
		}
	}
	return env, nil
}

// writeSweepFiles writes the sweep-level inputs: grid.toml and
// grid.resolved.json (all: every cell of the grid), hub-lock.json and the
// datasets' tokenizers.
func (env *sweepEnv) writeSweepFiles(all []*Cell) error {
	if err := writeGridFiles(env.out, env.grid, all); err != nil {
		return err
	}
	if err := writeHubLock(env.out, env.grid); err != nil {
		return err
	}
	return saveTokenizers(env.out, env.data)
}

// workList returns the cells to run: complete cells are skipped (counted
// in oc.Skipped), failed ones too unless -retry-failed; a complete cell
// whose records no longer match their hashes is recomputed (listed in
// oc.Recomputed).
func (env *sweepEnv) workList(cells []*Cell, oc *Outcome) []*Cell {
	var todo []*Cell
	for _, c := range cells {
		s, done, damaged := finishedCell(filepath.Join(env.out, results.CellsDir, c.ID), env.retryFailed)
		switch {
		case done && s.Status == results.StatusComplete:
			oc.Skipped++
		case done:
		default:
			if damaged != nil {
				env.log.Warn("cell records damaged: recomputing the cell", "cell", c.ID, "err", damaged)
				oc.Recomputed = append(oc.Recomputed, c.ID)
			}
			todo = append(todo, c)
		}
	}
	return todo
}

// runCells runs the cells of todo on workers goroutines until they are
// done or ctx is cancelled (no new cell starts then; running cells save a
// checkpoint and stop), counting them in oc.
func (env *sweepEnv) runCells(ctx context.Context, todo []*Cell, workers int, prog *progress, oc *Outcome) {
	jobs := make(chan *Cell)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				sum, err := env.runCellProgress(ctx, c, prog)
				mu.Lock()
				if err == nil {
					oc.Ran++
				} else if errors.Is(err, errBusy) {
					env.log.Info("cell skipped: running in another process", "cell", c.ID)
				} else if !errors.Is(err, train.ErrInterrupted) {
					env.log.Error("cell", "cell", c.ID, "err", err)
					if sum.Status != results.StatusFailed {
						oc.EnvFailed = append(oc.EnvFailed, c.ID)
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, c := range todo {
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

// rebuildSweepFiles rebuilds summary.csv and metrics_long.csv.gz from the
// cell directories, and the figures, comparison and report when figures
// is set (a failure there is only logged).
func (env *sweepEnv) rebuildSweepFiles(figures func(dir string) (string, error)) error {
	if err := results.RebuildSummaryCSV(env.out); err != nil {
		return err
	}
	if err := results.RebuildMetricsLong(env.out); err != nil {
		return err
	}
	if figures != nil {
		if err := writeFigures(env.out, figures, env.log); err != nil {
			env.log.Warn("figures", "err", err)
		}
	}
	return nil
}

// countFinished counts the selected cells complete or failed on disk at
// the end of the run.
func countFinished(out string, cells []*Cell, oc *Outcome) {
	for _, c := range cells {
		_, s, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, c.ID))
		switch {
		case ok && s.Status == results.StatusComplete:
			oc.Complete++
		case ok && s.Status == results.StatusFailed:
			oc.Failed++
			oc.FailedIDs = append(oc.FailedIDs, c.ID)
		}
	}
}

// outcomeError is Run's error for a finished run: ErrInterrupted when it
// was stopped with cells left, else ErrEnvironment when an environmental
// failure left cells a rerun can finish, else ErrCellsFailed when a cell
// failed, else nil.
func outcomeError(ctx context.Context, oc *Outcome) error {
	if ctx.Err() != nil && oc.Complete+oc.Failed < oc.Cells {
		oc.Interrupts = true
		return ErrInterrupted
	}
	// a rerun can make progress: that outranks deterministic failures
	if len(oc.EnvFailed) > 0 && oc.Complete+oc.Failed < oc.Cells {
		return ErrEnvironment
	}
	if oc.Failed > 0 {
		return ErrCellsFailed
	}
	return nil
}

// runCellProgress runs one cell between the progress display's begin and
// end. A panic outside runCell's own recovery (progress, bookkeeping) is
// returned as an internal error instead of killing the process with the
// runtime's exit status 2.
func (env *sweepEnv) runCellProgress(ctx context.Context, c *Cell, prog *progress) (sum results.CellSummary, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: panic: %v", r)
		}
	}()
	st := prog.begin(c)
	sum, err = env.runCell(ctx, c, st)
	prog.end(c, sum, err)
	return sum, err
}

// report prints the final lines of a sweep.
func report(w io.Writer, oc *Outcome, out string) {
	fmt.Fprintf(w, "%d/%d cells complete, %d failed (%d run now, %d already complete)\n", oc.Complete, oc.Cells, oc.Failed, oc.Ran, oc.Skipped)
	for _, id := range oc.FailedIDs {
		_, s, _ := results.ReadCellRecord(filepath.Join(out, results.CellsDir, id))
		if s.Failure != nil {
			fmt.Fprintf(w, "  failed %s: %s step %d: %s\n", id, s.Failure.Stage, s.Failure.Step, firstLine(s.Failure.Reason))
		}
	}
	for _, id := range oc.Recomputed {
		fmt.Fprintf(w, "  recomputed %s: its records no longer matched the sha256 in its summary.json\n", id)
	}
	for _, id := range oc.EnvFailed {
		fmt.Fprintf(w, "  incomplete %s: stopped by an environmental failure (not recorded); rerun to retry\n", id)
	}
	fmt.Fprintf(w, "summary: %s\n", filepath.Join(out, results.SummaryCSVFile))
	if _, err := os.Stat(filepath.Join(out, results.ReportFile)); err == nil {
		fmt.Fprintf(w, "report:  %s\n", filepath.Join(out, results.ReportFile))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// dryRun lists the cells with their state on disk.
func dryRun(w io.Writer, g *Grid, cells []*Cell, out string) error {
	fmt.Fprintf(w, "grid %s (%s): %d cells → %s\n", g.Name, g.File, len(cells), out)
	for _, c := range cells {
		state := "new"
		dir := filepath.Join(out, results.CellsDir, c.ID)
		if _, s, ok := results.ReadCellRecord(dir); ok {
			state = s.Status
			if s.Status == results.StatusRunning {
				state = "incomplete"
			}
			if _, _, damaged := finishedCell(dir, false); damaged != nil {
				state = "damaged" // a run recomputes it
			}
		}
		fmt.Fprintf(w, "%s  %-10s  %s\n", c.ID, state, c.Label())
	}
	return nil
}

// writeGridFiles writes grid.toml and grid.resolved.json (under the lock
// of the sweep-level files, shared with shards).
func writeGridFiles(out string, g *Grid, cells []*Cell) error {
	if err := os.MkdirAll(filepath.Join(out, results.CellsDir), 0o755); err != nil {
		return err
	}
	unlock, err := results.LockFile(filepath.Join(out, results.SweepLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	results.RemoveTemps(out)
	if err := results.WriteBytesAtomic(filepath.Join(out, results.GridFile), g.Source); err != nil {
		return err
	}
	// each grid name keeps its own copy: several grids may share a directory
	gridsDir := filepath.Join(out, results.GridsDir)
	if err := os.MkdirAll(gridsDir, 0o755); err != nil {
		return err
	}
	results.RemoveTemps(gridsDir)
	if err := results.WriteBytesAtomic(filepath.Join(gridsDir, g.Name+".toml"), g.Source); err != nil {
		return err
	}
	type resolved struct {
		ID     string             `json:"id"`
		Config results.CellConfig `json:"config"`
	}
	rs := make([]resolved, len(cells))
	for i, c := range cells {
		rs[i] = resolved{c.ID, c.Config}
	}
	doc := map[string]any{"name": g.Name, "file": g.File, "cells": rs}
	if len(g.Overrides) > 0 {
		doc["overrides"] = g.Overrides
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := results.WriteBytesAtomic(filepath.Join(gridsDir, g.Name+".resolved.json"), append(b, '\n')); err != nil {
		return err
	}
	return results.WriteBytesAtomic(filepath.Join(out, results.GridResolvedFile), append(b, '\n'))
}

// checkInitFrom loads train.init_from (when set) and checks that it fits
// the model of every selected cell: same kind and the same value for every
// config key both have (vocab_size, d_model, max_seq_len, …).
func checkInitFrom(g *Grid, cells []*Cell) error {
	if g.Train.InitFromPath == "" {
		return nil
	}
	lm, err := models.Load(g.Train.InitFromPath, dtypeOf(g.Train.DType))
	if err != nil {
		return g.Errorf("train.init_from", "%v", err)
	}
	var have map[string]any
	if err := json.Unmarshal([]byte(lm.ConfigJSON()), &have); err != nil {
		return g.Errorf("train.init_from", "%v", err)
	}
	for _, c := range cells {
		if c.Config.Model["kind"] != lm.Kind() {
			return g.Errorf("train.init_from", "the checkpoint is a %s, arch %s is a %v", lm.Kind(), c.Config.Arch, c.Config.Model["kind"])
		}
		for k, want := range c.Config.Model {
			if got, ok := have[k]; ok && fmt.Sprint(got) != fmt.Sprint(want) {
				return g.Errorf("train.init_from", "the checkpoint has %s = %v, arch %s with this [data] needs %v", k, got, c.Config.Arch, want)
			}
		}
	}
	return nil
}

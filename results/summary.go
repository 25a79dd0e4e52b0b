package results

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// summaryLockFile serialises summary rebuilds of processes sharing a sweep
// directory (shards), so the last one to finish always writes the newest
// view.
const summaryLockFile = SweepLockFile

// SweepLockFile (in the sweep directory) guards the writers of the
// sweep-level files (grid.toml, grid.resolved.json, summary.csv) among
// processes sharing the directory.
const SweepLockFile = ".sweep.lock"

// SummaryRow returns the summary.csv row (SummaryColumns) of a cell.
// Metrics missing from s.Final are written as NaN.
func SummaryRow(id string, c CellConfig, s CellSummary) []string {
	return Row(SummaryColumns, func(col string) string {
		switch col {
		case "cell":
			return id
		case "arch":
			return c.Arch
		case "dataset":
			return c.Dataset
		case "pipeline":
			return c.Pipeline
		case "objective":
			return c.Objective.Name
		case "gate":
			return c.Gate.Kind
		case "level":
			return c.Gate.Level
		case "relative":
			return strconv.FormatBool(c.Gate.Relative)
		case "tau":
			return FormatFloat(c.Gate.Tau)
		case "seed":
			return FormatInt(c.Seed)
		case "status":
			return s.Status
		case "steps":
			return FormatInt(s.Steps)
		case "wall_s":
			return strconv.FormatFloat(s.WallS, 'f', 2, 64)
		}
		v, ok := s.Final[col]
		if !ok {
			v = math.NaN()
		}
		return FormatFloat(v)
	})
}

// FinalMetrics returns the summary metrics of a cell (CellSummary.Final,
// the metric columns of SummaryColumns, plus lp_rejected_0 so the summary
// alone says whether the rejected response fell) from its probe_metrics.csv
// rows: the held-out rows in file order, *_0 from the first, *_final from
// the last, lp_chosen_peak the largest lp_chosen. Non-finite values are
// left out (JSON has no NaN; summary.csv writes a missing value as NaN).
// It is nil when there is no held-out row.
func FinalMetrics(rows []ProbeMetricRow) map[string]float64 {
	var held []ProbeMetricRow
	for _, r := range rows {
		if r.Split == SplitHeldout {
			held = append(held, r)
		}
	}
	if len(held) == 0 {
		return nil
	}
	first, last := held[0], held[len(held)-1]
	peak := first.LPChosen
	for _, r := range held {
		peak = max(peak, r.LPChosen)
	}
	m := map[string]float64{
		"lp_chosen_0": first.LPChosen, "lp_chosen_peak": peak, "lp_chosen_final": last.LPChosen,
		"lp_rejected_0": first.LPRejected, "lp_rejected_final": last.LPRejected,
		"lp_argmax_0": first.LPArgmax, "lp_argmax_final": last.LPArgmax,
		"gap_0": first.Gap, "gap_final": last.Gap,
		"top1_mass_0": first.Top1Mass, "top1_mass_final": last.Top1Mass,
		"suppression_final": last.Suppression, "reward_acc_final": last.RewardAcc,
	}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k)
		}
	}
	return m
}

// ReadCellRecord reads config.json and summary.json of a cell directory.
// ok is false when either is missing or unreadable (a cell that never
// started or was killed before its first record).
func ReadCellRecord(dir string) (cfg CellConfig, sum CellSummary, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, CellConfigFile))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		return cfg, sum, false
	}
	b, err = os.ReadFile(filepath.Join(dir, CellSummaryFile))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		return cfg, sum, false
	}
	return cfg, sum, true
}

// RebuildSummaryCSV rewrites <sweepDir>/summary.csv atomically from the
// cell directories: one row per cell whose summary.json says complete or
// failed, sorted by cell id; a complete cell whose records no longer match
// their hashes is listed with status "damaged" (StatusDamaged). Cells still
// running are left out (the last process to finish its cells writes
// them). A file lock on the sweep
// directory orders concurrent rebuilds by shards.
func RebuildSummaryCSV(sweepDir string) error {
	unlock, err := LockFile(filepath.Join(sweepDir, summaryLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	RemoveTemps(sweepDir)
	entries, err := os.ReadDir(filepath.Join(sweepDir, CellsDir))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	var rows [][]string
	for _, id := range ids {
		cfg, sum, ok := ReadCellRecord(filepath.Join(sweepDir, CellsDir, id))
		if !ok || (sum.Status != StatusComplete && sum.Status != StatusFailed) {
			continue
		}
		if sum.Status == StatusComplete && VerifyRecords(filepath.Join(sweepDir, CellsDir, id), sum) != nil {
			sum.Status = StatusDamaged
		}
		rows = append(rows, SummaryRow(id, cfg, sum))
	}
	return WriteCSVAtomic(filepath.Join(sweepDir, SummaryCSVFile), SummaryColumns, rows)
}

// LockFile takes an exclusive advisory lock on path, creating it, and
// blocks until it is granted (flock on Unix, LockFileEx on Windows). The
// lock belongs to the open file, so it also excludes other goroutines of
// the same process, and the OS drops it when the process dies (a SIGKILLed
// shard never leaves a stale lock).
func LockFile(path string) (unlock func(), err error) {
	unlock, _, err = lockPath(path, true)
	return unlock, err
}

// TryLockFile is LockFile without waiting: ok is false when another open
// file (process or goroutine) holds the lock.
func TryLockFile(path string) (unlock func(), ok bool, err error) {
	return lockPath(path, false)
}

// lockPath opens (creating) path and locks it; block says whether to wait.
func lockPath(path string, block bool) (unlock func(), ok bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	held, err := lockFile(f, block)
	if err != nil || !held {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("results: lock %s: %w", path, err)
		}
		return nil, false, nil
	}
	return func() {
		unlockFile(f)
		f.Close()
	}, true, nil
}

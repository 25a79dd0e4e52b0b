package experiments

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gatedpo/results"
)

// copyTree copies a directory tree (regular files and directories).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// completeCells lists the complete cells of a sweep directory.
func completeCells(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	var ids []string
	for _, e := range entries {
		if _, s, ok := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, e.Name())); ok && s.Status == results.StatusComplete {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	if len(ids) < 2 {
		t.Fatalf("%d complete cells in %s", len(ids), dir)
	}
	return ids
}

// TestSweepRecomputesDamagedCells: every finished cell's summary.json
// lists the sha256 of its record files; a truncated train.csv or a
// header-only probe_metrics.csv is noticed on the rerun (dry run says
// "damaged"), the cells are recomputed and the sweep says so, and the
// result is bit-identical to the undamaged run.
func TestSweepRecomputesDamagedCells(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "damaged")
	copyTree(t, ref, dir)
	ids := completeCells(t, dir)
	_, s, _ := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, ids[0]))
	for _, f := range results.RecordFiles {
		if len(s.Files[f]) != 64 {
			t.Fatalf("summary.json lists no sha256 for %s: %v", f, s.Files)
		}
	}
	metrics := filepath.Join(dir, results.CellsDir, ids[0], results.ProbeMetricsFile)
	b, _ := os.ReadFile(metrics)
	os.WriteFile(metrics, b[:bytes.IndexByte(b, '\n')+1], 0o644) // header only
	train := filepath.Join(dir, results.CellsDir, ids[1], results.TrainCSVFile)
	b, _ = os.ReadFile(train)
	os.WriteFile(train, b[:len(b)/2], 0o644) // truncated mid-row

	var dry bytes.Buffer
	o := quietOptions("test", dir, 1)
	o.DryRun, o.Stdout = true, &dry
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:2] {
		if !strings.Contains(dry.String(), id+"  damaged") {
			t.Errorf("dry run does not mark %s damaged:\n%s", id, dry.String())
		}
	}
	var out, logs bytes.Buffer
	o = quietOptions("test", dir, 1)
	o.Stdout, o.Logger = &out, slog.New(slog.NewTextHandler(&logs, nil))
	oc, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if oc.Ran != 2 || len(oc.Recomputed) != 2 {
		t.Errorf("ran %d, recomputed %v; want the 2 damaged cells", oc.Ran, oc.Recomputed)
	}
	for _, id := range ids[:2] {
		if !strings.Contains(out.String(), "recomputed "+id) || !strings.Contains(logs.String(), "cell="+id) {
			t.Errorf("the sweep does not say it recomputed %s:\n%s\n%s", id, out.String(), logs.String())
		}
	}
	if !strings.Contains(logs.String(), "does not match the sha256") {
		t.Errorf("log does not name the mismatch:\n%s", logs.String())
	}
	compareSweeps(t, ref, dir)
}

// TestSweepEnvironmentalFailureNotRecorded: a cell stopped by a failing
// file-system operation is not recorded as failed (its summary stays
// "running"); Run returns ErrEnvironment (exit 3), and a plain rerun on a
// healthy directory completes it, bit-identical to the reference.
func TestSweepEnvironmentalFailureNotRecorded(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "env")
	copyTree(t, ref, dir)
	id := completeCells(t, dir)[0]
	cell := filepath.Join(dir, results.CellsDir, id)
	os.RemoveAll(cell)
	os.MkdirAll(cell, 0o755)
	// the checkpoint directory cannot be created: a file is in the way
	blocker := filepath.Join(cell, results.CheckpointDir)
	os.WriteFile(blocker, []byte("x"), 0o644)
	oc, err := Run(context.Background(), quietOptions("test", dir, 1))
	if !errors.Is(err, ErrEnvironment) || len(oc.EnvFailed) != 1 || oc.Failed != 0 {
		t.Fatalf("got %+v, %v; want ErrEnvironment, one cell stopped, none failed", oc, err)
	}
	if _, s, ok := results.ReadCellRecord(cell); !ok || s.Status != results.StatusRunning {
		t.Errorf("the cell was recorded as %q; want it left running (a rerun retries)", s.Status)
	}
	os.Remove(blocker)
	if _, err := Run(context.Background(), quietOptions("test", dir, 1)); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	compareSweeps(t, ref, dir)
}

// TestSweepResumeWithDamagedRecords: a cell interrupted after a step
// checkpoint resumes from it only while its records match the hashes the
// checkpoint was taken with; a truncated train.csv makes the rerun drop
// the checkpoint and recompute the cell from scratch (and say so), with
// the same result as an uninterrupted run.
func TestSweepResumeWithDamagedRecords(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "resume")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan string, 1)
	go func() {
		defer close(stopped)
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
			for _, c := range cells {
				if _, _, ok := latestCheckpoint(filepath.Join(dir, results.CellsDir, c.Name(), results.CheckpointDir)); ok {
					cancel()
					stopped <- c.Name()
					return
				}
			}
		}
	}()
	one := []string{"gate.kind=none", "seed=1"} // one cell is enough
	o := quietOptions("test", dir, 1)
	o.Only = one
	if _, err := Run(ctx, o); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	cell := <-stopped
	cancel()
	cdir := filepath.Join(dir, results.CellsDir, cell)
	if _, _, ok := latestCheckpoint(filepath.Join(cdir, results.CheckpointDir)); !ok {
		t.Skip("the cell finished before the interrupt took effect")
	}
	// undamaged, the rows up to the checkpoint match it (the resume would continue)
	k, ckpt, _ := latestCheckpoint(filepath.Join(cdir, results.CheckpointDir))
	rec, err := loadRecordsUpTo(cdir, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpointRecordsOK(ckpt, cdir, rec); err != nil {
		t.Fatalf("undamaged records do not match their checkpoint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ckpt, ckptRecordsFile)); err != nil {
		t.Fatalf("the checkpoint has no record digest: %v", err)
	}
	train := filepath.Join(cdir, results.TrainCSVFile)
	b, _ := os.ReadFile(train)
	os.WriteFile(train, b[:len(b)*3/4], 0o644)
	var logs bytes.Buffer
	o = quietOptions("test", dir, 1)
	o.Only, o.Logger = one, slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "recomputing the cell from scratch") || !strings.Contains(logs.String(), "cell="+cell) {
		t.Errorf("the rerun does not say it dropped the checkpoint of %s:\n%s", cell, logs.String())
	}
	want, got := metricFiles(t, ref), metricFiles(t, dir)
	n := 0
	for k, v := range got {
		if strings.HasPrefix(k, cell+"/") {
			n++
			if want[k] != v {
				t.Errorf("%s differs from the uninterrupted run", k)
			}
		}
	}
	if n == 0 {
		t.Errorf("no records of %s compared", cell)
	}
}

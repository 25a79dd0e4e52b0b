package results_test

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestMetricsLong checks metrics_long.csv.gz against the cells' own
// probe_metrics.csv: one row per cell × step × split × metric, the value
// copied as written, the config columns of that cell, and the same bytes
// when rebuilt.
func TestMetricsLong(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 20, EvalEvery: 10, Failed: true}); err != nil {
		t.Fatal(err)
	}
	if err := results.RebuildMetricsLong(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, results.MetricsLongFile)
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	all, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := all[0], all[1:]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, want := range append(results.MetricsLongFixed, "config.objective.name", "config.gate.kind", "config.seed") {
		if _, ok := col[want]; !ok {
			t.Fatalf("header %q lacks %q", header, want)
		}
	}
	// expected: every complete/failed cell's probe_metrics.csv, melted
	want := map[[4]string]string{}
	cells := 0
	entries, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	for _, e := range entries {
		cdir := filepath.Join(dir, results.CellsDir, e.Name())
		_, sum, ok := results.ReadCellRecord(cdir)
		if !ok || (sum.Status != results.StatusComplete && sum.Status != results.StatusFailed) {
			continue
		}
		f, err := os.Open(filepath.Join(cdir, results.ProbeMetricsFile))
		if err != nil {
			continue
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cells++
		for _, r := range recs[1:] {
			for j, name := range recs[0] {
				if name != "step" && name != "split" {
					want[[4]string{e.Name(), r[0], r[1], name}] = r[j]
				}
			}
		}
	}
	if cells < 2 || len(rows) != len(want) {
		t.Fatalf("%d rows from %d cells, want %d", len(rows), cells, len(want))
	}
	for _, r := range rows {
		k := [4]string{r[col["cell_id"]], r[col["step"]], r[col["split"]], r[col["metric"]]}
		v, ok := want[k]
		if !ok || v != r[col["value"]] {
			t.Fatalf("row %q: value %q, want %q (present %v)", k, r[col["value"]], v, ok)
		}
		cfg, _, _ := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, k[0]))
		if got, want := r[col["config.seed"]], results.FlattenConfig(cfg)["seed"]; got != want {
			t.Fatalf("row %q: config.seed %q, want %q", k, got, want)
		}
	}
	if err := results.RebuildMetricsLong(dir); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Error("rebuilding the same records changed metrics_long.csv.gz")
	}
}

package results_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/plots/fixture"
	"gatedpo/results"
)

// TestVerifyRecords: a finished cell's files are checked against the
// sha256 in its summary.json; a cell recorded before hashes existed (no
// "files") is read as before, and a malformed record file is then
// reported by its parser.
func TestVerifyRecords(t *testing.T) {
	dir := t.TempDir()
	if err := fixture.Write(dir, fixture.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil || len(sw.Cells) == 0 {
		t.Fatal(err)
	}
	c := sw.Cells[0]
	if err := results.VerifyRecords(c.Dir, c.Summary); err != nil {
		t.Fatalf("fresh cell: %v", err)
	}
	os.Remove(filepath.Join(c.Dir, results.TrainCSVFile))
	if err := results.VerifyRecords(c.Dir, c.Summary); err == nil || !strings.Contains(err.Error(), results.TrainCSVFile+" is missing") {
		t.Errorf("deleted train.csv: %v", err)
	}
	// a summary without hashes (an older record): not checked; a bad file is a parse error
	c.Summary.Files = nil
	b, _ := json.Marshal(c.Summary)
	os.WriteFile(filepath.Join(c.Dir, results.CellSummaryFile), b, 0o644)
	os.WriteFile(filepath.Join(c.Dir, results.ProbeMetricsFile), []byte("step,split\nx,heldout\n"), 0o644)
	sw, _ = results.LoadSweep(dir)
	if len(sw.Damaged()) != 0 {
		t.Errorf("a cell without hashes is marked damaged: %v", sw.Damaged())
	}
	found := false
	for _, s := range sw.Skipped {
		found = found || (s.ID == c.ID && strings.Contains(s.Reason, "expected an integer"))
	}
	if !found {
		t.Errorf("malformed probe_metrics.csv not reported: %v", sw.Skipped)
	}
	// a summary.json that is not JSON is damage (it is written atomically)
	os.WriteFile(filepath.Join(c.Dir, results.CellSummaryFile), b[:len(b)/2], 0o644)
	sw, _ = results.LoadSweep(dir)
	if d := sw.Damaged(); len(d) != 1 || d[0].ID != c.ID || !strings.Contains(d[0].Reason, "not valid JSON") {
		t.Errorf("truncated summary.json: damaged %v", d)
	}
}

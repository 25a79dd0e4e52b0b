package results_test

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestVerifyRecords: a finished cell's files are checked against the
// sha256 in its summary.json; a cell recorded before hashes existed (no
// "files") is read as before, and a malformed record file is then
// reported by its parser.
func TestVerifyRecords(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5}); err != nil {
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

// TestRebuildsMarkDamaged: summary.csv lists a damaged cell with status
// "damaged", and metrics_long.csv.gz leaves its rows out.
func TestRebuildsMarkDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	sw, _ := results.LoadSweep(dir)
	c := sw.Cells[0]
	p := filepath.Join(c.Dir, results.ProbeMetricsFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	if err := results.RebuildSummaryCSV(dir); err != nil {
		t.Fatal(err)
	}
	if err := results.RebuildMetricsLong(dir); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(filepath.Join(dir, results.SummaryCSVFile))
	if !strings.Contains(string(sum), c.ID+",") || !strings.Contains(string(sum), ","+results.StatusDamaged+",") {
		t.Errorf("summary.csv does not mark %s damaged:\n%s", c.ID, sum)
	}
	f, err := os.Open(filepath.Join(dir, results.MetricsLongFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(zr).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("metrics_long: %d rows, %v", len(recs), err)
	}
	long := map[string]bool{}
	for _, r := range recs[1:] {
		long[r[0]] = true
	}
	if long[c.ID] {
		t.Errorf("metrics_long.csv.gz has rows of the damaged cell %s", c.ID)
	}
}

// TestOmittedRecords: a sweep directory's omitted.json lets the listed
// per-example records be absent without marking the cells damaged; an
// unlisted missing file, or a listed file that is present but edited, is
// still damage; omitted.json may only list the omittable files.
func TestOmittedRecords(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil || len(sw.Cells) == 0 {
		t.Fatal(err)
	}
	c := sw.Cells[0]
	if _, ok := c.Summary.Files[results.ProbeExamplesFile]; !ok {
		t.Fatalf("fixture cell lists no %s: %v", results.ProbeExamplesFile, c.Summary.Files)
	}
	ex := filepath.Join(c.Dir, results.ProbeExamplesFile)
	saved, _ := os.ReadFile(ex)
	os.Remove(ex)
	if err := results.VerifyRecords(c.Dir, c.Summary); err == nil {
		t.Fatal("missing probe_examples without omitted.json: not damaged")
	}
	om := filepath.Join(dir, results.OmittedFile)
	os.WriteFile(om, []byte(`{"files": ["probe_examples.csv.gz", "probe_tokens.csv.gz"], "reason": "kept small"}`), 0o644)
	if err := results.VerifyRecords(c.Dir, c.Summary); err != nil {
		t.Errorf("omitted probe_examples: %v", err)
	}
	sw, _ = results.LoadSweep(dir)
	if len(sw.Damaged()) != 0 || len(sw.Cells) == 0 {
		t.Errorf("omitted probe_examples: damaged %v, %d cells", sw.Damaged(), len(sw.Cells))
	}
	// present but edited: still checked
	os.WriteFile(ex, append(saved, 0), 0o644)
	if err := results.VerifyRecords(c.Dir, c.Summary); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("edited omitted-listed file: %v", err)
	}
	os.WriteFile(ex, saved, 0o644)
	// an unlisted file missing: damage
	os.Remove(filepath.Join(c.Dir, results.TrainCSVFile))
	if err := results.VerifyRecords(c.Dir, c.Summary); err == nil || !strings.Contains(err.Error(), results.TrainCSVFile+" is missing") {
		t.Errorf("missing train.csv with omitted.json: %v", err)
	}
	os.WriteFile(om, []byte(`{"files": ["train.csv"], "reason": "x"}`), 0o644)
	if _, err := results.ReadOmitted(dir); err == nil || !strings.Contains(err.Error(), `"train.csv" cannot be omitted`) {
		t.Errorf("omitted.json listing train.csv: %v", err)
	}
	if err := results.VerifyRecords(c.Dir, c.Summary); err == nil {
		t.Error("train.csv omitted by a bad omitted.json: not damaged")
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "figs")
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir, "-out", out, "-only", "F2,F6", "-formats", "png", "-dpi", "40"}, &so, &se); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, se.String())
	}
	if !strings.Contains(so.String(), "wrote   F2: ") || !strings.Contains(so.String(), "skipped F6: one model size") {
		t.Errorf("stdout lacks the F2 write or F6 skip line:\n%s", so.String())
	}
	if _, err := os.Stat(filepath.Join(out, "F2_mass_dynamics.png")); err != nil {
		t.Errorf("F2 not written into -out: %v", err)
	}
	so.Reset()
	if rc := run([]string{"-in", dir, "-formats", "png", "-dpi", "40"}, &so, &se); rc != 0 {
		t.Fatalf("full run: rc = %d, stderr %s", rc, se.String())
	}
	for _, f := range []string{results.ReportFile, results.ComparisonCSVFile, results.ComparisonMDFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	for _, args := range [][]string{
		{}, {"-in"}, {"-in", dir, "extra"}, {"-in", filepath.Join(dir, "nope")},
		{"-in", dir, "-only", "F9"}, {"-in", dir, "-formats", "gif"}, {"-in", dir, "-dpi", "0"}, {"-bogus"},
	} {
		se.Reset()
		if rc := run(args, &so, &se); rc != 2 {
			t.Errorf("%q: rc = %d, want 2", args, rc)
		}
		if msg := se.String(); strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "figures: ") {
			t.Errorf("%q: stderr %q, want one line starting with figures:", args, msg)
		}
	}
}

// TestDamagedCellAndLeftovers: a header-only probe_metrics.csv of a
// finished cell is named, left out, marked in report.html and
// comparison.md, and the command exits 1 unless -allow-damaged; temporary
// files a killed rebuild left are removed by the next one.
func TestDamagedCellAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	victim := sw.Cells[0]
	p := filepath.Join(victim.Dir, results.ProbeMetricsFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:bytes.IndexByte(b, '\n')+1], 0o644) // header only
	figs := filepath.Join(dir, results.FiguresDir)
	os.MkdirAll(figs, 0o755)
	leftovers := []string{filepath.Join(figs, results.TempPrefix+"F4_peakiness.svg-123"), filepath.Join(dir, results.TempPrefix+results.ReportFile+"-9")}
	for _, l := range leftovers {
		os.WriteFile(l, []byte("partial"), 0o644)
	}
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir, "-formats", "svg"}, &so, &se); rc != 1 {
		t.Errorf("rc = %d, want 1 (damaged cell left out); stderr %s", rc, se.String())
	}
	for _, want := range []string{"cell " + victim.ID + " left out: DAMAGED", p + " does not match the sha256", "-allow-damaged"} {
		if !strings.Contains(se.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, se.String())
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, results.ReportFile))
	if !strings.Contains(string(html), "Damaged records: 1 finished cell(s) left out") || !strings.Contains(string(html), victim.ID) {
		t.Errorf("report.html does not mark the damaged cell")
	}
	md, _ := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile))
	if !strings.Contains(string(md), victim.ID) {
		t.Errorf("comparison.md does not name the damaged cell")
	}
	for _, l := range leftovers {
		if _, err := os.Stat(l); !os.IsNotExist(err) {
			t.Errorf("leftover %s not removed by the rebuild", l)
		}
	}
	se.Reset()
	if rc := run([]string{"-in", dir, "-formats", "svg", "-allow-damaged"}, &so, &se); rc != 0 {
		t.Errorf("-allow-damaged: rc = %d, want 0; stderr %s", rc, se.String())
	}
}

// TestRebuildsSummary: written into the sweep directory, figures rebuilds
// summary.csv from the cells present (a cell removed from a published copy
// leaves it); with -out it leaves the sweep's summary.csv alone.
func TestRebuildsSummary(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir, "-formats", "png", "-dpi", "40"}, &so, &se); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, se.String())
	}
	sumPath := filepath.Join(dir, results.SummaryCSVFile)
	before, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	gone := cells[0].Name()
	if !strings.Contains(string(before), gone+",") {
		t.Fatalf("summary.csv does not list %s:\n%s", gone, before)
	}
	os.RemoveAll(filepath.Join(dir, results.CellsDir, gone))
	if rc := run([]string{"-in", dir, "-out", t.TempDir(), "-formats", "png", "-dpi", "40"}, &so, &se); rc != 0 {
		t.Fatalf("-out: rc = %d, stderr %s", rc, se.String())
	}
	if b, _ := os.ReadFile(sumPath); !bytes.Equal(b, before) {
		t.Error("figures -out rewrote the sweep's summary.csv")
	}
	if rc := run([]string{"-in", dir, "-formats", "png", "-dpi", "40"}, &so, &se); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, se.String())
	}
	after, _ := os.ReadFile(sumPath)
	if strings.Contains(string(after), gone+",") || strings.Count(string(after), "\n") != strings.Count(string(before), "\n")-1 {
		t.Errorf("summary.csv after removing %s:\n%s", gone, after)
	}
}

// TestLinkImages: -link-images makes report.html point at figures/*.png
// instead of embedding them.
func TestLinkImages(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	for _, link := range []bool{false, true} {
		args := []string{"-in", dir, "-formats", "png", "-dpi", "40"}
		if link {
			args = append(args, "-link-images")
		}
		if rc := run(args, &so, &se); rc != 0 {
			t.Fatalf("%v: rc = %d, stderr %s", args, rc, se.String())
		}
		b, _ := os.ReadFile(filepath.Join(dir, results.ReportFile))
		embedded, linked := strings.Contains(string(b), "data:image/png;base64"), strings.Contains(string(b), `src="figures/`)
		if embedded == link || linked != link {
			t.Errorf("-link-images=%v: embedded %v, linked %v", link, embedded, linked)
		}
	}
}

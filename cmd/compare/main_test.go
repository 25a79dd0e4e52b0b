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
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2, 3}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir, "-levels", "5,10"}, &so, &se); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, se.String())
	}
	for _, want := range []string{"ramp τ=0.01 token", "At matched train-probe reward margin L = 5 nats", "| 3 |", "wrote " + filepath.Join(dir, results.ComparisonCSVFile)} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, so.String())
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile)); err != nil || !strings.Contains(string(b), "# Gated vs ungated") {
		t.Errorf("comparison.md: %v", err)
	}
	for _, args := range [][]string{{}, {"-in", filepath.Join(dir, "nope")}, {"-in", dir, "-levels", "x"}, {"-in", dir, "a"}, {"-x"}} {
		se.Reset()
		if rc := run(args, &so, &se); rc != 2 {
			t.Errorf("%q: rc = %d, want 2", args, rc)
		}
		if msg := se.String(); strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "compare: ") {
			t.Errorf("%q: stderr %q, want one line starting with compare:", args, msg)
		}
	}
}

// TestDamagedCell: a truncated probe_metrics.csv of a finished cell is
// not silently dropped: compare names the file, leaves the cell out,
// marks the comparison, and exits 1 unless -allow-damaged.
func TestDamagedCell(t *testing.T) {
	dir := t.TempDir()
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil || len(sw.Damaged()) != 0 {
		t.Fatalf("fresh fixture: %v, damaged %v", err, sw.Damaged())
	}
	var victim *results.Cell
	for _, c := range sw.Cells {
		if c.Ungated() {
			victim = c
			break
		}
	}
	p := filepath.Join(victim.Dir, results.ProbeMetricsFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)*2/3], 0o644) // truncated mid-file
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir}, &so, &se); rc != 1 {
		t.Errorf("rc = %d, want 1 (damaged cell left out); stderr %s", rc, se.String())
	}
	for _, want := range []string{victim.ID, p + " does not match the sha256 in summary.json", "-allow-damaged"} {
		if !strings.Contains(se.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, se.String())
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile))
	csv, _ := os.ReadFile(filepath.Join(dir, results.ComparisonCSVFile))
	if !strings.Contains(string(md), "cell "+victim.ID+" left out: DAMAGED") {
		t.Errorf("comparison.md does not mark the damaged cell:\n%s", md)
	}
	if !strings.Contains(string(csv), "DAMAGED cell "+victim.ID) {
		t.Errorf("comparison.csv does not mark the rows the damaged cell would have entered")
	}
	se.Reset()
	if rc := run([]string{"-in", dir, "-allow-damaged"}, &so, &se); rc != 0 || !strings.Contains(se.String(), victim.ID) {
		t.Errorf("-allow-damaged: rc = %d, stderr %s; want 0, still naming the cell", rc, se.String())
	}
}

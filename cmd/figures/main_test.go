package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/plots/fixture"
	"gatedpo/results"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := fixture.Write(dir, fixture.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5}); err != nil {
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

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
	if err := fixture.Write(dir, fixture.Options{Seeds: []int{1, 2, 3}, Steps: 10, EvalEvery: 5}); err != nil {
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

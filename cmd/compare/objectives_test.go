package main

import (
	"bytes"
	"strings"
	"testing"

	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestRunFixObjectives: compare pairs the gated and ungated cells of dpop,
// apo_zero, apo_down and nca_pair as it does dpo's: one row per objective.
func TestRunFixObjectives(t *testing.T) {
	dir := t.TempDir()
	objs := []string{"dpo", "dpop", "apo_zero", "apo_down", "nca_pair"}
	if err := resultstest.Write(dir, resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5, Objectives: objs,
		Gates: []results.GateSpec{{Kind: "none", Level: "token"}, resultstest.Ramp(1e-2)}}); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if rc := run([]string{"-in", dir, "-levels", ""}, &so, &se); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, se.String())
	}
	for _, obj := range objs {
		if n := strings.Count(so.String(), "| "+obj+" |"); n == 0 {
			t.Errorf("no comparison row for %s:\n%s", obj, so.String())
		}
	}
}

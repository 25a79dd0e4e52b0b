package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunData checks the wiring of `inspect data`; data.Inspect's own
// tests cover the flags and the report.
func TestRunData(t *testing.T) {
	stdout := os.Stdout
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()
	if code := runData([]string{"-dataset", "synthetic", "-synthetic-train", "20", "-json"}); code != 0 {
		t.Errorf("synthetic: exit %d, want 0", code)
	}
	if code := runData([]string{"-dataset", filepath.Join(t.TempDir(), "missing.jsonl")}); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}

package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"gatedpo/experiments/hub/hubtest"
)

// runWith calls the command's run with the given arguments.
func runWith(t *testing.T, args ...string) int {
	t.Helper()
	saved := os.Args
	defer func() { os.Args = saved }()
	os.Args = append([]string{"sweep"}, args...)
	return run()
}

// TestExitCodes checks the command's contract for bad input (exit 2,
// nothing written) and a dry run (exit 0, nothing written).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\n[train]\nlr = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"bad value", []string{bad, "-out", out}, 2},
		{"missing grid file", []string{filepath.Join(dir, "none.toml"), "-out", out}, 2},
		{"bad flag", []string{"-workers", "two", "-out", out}, 2},
		{"two grids", []string{bad, bad, "-out", out}, 2},
		{"bad shard", []string{"-grid", "test", "-shard", "3/2", "-out", out}, 2},
		{"bad -set value", []string{"-grid", "test", "-set", "train.lr=abc", "-out", out}, 2},
		{"bad -set key", []string{"-grid", "test", "-set", "train.no_such_key=1", "-out", out}, 2},
		{"-set without =", []string{"-grid", "test", "-set", "train.lr", "-out", out}, 2},
		{"help", []string{"-h"}, 0},
		{"help after a grid", []string{"-grid", "test", "-help"}, 0},
		{"version", []string{"-version"}, 0},
		{"dry run", []string{"-grid", "test", "-dry-run", "-out", out}, 0},
		{"dry run with -set", []string{"-grid", "test", "-dry-run", "-set", "grid.seed=[1,2,3]", "-set", "train.lr=3e-4", "-out", out}, 0},
	}
	for _, c := range cases {
		if got := runWith(t, c.args...); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%s: wrote %s", c.name, out)
		}
	}
}

// TestExitGatedHub: a grid naming a gated hub model, run without a token,
// exits 2 before anything is trained or written; so do an unknown
// repository and an unreachable hub.
func TestExitGatedHub(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"config.json": []byte(`{"model_type": "gpt2"}`), "model.safetensors": make([]byte, 64)}
	s := hubtest.New(map[string]*hubtest.Repo{"org/gated": {Files: files, Gated: true}})
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("HF_HOME", dir)
	t.Setenv("HF_HUB_CACHE", filepath.Join(dir, "cache"))
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	out := filepath.Join(dir, "out")
	for _, arch := range []string{"hf:org/gated", "hf:org/missing", "hf:org/unreachable"} {
		if arch == "hf:org/unreachable" {
			s.Close()
		}
		grid := filepath.Join(dir, "g.toml")
		if err := os.WriteFile(grid, []byte("name = \"g\"\n[grid]\narch = \""+arch+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := runWith(t, grid, "-out", out); got != 2 {
			t.Errorf("%s: exit %d, want 2", arch, got)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%s: wrote %s", arch, out)
		}
	}
}

// TestGCPercent checks that the sweep sets its own GOGC only when the
// environment sets none.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != sweepGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, sweepGCPercent)
	}
	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50) // what the runtime read from the environment
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("with GOGC=50: GC percent %d, want 50 (the environment's)", got)
	}
}

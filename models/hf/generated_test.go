package hf

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gatedpo/internal/sharedtest"
)

// generatedSetName is the make_hf.py set the tests generate: its seed is
// sha256 of the name, with 3 layers and other widths and heads than the
// shipped "main" set.
const generatedSetName = "gatedpo-issue13"

// TestGoldenHFGeneratedSet generates a further set of the four families
// with shared/hf/peer/make_hf.py into a temporary directory (shared/ stays
// read-only; nothing outside the test's temp dir is written) and checks it
// exactly as TestGoldenHF checks the shipped one. Generation takes a few
// seconds of single-threaded PyTorch.
func TestGoldenHFGeneratedSet(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: generates a golden set with PyTorch")
	}
	hf := sharedHF(t)
	py := sharedtest.Torch(t)
	out := t.TempDir()
	cmd := exec.Command(py, "make_hf.py", "--set", generatedSetName, "--out", out)
	cmd.Dir = filepath.Join(hf, "peer")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "OMP_NUM_THREADS=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_hf.py --set %s: %v\n%s", generatedSetName, err, b)
	}
	g := readGoldenSet(t, out)
	if g.Set != generatedSetName {
		t.Fatalf("generated golden.json is for set %q, want %q", g.Set, generatedSetName)
	}
	testGoldenSet(t, out)
}

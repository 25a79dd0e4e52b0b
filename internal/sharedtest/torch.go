package sharedtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Python is the interpreter the PyTorch cross-checks run: Debian's
// python3 with python3-torch and python3-numpy, which ../shared/peer and
// ../shared/hf/peer were written for.
const Python = "/usr/bin/python3"

// HasTorch reports whether Python exists and imports torch and numpy;
// detail says why not.
func HasTorch() (ok bool, detail string) {
	if _, err := os.Stat(Python); err != nil {
		return false, Python + " not found (install Debian's python3-torch to run the PyTorch cross-checks)"
	}
	if out, err := exec.Command(Python, "-c", "import torch, numpy").CombinedOutput(); err != nil {
		return false, Python + " cannot import torch and numpy (apt-get install python3-torch python3-numpy): " + err.Error() + ": " + string(out)
	}
	return true, ""
}

// Torch returns Python when it imports torch and numpy, or skips t.
func Torch(t testing.TB) string {
	t.Helper()
	if ok, why := HasTorch(); !ok {
		t.Skip("skipping: " + why)
	}
	return Python
}

// HFRefLogits runs ../shared/hf/peer/hf_ref.py (peer is that directory) in
// one Python process on model directories and returns its float64 logits
// for ids, flattened, one slice per directory.
func HFRefLogits(t testing.TB, peer string, ids [][]int, dirs ...string) [][]float64 {
	t.Helper()
	script := `import json, sys, torch
sys.path.insert(0, sys.argv[1])
import hf_ref
ids = torch.tensor(json.loads(sys.argv[2]), dtype=torch.int64)
for d in sys.argv[3:]:
    with torch.no_grad():
        print(json.dumps(hf_ref.load(d)(ids).reshape(-1).tolist()))
`
	idj, _ := json.Marshal(ids)
	cmd := exec.Command(Python, append([]string{"-c", script, peer, string(idj)}, dirs...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "OMP_NUM_THREADS=1")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("hf_ref.py: %v\n%s", err, msg)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(dirs) {
		t.Fatalf("hf_ref.py printed %d lines for %d directories", len(lines), len(dirs))
	}
	res := make([][]float64, len(dirs))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &res[i]); err != nil {
			t.Fatalf("hf_ref.py output: %v", err)
		}
	}
	return res
}

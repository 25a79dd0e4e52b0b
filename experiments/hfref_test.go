package experiments

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// hfRefRun runs shared/hf/peer/hf_ref.py on model directories and returns
// its float64 logits for ids, one slice per directory.
func hfRefRun(t *testing.T, py, peer string, ids [][]int, dirs ...string) [][]float64 {
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
	cmd := exec.Command(py, append([]string{"-c", script, peer, string(idj)}, dirs...)...)
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
	res := make([][]float64, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &res[i]); err != nil {
			t.Fatalf("hf_ref.py output: %v", err)
		}
	}
	if len(res) != len(dirs) {
		t.Fatalf("hf_ref.py printed %d lines for %d directories", len(res), len(dirs))
	}
	return res
}

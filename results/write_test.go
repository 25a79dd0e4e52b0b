package results

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.txt")
	if err := WriteBytesAtomic(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	// a failing writer leaves the old file and no temporary behind
	err := WriteFileAtomic(p, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("error not returned")
	}
	b, _ := os.ReadFile(p)
	entries, _ := os.ReadDir(filepath.Dir(p))
	if string(b) != "one" || len(entries) != 1 {
		t.Errorf("after a failed write: %q, %d entries", b, len(entries))
	}
	os.WriteFile(filepath.Join(dir, "sub", TempPrefix+"x"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "sub", ".model.safetensors.tmp123"), nil, 0o644)
	RemoveTemps(filepath.Join(dir, "sub"))
	entries, _ = os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("RemoveTemps left %d entries", len(entries))
	}
}

func TestSummaryRowAndFloats(t *testing.T) {
	if FormatFloat(math.NaN()) != "NaN" || FormatFloat(0.1) != "0.1" || FormatFloat(math.Inf(-1)) != "-Inf" {
		t.Error("FormatFloat")
	}
	cfg := CellConfig{Arch: "a", Dataset: "d", Pipeline: "baseline", Seed: 3,
		Objective: ObjectiveSpec{Name: "dpo"}, Gate: GateSpec{Kind: "ramp", Tau: 0.01, Level: "token"}}
	row := SummaryRow("id", cfg, CellSummary{Status: StatusComplete, Steps: 7, WallS: 1.234, Final: map[string]float64{"gap_0": 2.5}})
	if len(row) != len(SummaryColumns) {
		t.Fatalf("%d columns", len(row))
	}
	line := strings.Join(row, ",")
	if !strings.HasPrefix(line, "id,a,d,baseline,dpo,ramp,token,false,0.01,3,complete,7,1.23,NaN") || !strings.Contains(line, ",2.5,") {
		t.Errorf("row %s", line)
	}
}

func TestRebuildSummaryCSV(t *testing.T) {
	dir := t.TempDir()
	for i, st := range []string{StatusComplete, StatusFailed, StatusRunning} {
		cd := filepath.Join(dir, CellsDir, string(rune('a'+i)))
		WriteJSONAtomic(filepath.Join(cd, CellConfigFile), CellConfig{Arch: "x"})
		WriteJSONAtomic(filepath.Join(cd, CellSummaryFile), CellSummary{Status: st})
	}
	if err := RebuildSummaryCSV(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, SummaryCSVFile))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "a,") || !strings.HasPrefix(lines[2], "b,") {
		t.Errorf("summary.csv:\n%s", b)
	}
}

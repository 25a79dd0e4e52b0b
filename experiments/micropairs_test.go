package experiments

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gatedpo/results"
)

// TestMicroPairsCellIDs: train.micro_pairs unset, 0 or equal to
// batch_pairs (the whole batch) leaves every cell id, train table and SFT
// cache key as they were; a divisor below batch_pairs enters the train
// table and the SFT key (micro-batches round differently).
func TestMicroPairsCellIDs(t *testing.T) {
	base, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
	if err != nil {
		t.Fatal(err)
	}
	unset := base.Cells()
	if len(unset) == 0 || unset[0].ID != "80ac01ab052d" {
		t.Fatalf("pinned grid: %d cells, first id %v", len(unset), unset)
	}
	for _, v := range []string{"0", "8"} {
		g, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(pinnedGrid, "[train]\n", "[train]\nmicro_pairs = "+v+"\n", 1)))
		if err != nil {
			t.Fatal(err)
		}
		cells := g.Cells()
		if len(cells) != len(unset) {
			t.Fatalf("micro_pairs = %s: %d cells, %d without", v, len(cells), len(unset))
		}
		for i := range cells {
			if cells[i].ID != unset[i].ID || sftKey(cells[i].Config) != sftKey(unset[i].Config) {
				t.Errorf("micro_pairs = %s, cell %d: id %s (SFT key %s), unset %s (%s)", v, i, cells[i].ID, sftKey(cells[i].Config), unset[i].ID, sftKey(unset[i].Config))
			}
			if _, ok := cells[i].Config.Train["micro_pairs"]; ok {
				t.Errorf("micro_pairs = %s is in the train table of cell %d", v, i)
			}
		}
	}
	on, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(pinnedGrid, "[train]\n", "[train]\nmicro_pairs = 2\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range on.Cells() {
		if c.ID == unset[i].ID || sftKey(c.Config) == sftKey(unset[i].Config) {
			t.Errorf("micro_pairs = 2, cell %d keeps the id %s or the SFT key %s", i, c.ID, sftKey(c.Config))
		}
		if v, ok := c.Config.Train["micro_pairs"]; !ok || v != float64(2) {
			t.Errorf("cell %d: train.micro_pairs = %v (%T) in the cell config, want 2", i, v, v)
		}
	}
}

// TestMicroPairsConfigErrors: a micro_pairs that does not divide
// batch_pairs (in the file or by -set), a negative one, or one combined
// with rpo sft_norm = "token" is a config error naming the file and the
// key.
func TestMicroPairsConfigErrors(t *testing.T) {
	rpo := "[[grid.objective]]\nname = \"rpo\"\nsft_norm = \"token\"\n\n[[grid.gate]]"
	for _, c := range []struct {
		name, set string
		want      []string
	}{
		{"micro_pairs = 3", "", []string{"train.micro_pairs", "does not divide", "batch_pairs = 8"}},
		{"micro_pairs = 16", "", []string{"train.micro_pairs", "does not divide"}},
		{"micro_pairs = -1", "", []string{"train.micro_pairs"}},
		{"micro_pairs = 2\n" + rpo, "", []string{"train.micro_pairs", "grid.objective", "sft_norm=token"}},
		{"", "train.micro_pairs=5", []string{"train.micro_pairs", "does not divide"}},
	} {
		src := pinnedGrid
		if c.name != "" {
			parts := strings.SplitN(c.name, "\n", 2)
			src = strings.Replace(src, "[train]\n", "[train]\n"+parts[0]+"\n", 1)
			if len(parts) == 2 {
				src = strings.Replace(src, "[[grid.gate]]", parts[1], 1)
			}
		}
		var err error
		if c.set != "" {
			_, err = parseWithSets(t, c.set)
		} else {
			_, err = parseGrid("g.toml", t.TempDir(), []byte(src))
		}
		if err == nil {
			t.Errorf("%q %q: no error", c.name, c.set)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error of several lines: %q", c.name, err)
		}
		if c.set == "" {
			c.want = append(c.want, "g.toml")
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q %q: error %q does not mention %s", c.name, c.set, err, w)
			}
		}
	}
	ok := strings.Replace(pinnedGrid, "[train]\n", "[train]\nmicro_pairs = 2\n", 1)
	ok = strings.Replace(ok, "[[grid.gate]]", "[[grid.objective]]\nname = \"rpo\"\nsft_norm = \"mean\"\n\n[[grid.gate]]", 1)
	if _, err := parseGrid("g.toml", t.TempDir(), []byte(ok)); err != nil {
		t.Errorf("micro_pairs with rpo sft_norm = mean: %v", err)
	}
}

// TestSweepMicroPairs: a cell of the test grid (float64) trained with
// train.micro_pairs = 2, and with micro_pairs = 1 and packed pairs,
// records the train.csv rows (SFT and preference: loss, TRL metrics,
// gradient norm, gate statistics) and the probe metrics of the cell
// trained on whole batches, up to rounding.
func TestSweepMicroPairs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("config", "grids", "test.toml"))
	if err != nil {
		t.Fatal(err)
	}
	grid := strings.Replace(string(src), "seed = [1, 2]", "seed = [1]", 1)
	grid = strings.Replace(grid, "[toy]\nrun = true", "[toy]\nrun = false", 1)
	grid = strings.Replace(grid, "[[grid.gate]]\nkind = \"none\"\n", "", 1)
	grid = strings.Replace(grid, "[train]\n", "[train]\ndtype = \"float64\"\n", 1)
	dir := t.TempDir()
	variants := []string{"", "micro_pairs = 2\n", "micro_pairs = 1\npack_pairs = true\n"}
	files := map[string][]map[string]string{}
	for i, v := range variants {
		g := strings.Replace(grid, "[train]\n", "[train]\n"+v, 1)
		file := filepath.Join(dir, fmt.Sprintf("g%d.toml", i))
		if err := os.WriteFile(file, []byte(g), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		if _, err := Run(context.Background(), quietOptions(file, out, 1)); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		entries, err := os.ReadDir(filepath.Join(out, results.CellsDir))
		if err != nil {
			t.Fatal(err)
		}
		var cells []string
		for _, e := range entries {
			if e.IsDir() {
				cells = append(cells, e.Name())
			}
		}
		if len(cells) != 1 {
			t.Fatalf("%q: cells %v", v, cells)
		}
		for _, name := range []string{"train.csv", results.ProbeMetricsFile} {
			rows := readCSVMaps(t, filepath.Join(out, results.CellsDir, cells[0], name))
			if len(rows) == 0 {
				t.Fatalf("%q: %s has no rows", v, name)
			}
			if i == 0 {
				files[name] = rows
				continue
			}
			want := files[name]
			if len(rows) != len(want) {
				t.Fatalf("%q: %s has %d rows, whole batches %d", v, name, len(rows), len(want))
			}
			differ := 0
			for r := range want {
				for k, a := range want[r] {
					b := rows[r][k]
					if a != b {
						differ++
					}
					x, errA := strconv.ParseFloat(a, 64)
					y, errB := strconv.ParseFloat(b, 64)
					if errA != nil || errB != nil {
						if a != b {
							t.Errorf("%q %s row %d %s: %q, whole batches %q", v, name, r, k, b, a)
						}
						continue
					}
					if math.Abs(x-y) > 1e-9*math.Max(1, math.Abs(x)) {
						t.Errorf("%q %s row %d (step %s) %s: %v, whole batches %v", v, name, r, want[r]["step"], k, y, x)
					}
				}
			}
			if differ == 0 { // micro-batches round differently: equal records mean they did not run
				t.Errorf("%q: %s is the whole batches' bit for bit", v, name)
			}
		}
	}
}

// readCSVMaps reads a CSV file into one map per row, keyed by header.
func readCSVMaps(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 1 {
		t.Fatalf("%s: %d records, %v", path, len(recs), err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, k := range recs[0] {
			m[k] = r[i]
		}
		out = append(out, m)
	}
	return out
}

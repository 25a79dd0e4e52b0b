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

// TestPackPairsCellIDs: train.pack_pairs at its default (unset, or set to
// false) leaves every cell id and train table as they were; on, it enters
// the train table (and so changes the ids: packed training rounds
// differently).
func TestPackPairsCellIDs(t *testing.T) {
	base, err := parseGrid("g.toml", t.TempDir(), []byte(pinnedGrid))
	if err != nil {
		t.Fatal(err)
	}
	off, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(pinnedGrid, "[train]\n", "[train]\npack_pairs = false\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	unset, set := base.Cells(), off.Cells()
	if len(unset) == 0 || len(unset) != len(set) {
		t.Fatalf("%d and %d cells", len(unset), len(set))
	}
	if unset[0].ID != "80ac01ab052d" {
		t.Errorf("cell 0: id %s, was 80ac01ab052d", unset[0].ID)
	}
	for i := range unset {
		if unset[i].ID != set[i].ID {
			t.Errorf("cell %d: id %s with pack_pairs = false, %s without", i, set[i].ID, unset[i].ID)
		}
		if _, ok := set[i].Config.Train["pack_pairs"]; ok {
			t.Errorf("cell %d: pack_pairs = false is in the train table", i)
		}
	}
	on, err := parseWithSets(t, "train.pack_pairs=true")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := parseWithSets(t)
	if err != nil {
		t.Fatal(err)
	}
	pc, uc := on.Cells(), plain.Cells()
	for i := range pc {
		if pc[i].ID == uc[i].ID {
			t.Errorf("cell %d: pack_pairs = true keeps the id %s", i, pc[i].ID)
		}
		if v, ok := pc[i].Config.Train["pack_pairs"]; !ok || v != true {
			t.Errorf("cell %d: train.pack_pairs = %v in the cell config, want true", i, v)
		}
	}
}

// TestPackPairsNeedsPackedModel: train.pack_pairs with an MLP arch is a
// config error naming the key and the arch.
func TestPackPairsNeedsPackedModel(t *testing.T) {
	src := strings.Replace(pinnedGrid, `arch = ["transformer-xs", "transformer-s"]`, `arch = ["transformer-xs", "mlp-xs"]`, 1)
	src = strings.Replace(src, "[train]\n", "[train]\npack_pairs = true\n", 1)
	_, err := parseGrid("g.toml", t.TempDir(), []byte(src))
	if err == nil {
		t.Fatal("pack_pairs with an MLP arch: no error")
	}
	for _, want := range []string{"g.toml", "train.pack_pairs", `"mlp-xs"`, "packed rows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := parseGrid("g.toml", t.TempDir(), []byte(strings.Replace(src, `"mlp-xs"`, `"transformer-s"`, 1))); err != nil {
		t.Errorf("pack_pairs with transformer archs: %v", err)
	}
}

// TestSweepPackPairs: a cell trained with train.pack_pairs = true records
// the preference-stage rows (loss, TRL metrics, gradient norm, gate
// statistics) of the same cell trained unpacked, up to rounding
// (float64), and its SFT stage bit for bit.
func TestSweepPackPairs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("config", "grids", "test.toml"))
	if err != nil {
		t.Fatal(err)
	}
	grid := strings.Replace(string(src), "seed = [1, 2]", "seed = [1]", 1)
	grid = strings.Replace(grid, "[toy]\nrun = true", "[toy]\nrun = false", 1)
	grid = strings.Replace(grid, "[[grid.gate]]\nkind = \"none\"\n", "", 1)
	grid = strings.Replace(grid, "[train]\n", "[train]\ndtype = \"float64\"\n", 1)
	dir := t.TempDir()
	rows := map[bool][]map[string]string{}
	for _, pack := range []bool{false, true} {
		g := grid
		if pack {
			g = strings.Replace(g, "[train]\n", "[train]\npack_pairs = true\n", 1)
		}
		file := filepath.Join(dir, fmt.Sprintf("pack-%v.toml", pack))
		if err := os.WriteFile(file, []byte(g), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("out-%v", pack))
		if _, err := Run(context.Background(), quietOptions(file, out, 1)); err != nil {
			t.Fatalf("pack_pairs = %v: %v", pack, err)
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
			t.Fatalf("pack_pairs = %v: cells %v", pack, cells)
		}
		f, err := os.Open(filepath.Join(out, results.CellsDir, cells[0], "train.csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) < 2 {
			t.Fatalf("pack_pairs = %v: train.csv: %d rows, %v", pack, len(recs), err)
		}
		for _, r := range recs[1:] {
			m := map[string]string{}
			for i, k := range recs[0] {
				m[k] = r[i]
			}
			rows[pack] = append(rows[pack], m)
		}
	}
	un, pk := rows[false], rows[true]
	if len(un) != len(pk) {
		t.Fatalf("%d rows unpacked, %d packed", len(un), len(pk))
	}
	nPref := 0
	for i := range un {
		for k, a := range un[i] {
			b := pk[i][k]
			if un[i]["stage"] != "pref" {
				if a != b {
					t.Errorf("row %d (%s step %s) %s: packed %s, unpacked %s", i, un[i]["stage"], un[i]["step"], k, b, a)
				}
				continue
			}
			x, errA := strconv.ParseFloat(a, 64)
			y, errB := strconv.ParseFloat(b, 64)
			if errA != nil || errB != nil {
				if a != b {
					t.Errorf("row %d %s: packed %q, unpacked %q", i, k, b, a)
				}
				continue
			}
			if math.Abs(x-y) > 1e-9*math.Max(1, math.Abs(x)) {
				t.Errorf("pref step %s %s: packed %v, unpacked %v", un[i]["step"], k, y, x)
			}
		}
		if un[i]["stage"] == "pref" {
			nPref++
		}
	}
	if nPref == 0 {
		t.Fatal("no preference-stage rows")
	}
}

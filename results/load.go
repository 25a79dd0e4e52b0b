package results

// This file reads a sweep directory (the layout pinned in schema.go) back
// into Go values for the figures and the comparison. Only cells whose
// summary.json says "complete" are used; every other cell is listed in
// Sweep.Skipped with the reason, so a figure is never drawn from a cell that
// stopped half way.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sweep is a sweep directory read back from disk.
type Sweep struct {
	Dir           string          // the sweep directory as given
	GridTOML      string          // grid.toml as written ("" when absent)
	GridResolved  json.RawMessage // grid.resolved.json (nil when absent)
	Grids         []NamedGrid     // grids/<name>.toml, by name: every grid that wrote into the directory
	SummaryHeader []string        // summary.csv header (nil when absent)
	SummaryRows   [][]string      // summary.csv rows, in file order
	Cells         []*Cell         // complete cells, sorted by cell id
	Skipped       []SkippedCell   // cells not used, with the reason
	Failed        []*Cell         // failed cells with a readable config (also in Skipped); no records loaded
	Duplicates    []Duplicate     // complete cells set aside: an older run of a (context, gate, seed) in Cells
	ToyF1         *ToyF1          // toy/toy_f1.json (nil when absent)
	ToyF1b        []ToyF1bRow     // toy/toy_f1b.csv (nil when absent)
}

// Duplicate is a complete cell that LoadSweep set aside because a newer
// complete cell has the same context, gate and seed under another id (two
// sweeps merged into one directory): the newer one, Kept, is counted.
type Duplicate struct {
	ID   string
	Kept string
}

// SkippedCell names a cell directory that LoadSweep did not use and why.
type SkippedCell struct {
	ID      string
	Reason  string
	Damaged bool // finished, but a record file no longer matches its sha256 (see VerifyRecords)
}

// NamedGrid is one grid file kept under grids/ in a sweep directory.
type NamedGrid struct {
	Name string // the grid's name (grids/<Name>.toml)
	TOML string // its text as written
}

// Cell is one complete cell of a sweep.
type Cell struct {
	ID      string           // directory name under cells/
	Dir     string           // path of the cell directory
	Config  CellConfig       // config.json
	Summary CellSummary      // summary.json
	Train   []TrainRow       // train.csv (nil when absent)
	Probes  []ProbeMetricRow // probe_metrics.csv (nil when absent)
	Fields  []ProbeFieldRow  // probe_fields.csv (nil when absent)
	// Finished is the modification time of summary.json: which of two
	// duplicate runs is newer.
	Finished time.Time
}

// Value returns the float column col of the row (TrainColumns names:
// "loss", "rewards/margins", ...); ok is false for a column that is not
// a float column of train.csv.
func (r TrainRow) Value(col string) (v float64, ok bool) {
	if p := floatField(&r, col); p != nil {
		return *p, true
	}
	return 0, false
}

// Set sets the float column col of the row; it is false (and the row
// unchanged) for a column that is not a float column of train.csv.
func (r *TrainRow) Set(col string, v float64) bool {
	if p := floatField(r, col); p != nil {
		*p = v
		return true
	}
	return false
}

// Value returns the metric column col of the row (ProbeMetricColumns
// names: "dlp_chosen", "gap", ...); ok is false for a column that is not
// a metric of probe_metrics.csv.
func (r ProbeMetricRow) Value(col string) (v float64, ok bool) {
	if p := floatField(&r, col); p != nil {
		return *p, true
	}
	return 0, false
}

// check fills an empty category from FieldCategory (ReadRows).
func (r *ProbeFieldRow) check() error {
	if r.Category == "" {
		r.Category = FieldCategory[r.Field]
	}
	return nil
}

// Ungated reports whether a gate specification leaves the gradient
// unchanged: kind "none" (or empty), or τ = 0, which is "off"
// (docs/method.md §3).
func (g GateSpec) Ungated() bool {
	return g.Kind == "" || g.Kind == "none" || g.Tau == 0
}

// Ungated reports whether the cell ran without a gate (see GateSpec.Ungated).
func (c *Cell) Ungated() bool { return c.Config.Gate.Ungated() }

// ProbeSplits returns the probe splits present in the cell's probe_metrics.csv,
// held-out first.
func (c *Cell) ProbeSplits() []string {
	seen := map[string]bool{}
	for _, r := range c.Probes {
		seen[r.Split] = true
	}
	var out []string
	for _, s := range []string{SplitHeldout, SplitTrain} {
		if seen[s] {
			out = append(out, s)
			delete(seen, s)
		}
	}
	var rest []string
	for s := range seen {
		rest = append(rest, s)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// MainSplit is the split figures and the comparison report: held-out when
// the cell has it, else train, else "".
func (c *Cell) MainSplit() string {
	s := c.ProbeSplits()
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// ProbeSeries returns the steps and values of one probe metric on one split,
// in step order.
func (c *Cell) ProbeSeries(split, metric string) (steps []int, values []float64) {
	for _, r := range c.Probes {
		if r.Split != split {
			continue
		}
		v, ok := r.Value(metric)
		if !ok {
			continue
		}
		steps = append(steps, r.Step)
		values = append(values, v)
	}
	return steps, values
}

// ProbeAt returns the probe row of a split at a step.
func (c *Cell) ProbeAt(split string, step int) (ProbeMetricRow, bool) {
	for _, r := range c.Probes {
		if r.Split == split && r.Step == step {
			return r, true
		}
	}
	return ProbeMetricRow{}, false
}

// FinalProbe returns the probe row of a split with the largest step.
func (c *Cell) FinalProbe(split string) (ProbeMetricRow, bool) {
	best, ok := ProbeMetricRow{}, false
	for _, r := range c.Probes {
		if r.Split == split && (!ok || r.Step > best.Step) {
			best, ok = r, true
		}
	}
	return best, ok
}

// CategorySeries returns, for one split and one category, the steps and the
// mean ΔLP (nats) over the category's fields at each step.
func (c *Cell) CategorySeries(split, category string) (steps []int, dlp []float64) {
	sum := map[int]float64{}
	cnt := map[int]int{}
	for _, r := range c.Fields {
		if r.Split != split || r.Category != category || math.IsNaN(r.DLP) {
			continue
		}
		sum[r.Step] += r.DLP
		cnt[r.Step]++
	}
	for s := range sum {
		steps = append(steps, s)
	}
	sort.Ints(steps)
	for _, s := range steps {
		dlp = append(dlp, sum[s]/float64(cnt[s]))
	}
	return steps, dlp
}

// TrainSeries returns the steps and values of one train.csv column for one
// stage ("pref" or "sft"), in file order.
func (c *Cell) TrainSeries(stage, column string) (steps []int, values []float64) {
	for _, r := range c.Train {
		if r.Stage != stage {
			continue
		}
		v, ok := r.Value(column)
		if !ok {
			continue
		}
		steps = append(steps, r.Step)
		values = append(values, v)
	}
	return steps, values
}

// LoadSweep reads a sweep directory. It fails only when dir is not a
// directory, holds none of the sweep files, or a sweep-level file is
// malformed; a cell that is incomplete,
// failed or unreadable is listed in Skipped instead.
func LoadSweep(dir string) (*Sweep, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("sweep directory %s: %v", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("sweep directory %s: not a directory", dir)
	}
	found := false
	for _, name := range []string{CellsDir, ToyDir, GridFile, GridResolvedFile, SummaryCSVFile} {
		found = found || fileExists(filepath.Join(dir, name))
	}
	if !found {
		return nil, fmt.Errorf("%s: not a sweep directory (expected %s/, %s/, %s or %s in it)", dir, CellsDir, ToyDir, GridFile, SummaryCSVFile)
	}
	sw := &Sweep{Dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, GridFile)); err == nil {
		sw.GridTOML = string(b)
	}
	if ms, err := filepath.Glob(filepath.Join(dir, GridsDir, "*.toml")); err == nil {
		sort.Strings(ms)
		for _, m := range ms {
			if b, err := os.ReadFile(m); err == nil {
				sw.Grids = append(sw.Grids, NamedGrid{Name: strings.TrimSuffix(filepath.Base(m), ".toml"), TOML: string(b)})
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, GridResolvedFile)); err == nil {
		if !json.Valid(b) {
			return nil, fmt.Errorf("%s: not valid JSON", filepath.Join(dir, GridResolvedFile))
		}
		sw.GridResolved = b
	}
	if p := filepath.Join(dir, SummaryCSVFile); fileExists(p) {
		recs, err := readCSVRecords(p)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			sw.SummaryHeader, sw.SummaryRows = recs[0], recs[1:]
		}
	}
	if p := filepath.Join(dir, ToyDir, ToyF1File); fileExists(p) {
		if sw.ToyF1, err = LoadToyF1(p); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, ToyDir, ToyF1bFile); fileExists(p) {
		if sw.ToyF1b, err = ReadRows[ToyF1bRow](p); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, CellsDir))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, CellsDir), err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if sk, bad := checkDamaged(filepath.Join(dir, CellsDir, e.Name())); bad {
			sw.Skipped = append(sw.Skipped, sk)
			continue
		}
		c, reason := loadCell(filepath.Join(dir, CellsDir, e.Name()))
		if c == nil {
			sw.Skipped = append(sw.Skipped, SkippedCell{ID: e.Name(), Reason: reason})
			if fc := loadFailedCell(filepath.Join(dir, CellsDir, e.Name())); fc != nil {
				sw.Failed = append(sw.Failed, fc)
			}
			continue
		}
		if st, err := os.Stat(filepath.Join(c.Dir, CellSummaryFile)); err == nil {
			c.Finished = st.ModTime()
		}
		sw.Cells = append(sw.Cells, c)
	}
	sort.Slice(sw.Cells, func(i, j int) bool { return sw.Cells[i].ID < sw.Cells[j].ID })
	sw.Cells, sw.Duplicates = dedupe(sw.Cells)
	return sw, nil
}

// dedupe keeps, for each (context, gate, seed), the newest complete cell
// (latest Finished; the larger id on a tie) and returns the others as
// duplicates, in id order.
func dedupe(cells []*Cell) ([]*Cell, []Duplicate) {
	key := func(c *Cell) string {
		return ContextKey(c.Config) + "\x00" + GateKey(c.Config.Gate) + "\x00" + strconv.Itoa(c.Config.Seed)
	}
	newest := map[string]*Cell{}
	for _, c := range cells {
		k := key(c)
		if n := newest[k]; n == nil || c.Finished.After(n.Finished) || (c.Finished.Equal(n.Finished) && c.ID > n.ID) {
			newest[k] = c
		}
	}
	var kept []*Cell
	var dups []Duplicate
	for _, c := range cells {
		if n := newest[key(c)]; n != c {
			dups = append(dups, Duplicate{ID: c.ID, Kept: n.ID})
			continue
		}
		kept = append(kept, c)
	}
	return kept, dups
}

// loadFailedCell reads the summary and config of a cell whose summary says
// "failed" (nil for any other cell or an unreadable config), so that the
// comparison can count the seed as failed.
func loadFailedCell(dir string) *Cell {
	c := &Cell{ID: filepath.Base(dir), Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, CellSummaryFile))
	if err != nil || json.Unmarshal(b, &c.Summary) != nil || c.Summary.Status != StatusFailed {
		return nil
	}
	if b, err = os.ReadFile(filepath.Join(dir, CellConfigFile)); err != nil || json.Unmarshal(b, &c.Config) != nil {
		return nil
	}
	return c
}

// loadCell reads one cell directory; it returns nil and the reason when the
// cell cannot be used.
func loadCell(dir string) (*Cell, string) {
	c := &Cell{ID: filepath.Base(dir), Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, CellSummaryFile))
	if err != nil {
		return nil, "no " + CellSummaryFile + " (not finished)"
	}
	if err := json.Unmarshal(b, &c.Summary); err != nil {
		return nil, fmt.Sprintf("%s: %v", CellSummaryFile, err)
	}
	switch c.Summary.Status {
	case StatusComplete:
	case StatusFailed:
		if f := c.Summary.Failure; f != nil {
			return nil, fmt.Sprintf("failed in %s at step %d: %s", f.Stage, f.Step, f.Reason)
		}
		return nil, "failed"
	default:
		return nil, fmt.Sprintf("status %q (not finished)", c.Summary.Status)
	}
	b, err = os.ReadFile(filepath.Join(dir, CellConfigFile))
	if err != nil {
		return nil, "no " + CellConfigFile
	}
	if err := json.Unmarshal(b, &c.Config); err != nil {
		return nil, fmt.Sprintf("%s: %v", CellConfigFile, err)
	}
	if p := filepath.Join(dir, TrainCSVFile); fileExists(p) {
		if c.Train, err = ReadRows[TrainRow](p); err != nil {
			return nil, err.Error()
		}
	}
	if p := filepath.Join(dir, ProbeMetricsFile); fileExists(p) {
		if c.Probes, err = ReadRows[ProbeMetricRow](p); err != nil {
			return nil, err.Error()
		}
	}
	if p := filepath.Join(dir, ProbeFieldsFile); fileExists(p) {
		if c.Fields, err = ReadRows[ProbeFieldRow](p); err != nil {
			return nil, err.Error()
		}
	}
	return c, ""
}

// LoadToyF1 reads toy/toy_f1.json and checks that every row's before and
// after vectors have K entries.
func LoadToyF1(path string) (*ToyF1, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	var t ToyF1
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: expected a ToyF1 JSON object: %v", path, err)
	}
	for _, r := range t.Rows {
		if len(r.Before) != r.K || len(r.After) != r.K {
			return nil, fmt.Errorf("%s: row %d: expected %d probabilities before and after, got %d and %d",
				path, r.Row, r.K, len(r.Before), len(r.After))
		}
	}
	return &t, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readCSVRecords(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: expected CSV: %v", path, err)
	}
	return recs, nil
}

// Risers returns the classes whose probability is higher after the step
// than before it (docs/method.md §6 F1: in row 3 only the argmax may rise).
func (r ToyF1Row) Risers() []int {
	var out []int
	for j := range r.Before {
		if j < len(r.After) && r.After[j] > r.Before[j] {
			out = append(out, j)
		}
	}
	return out
}

// MaxRise returns the largest increase of any class's probability.
func (r ToyF1Row) MaxRise() float64 {
	m := math.Inf(-1)
	for j := range r.Before {
		if j < len(r.After) {
			m = math.Max(m, r.After[j]-r.Before[j])
		}
	}
	return m
}

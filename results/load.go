package results

// This file reads a sweep directory (the layout pinned in schema.go) back
// into Go values for the figures and the comparison. Only cells whose
// summary.json says "complete" are used; every other cell is listed in
// Sweep.Skipped with the reason, so a figure is never drawn from a cell that
// stopped half way.

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// TrainRow is one row of train.csv. Values holds every numeric column by
// its TrainColumns name ("loss", "rewards/margins", ...); a value that is
// empty in the file is NaN.
type TrainRow struct {
	Stage  string
	Step   int
	Values map[string]float64
}

// ProbeMetricRow is one row of probe_metrics.csv. Values holds every
// numeric column by its ProbeMetricColumns name ("dlp_chosen", "gap", ...).
type ProbeMetricRow struct {
	Step   int
	Split  string
	Values map[string]float64
}

// ProbeFieldRow is one row of probe_fields.csv.
type ProbeFieldRow struct {
	Step     int
	Split    string
	Field    string
	Category string
	N        int
	LP       float64 // mean summed log-prob over examples (nats)
	LPTok    float64 // mean per-token log-prob (nats)
	DLP      float64 // LP minus its step-0 value (nats)
}

// ToyF1bRow is one row of toy/toy_f1b.csv.
type ToyF1bRow struct {
	Method       string
	Seed         int
	Step         int
	LogpChosen   float64
	LogpRejected float64
	Top1Mass     float64 // of the chosen context x⁺
	Entropy      float64 // of the chosen context x⁺
	// Top1MassRejected is max_v p(v|x⁻) of the rejected context; NaN in
	// files written before the column existed.
	Top1MassRejected float64
}

// ProbeExampleRow is one row of probe_examples.csv.gz.
type ProbeExampleRow struct {
	Step    int
	Split   string
	Field   string
	Example int
	LP      float64
	NTok    int
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
		v, ok := r.Values[metric]
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
		v, ok := r.Values[column]
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
		if sw.ToyF1b, err = LoadToyF1b(p); err != nil {
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
		if c.Train, err = LoadTrainCSV(p); err != nil {
			return nil, err.Error()
		}
	}
	if p := filepath.Join(dir, ProbeMetricsFile); fileExists(p) {
		if c.Probes, err = LoadProbeMetrics(p); err != nil {
			return nil, err.Error()
		}
	}
	if p := filepath.Join(dir, ProbeFieldsFile); fileExists(p) {
		if c.Fields, err = LoadProbeFields(p); err != nil {
			return nil, err.Error()
		}
	}
	return c, ""
}

// LoadTrainCSV reads a train.csv file.
func LoadTrainCSV(path string) ([]TrainRow, error) {
	t, err := readTable(path, "stage", "step")
	if err != nil {
		return nil, err
	}
	rows := make([]TrainRow, 0, len(t.rows))
	for i, rec := range t.rows {
		step, err := t.int(rec, "step")
		if err != nil {
			return nil, t.errorf(i, err)
		}
		vals, err := t.floats(rec, "stage", "step")
		if err != nil {
			return nil, t.errorf(i, err)
		}
		rows = append(rows, TrainRow{Stage: t.str(rec, "stage"), Step: step, Values: vals})
	}
	return rows, nil
}

// LoadProbeMetrics reads a probe_metrics.csv file.
func LoadProbeMetrics(path string) ([]ProbeMetricRow, error) {
	t, err := readTable(path, "step", "split")
	if err != nil {
		return nil, err
	}
	rows := make([]ProbeMetricRow, 0, len(t.rows))
	for i, rec := range t.rows {
		step, err := t.int(rec, "step")
		if err != nil {
			return nil, t.errorf(i, err)
		}
		vals, err := t.floats(rec, "step", "split")
		if err != nil {
			return nil, t.errorf(i, err)
		}
		rows = append(rows, ProbeMetricRow{Step: step, Split: t.str(rec, "split"), Values: vals})
	}
	return rows, nil
}

// LoadProbeFields reads a probe_fields.csv file. A missing category column
// value is filled from FieldCategory.
func LoadProbeFields(path string) ([]ProbeFieldRow, error) {
	t, err := readTable(path, "step", "split", "field", "dlp")
	if err != nil {
		return nil, err
	}
	rows := make([]ProbeFieldRow, 0, len(t.rows))
	for i, rec := range t.rows {
		var r ProbeFieldRow
		var errs [4]error
		r.Step, errs[0] = t.int(rec, "step")
		r.Split, r.Field, r.Category = t.str(rec, "split"), t.str(rec, "field"), t.str(rec, "category")
		if t.has("n") {
			r.N, errs[1] = t.int(rec, "n")
		}
		r.LP, errs[2] = t.float(rec, "lp")
		r.DLP, errs[3] = t.float(rec, "dlp")
		if err := errors.Join(errs[:]...); err != nil {
			return nil, t.errorf(i, err)
		}
		r.LPTok, _ = t.float(rec, "lptok")
		if r.Category == "" {
			r.Category = FieldCategory[r.Field]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// LoadProbeExamples reads a probe_examples.csv.gz file (per-example log-probs;
// not loaded by LoadSweep because it can be large).
func LoadProbeExamples(path string) ([]ProbeExampleRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: expected a gzip file: %v", path, err)
	}
	t, err := parseCSVTable(path, zr, "step", "split", "field", "example", "lp", "ntok")
	if err != nil {
		return nil, err
	}
	rows := make([]ProbeExampleRow, 0, len(t.rows))
	for i, rec := range t.rows {
		var r ProbeExampleRow
		var errs [4]error
		r.Step, errs[0] = t.int(rec, "step")
		r.Example, errs[1] = t.int(rec, "example")
		r.LP, errs[2] = t.float(rec, "lp")
		r.NTok, errs[3] = t.int(rec, "ntok")
		if err := errors.Join(errs[:]...); err != nil {
			return nil, t.errorf(i, err)
		}
		r.Split, r.Field = t.str(rec, "split"), t.str(rec, "field")
		rows = append(rows, r)
	}
	return rows, nil
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

// LoadToyF1b reads toy/toy_f1b.csv.
func LoadToyF1b(path string) ([]ToyF1bRow, error) {
	t, err := readTable(path, ToyF1bColumns[:7]...) // top1_mass_rejected is optional
	if err != nil {
		return nil, err
	}
	rows := make([]ToyF1bRow, 0, len(t.rows))
	for i, rec := range t.rows {
		r := ToyF1bRow{Top1MassRejected: math.NaN()}
		var errs [7]error
		r.Method = t.str(rec, "method")
		r.Seed, errs[0] = t.int(rec, "seed")
		r.Step, errs[1] = t.int(rec, "step")
		r.LogpChosen, errs[2] = t.float(rec, "logp_chosen")
		r.LogpRejected, errs[3] = t.float(rec, "logp_rejected")
		r.Top1Mass, errs[4] = t.float(rec, "top1_mass")
		r.Entropy, errs[5] = t.float(rec, "entropy")
		if t.has("top1_mass_rejected") {
			r.Top1MassRejected, errs[6] = t.float(rec, "top1_mass_rejected")
		}
		if err := errors.Join(errs[:]...); err != nil {
			return nil, t.errorf(i, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// table is a CSV file indexed by column name.
type csvTable struct {
	path   string
	header []string
	col    map[string]int
	rows   [][]string
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

func readTable(path string, required ...string) (*csvTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	return parseCSVTable(path, f, required...)
}

func parseCSVTable(path string, rd io.Reader, required ...string) (*csvTable, error) {
	r := csv.NewReader(rd)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: expected CSV with a header row: %v", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty file, expected a header row", path)
	}
	t := &csvTable{path: path, header: recs[0], col: map[string]int{}, rows: recs[1:]}
	for i, h := range t.header {
		t.col[strings.TrimSpace(h)] = i
	}
	var missing []string
	for _, c := range required {
		if !t.has(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing column(s) %s", path, strings.Join(missing, ", "))
	}
	return t, nil
}

func (t *csvTable) has(c string) bool { _, ok := t.col[c]; return ok }

func (t *csvTable) str(rec []string, c string) string {
	if i, ok := t.col[c]; ok {
		return rec[i]
	}
	return ""
}

func (t *csvTable) int(rec []string, c string) (int, error) {
	s := t.str(rec, c)
	v, err := strconv.Atoi(s)
	if err != nil {
		// Tolerate integers written as floats ("10.0", "1e3").
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) {
			return 0, fmt.Errorf("column %s: expected an integer, got %q", c, s)
		}
		v = int(f)
	}
	return v, nil
}

func (t *csvTable) float(rec []string, c string) (float64, error) {
	return parseRecordFloat(c, t.str(rec, c))
}

// floats parses every column except the named ones as a float.
func (t *csvTable) floats(rec []string, except ...string) (map[string]float64, error) {
	m := make(map[string]float64, len(t.header))
	for i, h := range t.header {
		h = strings.TrimSpace(h)
		skip := false
		for _, e := range except {
			skip = skip || h == e
		}
		if skip {
			continue
		}
		v, err := parseRecordFloat(h, rec[i])
		if err != nil {
			return nil, err
		}
		m[h] = v
	}
	return m, nil
}

func parseRecordFloat(col, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("column %s: expected a number, got %q", col, s)
	}
	return v, nil
}

func (t *csvTable) errorf(row int, err error) error {
	// Row numbers count the header as line 1, like a text editor.
	return fmt.Errorf("%s: line %d: %v", t.path, row+2, err)
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

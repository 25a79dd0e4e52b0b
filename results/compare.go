package results

// This file compares gated with ungated cells (docs/method.md §7):
// for every gated configuration, the paired-by-seed difference gated −
// ungated of the final probe metrics, with a Student-t 95 % confidence
// interval over seeds, and the same at matched train-probe margin (the
// rule of match.go).
//
// Pairing. Two cells are partners when their resolved configurations are
// equal except for the gate and nothing else (same arch, dataset, pipeline,
// objective with its parameters, data/train/model tables) and they share a
// seed. The ungated partner is a cell whose gate is "none" (or, when the
// context has no such cell, a gate with τ = 0, which is off). Only complete
// cells are compared; each row counts the seeds that failed or had no
// partner, and the comparison lists the failed cells and the duplicates
// LoadSweep set aside.

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// CompareMetric is a probe metric of the comparison.
type CompareMetric struct {
	Column string // ProbeMetricColumns name
	Label  string // display name
	Unit   string // "nats" or "" (a fraction)
}

// CompareMetrics are the metrics compared, in display order.
var CompareMetrics = []CompareMetric{
	{Column: "dlp_chosen", Label: "ΔLP_chosen", Unit: "nats"},
	{Column: "gap", Label: "gap", Unit: "nats"},
	{Column: "lp_argmax", Label: "LP_argmax", Unit: "nats"},
	{Column: "top1_mass", Label: "top-1 mass"},
	{Column: "suppression", Label: "suppression"},
	{Column: "reward_acc", Label: "reward acc"},
}

// DefaultMarginLevels are the train-probe reward margins at which the
// comparison matches gated and ungated runs, in nats of log-ratio
// (r⁺ − r⁻ summed over the response, without β).
var DefaultMarginLevels = []float64{10, 20, 40}

// CompareOptions configures Compare. The zero value uses the defaults.
type CompareOptions struct {
	MarginLevels []float64 // default DefaultMarginLevels; empty slice = none (use nil for the default)
	Confidence   float64   // two-sided confidence level, default 0.95
	// NoCommonMargin drops the MarginCommon matching point.
	NoCommonMargin bool
}

// MarginCommon is the matching point "largest common margin": for each gated
// configuration, the level is the largest train-probe margin that every
// paired run (gated and ungated, every seed) reaches, i.e. the smallest of
// their maximum margins (CommonMargin); each run is read there by the
// matched-margin rule (Cell.AtMargin). Tiny runs that never reach 10 nats
// still get a matched-margin comparison this way. The level is in
// ComparisonRow.MarginLevel.
const MarginCommon = "margin common"

// Context is what a gated cell shares with its ungated partner, in words.
type Context struct {
	Key       string // canonical JSON of the config without gate, seed and sweep name
	Arch      string
	Dataset   string
	Pipeline  string
	Objective string
	Variant   string // other settings that vary across the sweep, "k=v, k=v" ("" when none)
}

// Label is a short human-readable name of the context.
func (c Context) Label() string {
	f := c.Fields()
	s := strings.Join(f[:4], " · ")
	if c.Variant != "" {
		s += " · " + c.Variant
	}
	return s
}

// Fields are the parts of a context's label, in order: arch, dataset (as
// DatasetLabel shortens it), pipeline, objective, variant.
func (c Context) Fields() []string {
	return []string{c.Arch, DatasetLabel(c.Dataset), c.Pipeline, c.Objective, c.Variant}
}

// DatasetLabel shortens a dataset as a grid names it for titles and file
// names: a local path to its last two elements ("hh-probe/train.jsonl"),
// an hf://datasets/ORG/NAME[@REV]/PATH value to "hf:ORG/NAME"; anything
// else ("synthetic") as is.
func DatasetLabel(ds string) string {
	if rest, ok := strings.CutPrefix(ds, "hf://datasets/"); ok {
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) >= 2 {
			name, _, _ := strings.Cut(parts[1], "@")
			return "hf:" + parts[0] + "/" + name
		}
		return ds
	}
	parts := strings.FieldsFunc(filepath.ToSlash(ds), func(r rune) bool { return r == '/' })
	if len(parts) < 2 {
		return ds
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1]
}

// ComparisonRow is one (gated configuration, matching point, metric) entry.
type ComparisonRow struct {
	Context     Context
	Gate        GateSpec
	GateLabel   string
	At          string  // "final", "margin 10" (matched-margin rule at L = 10) or MarginCommon
	MarginLevel float64 // L in nats of log-ratio; 0 for "final"
	Metric      CompareMetric
	Seeds       []int     // the paired seeds used
	Gated       float64   // mean over the paired seeds
	Ungated     float64   // mean over the paired seeds
	Diff        Interval  // paired differences gated − ungated
	StepGated   float64   // mean step read for the gated cells (interpolated at a margin level)
	StepUngated float64   // mean step read for the ungated cells
	Note        string    // "n<2: no CI", "not reached (gated 0/3, ungated 3/3)", ...
	Split       string    // probe split the metric is read from
	Reached     [2]string // "k/n" paired seeds that reached the margin level: gated, ungated ("" for final)
	NotReached  int       // paired seeds left out because a run did not reach the level (0 for final)
	Failed      int       // seeds whose gated or ungated run failed (no complete partner pair)
	Unpaired    int       // seeds with a complete run on one side only and no failure on the other
}

// Comparison is the whole gated-vs-ungated comparison of a sweep.
type Comparison struct {
	Rows         []ComparisonRow
	MarginLevels []float64
	Confidence   float64
	Notes        []string      // gated configurations without an ungated partner, and the like
	FailedCells  []SkippedCell // failed cells (id and reason), not compared
	Duplicates   []Duplicate   // cells set aside as duplicates of a newer complete run
	Sizes        []SizeRow     // smaller gated vs larger ungated models (sizes.go)
}

// GateLabel describes a gate in a few words, e.g. "ramp τ=0.01 token" or
// "sigmoid τ=0.001 T=0.5 seq rel"; "none" when ungated.
func GateLabel(g GateSpec) string {
	if g.Kind == "" || g.Kind == "none" {
		return "none"
	}
	s := g.Kind + " τ=" + fmtG(g.Tau)
	if g.Kind == "sigmoid" && g.Temperature != 0 && g.Temperature != 1 {
		s += " T=" + fmtG(g.Temperature)
	}
	if g.Kind == "power" && g.Alpha != 0 && g.Alpha != 0.5 {
		s += " α=" + fmtG(g.Alpha)
	}
	if g.Level == "sequence" {
		s += " seq"
	} else {
		s += " token"
	}
	if g.Relative {
		s += " rel"
	}
	return s
}

func fmtG(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ContextKey is the canonical JSON of a config with gate, seed and sweep name
// cleared: two cells with the same key differ only in gate and seed.
func ContextKey(c CellConfig) string {
	c.Gate, c.Seed, c.Sweep = GateSpec{}, 0, ""
	b, _ := json.Marshal(c)
	return string(b)
}

// FlattenConfig turns a config into dotted keys ("objective.beta",
// "train.lr") and their JSON-encoded values.
func FlattenConfig(c CellConfig) map[string]string {
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mm, ok := v.(map[string]any); ok {
			for k, x := range mm {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				walk(key, x)
			}
			return
		}
		if s, ok := v.(string); ok {
			out[prefix] = s
			return
		}
		e, _ := json.Marshal(v)
		out[prefix] = string(e)
	}
	walk("", m)
	return out
}

// VaryingKeys returns the flattened config keys whose value differs between
// cells (missing counts as a value), sorted.
func VaryingKeys(cells []*Cell) []string {
	vals := map[string]map[string]bool{}
	flat := make([]map[string]string, len(cells))
	all := map[string]bool{}
	for i, c := range cells {
		flat[i] = FlattenConfig(c.Config)
		for k := range flat[i] {
			all[k] = true
		}
	}
	for k := range all {
		vals[k] = map[string]bool{}
		for _, f := range flat {
			v, ok := f[k]
			if !ok {
				v = "\x00missing"
			}
			vals[k][v] = true
		}
	}
	var out []string
	for k, v := range vals {
		if len(v) > 1 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// contextShown are config keys shown in their own column, never in Variant.
var contextShown = map[string]bool{"sweep": true, "seed": true, "arch": true, "dataset": true, "pipeline": true, "objective.name": true}

// Contexts returns each cell's Context, indexed like cells.
func Contexts(cells []*Cell) []Context {
	flat := make([]map[string]string, len(cells))
	for i, c := range cells {
		flat[i] = FlattenConfig(c.Config)
	}
	var variantKeys []string
	for _, k := range VaryingKeys(cells) {
		if contextShown[k] || strings.HasPrefix(k, "gate.") {
			continue
		}
		if strings.HasPrefix(k, "model.") && determinedBy(flat, k, "arch") {
			continue // the arch preset's model table: the arch name says it
		}
		if strings.HasPrefix(k, "objective.") && determinedBy(flat, k, "objective.name") {
			continue // one objective's parameters: the objective column says it
		}
		if strings.HasPrefix(k, "data.") && determinedBy(flat, k, "dataset") {
			continue // the dataset's own entries (its path, its content hash): the dataset column says it
		}
		variantKeys = append(variantKeys, k)
	}
	out := make([]Context, len(cells))
	for i, c := range cells {
		f := flat[i]
		var parts []string
		for _, k := range variantKeys {
			v, ok := f[k]
			if !ok {
				v = "-"
			}
			parts = append(parts, k+"="+v)
		}
		out[i] = Context{
			Key: ContextKey(c.Config), Arch: c.Config.Arch, Dataset: c.Config.Dataset,
			Pipeline: c.Config.Pipeline, Objective: c.Config.Objective.Name,
			Variant: strings.Join(parts, ", "),
		}
	}
	return out
}

// determinedBy reports whether key k has one value per value of key by.
func determinedBy(flat []map[string]string, k, by string) bool {
	val := map[string]string{}
	for _, f := range flat {
		a := f[by]
		if v, ok := val[a]; ok && v != f[k] {
			return false
		}
		val[a] = f[k]
	}
	return true
}

// GateKey is the canonical JSON of a gate spec.
func GateKey(g GateSpec) string {
	b, _ := json.Marshal(g)
	return string(b)
}

// Group is the cells of one (context, gate) combination, one per seed.
type Group struct {
	Context Context
	Gate    GateSpec
	Cells   []*Cell // sorted by seed
}

// GroupCells groups cells by (context, gate), in a stable display order
// (pipeline, arch, dataset, objective, variant, then gate kind, level,
// relative, τ).
func GroupCells(cells []*Cell) []*Group {
	ctxs := Contexts(cells)
	idx := map[string]*Group{}
	var groups []*Group
	for i, c := range cells {
		k := ctxs[i].Key + "\x00" + GateKey(c.Config.Gate)
		g := idx[k]
		if g == nil {
			g = &Group{Context: ctxs[i], Gate: c.Config.Gate}
			idx[k] = g
			groups = append(groups, g)
		}
		g.Cells = append(g.Cells, c)
	}
	for _, g := range groups {
		sort.SliceStable(g.Cells, func(i, j int) bool { return g.Cells[i].Config.Seed < g.Cells[j].Config.Seed })
	}
	sort.SliceStable(groups, func(i, j int) bool { return groupLess(groups[i], groups[j]) })
	return groups
}

func groupLess(a, b *Group) bool {
	ka := []string{a.Context.Pipeline, a.Context.Arch, a.Context.Dataset, a.Context.Objective, a.Context.Variant, a.Context.Key}
	kb := []string{b.Context.Pipeline, b.Context.Arch, b.Context.Dataset, b.Context.Objective, b.Context.Variant, b.Context.Key}
	for i := range ka {
		if ka[i] != kb[i] {
			return naturalLess(ka[i], kb[i])
		}
	}
	ua, ub := a.Gate.Ungated(), b.Gate.Ungated()
	if ua != ub {
		return ua
	}
	if a.Gate.Kind != b.Gate.Kind {
		return a.Gate.Kind < b.Gate.Kind
	}
	if a.Gate.Level != b.Gate.Level {
		return a.Gate.Level > b.Gate.Level // token before sequence
	}
	if a.Gate.Relative != b.Gate.Relative {
		return !a.Gate.Relative
	}
	if a.Gate.Tau != b.Gate.Tau {
		return a.Gate.Tau < b.Gate.Tau
	}
	return GateKey(a.Gate) < GateKey(b.Gate)
}

// naturalLess orders strings with embedded numbers by value ("d64" <
// "d128"); names without digits compare as strings.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := a[0] >= '0' && a[0] <= '9', b[0] >= '0' && b[0] <= '9'
		if da && db {
			i, j := 0, 0
			for i < len(a) && a[i] >= '0' && a[i] <= '9' {
				i++
			}
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			na, _ := strconv.ParseFloat(a[:i], 64)
			nb, _ := strconv.ParseFloat(b[:j], 64)
			if na != nb {
				return na < nb
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// Baseline returns the ungated group of a context among groups: the one with
// gate kind "none" if there is one, else an ungated one with τ = 0, else nil.
func Baseline(groups []*Group, contextKey string) *Group {
	var fallback *Group
	for _, g := range groups {
		if g.Context.Key != contextKey || !g.Gate.Ungated() {
			continue
		}
		if g.Gate.Kind == "" || g.Gate.Kind == "none" {
			return g
		}
		if fallback == nil {
			fallback = g
		}
	}
	return fallback
}

// Compare builds the gated-vs-ungated comparison of complete cells (no
// failure accounting: see CompareSweep).
func Compare(cells []*Cell, opt CompareOptions) *Comparison {
	return compare(cells, nil, opt)
}

// CompareSweep builds the comparison of a loaded sweep: its complete cells,
// with each row counting the seeds whose run failed (Sweep.Failed) or had
// no partner, and the failed cells and duplicates listed.
func CompareSweep(sw *Sweep, opt CompareOptions) *Comparison {
	cmp := compare(sw.Cells, sw.Failed, opt)
	for _, c := range sw.Failed {
		cmp.FailedCells = append(cmp.FailedCells, SkippedCell{ID: c.ID, Reason: failureReason(c.Summary)})
	}
	cmp.Duplicates = sw.Duplicates
	return cmp
}

func compare(cells, failed []*Cell, opt CompareOptions) *Comparison {
	if opt.MarginLevels == nil {
		opt.MarginLevels = DefaultMarginLevels
	}
	if opt.Confidence == 0 {
		opt.Confidence = 0.95
	}
	cmp := &Comparison{MarginLevels: opt.MarginLevels, Confidence: opt.Confidence}
	groups := GroupCells(cells)
	failedSeeds := map[string]map[int]bool{} // context key + gate key → seeds
	for _, c := range failed {
		k := ContextKey(c.Config) + "\x00" + GateKey(c.Config.Gate)
		if failedSeeds[k] == nil {
			failedSeeds[k] = map[int]bool{}
		}
		failedSeeds[k][c.Config.Seed] = true
	}
	for _, g := range groups {
		if g.Gate.Ungated() {
			continue
		}
		base := Baseline(groups, g.Context.Key)
		if base == nil {
			cmp.Notes = append(cmp.Notes, fmt.Sprintf("%s, gate %s: no ungated cell with the same settings; not compared",
				g.Context.Label(), GateLabel(g.Gate)))
			continue
		}
		nFailed, nUnpaired := seedAccount(g, base,
			failedSeeds[g.Context.Key+"\x00"+GateKey(g.Gate)], failedSeeds[base.Context.Key+"\x00"+GateKey(base.Gate)])
		var rows []ComparisonRow
		rows = append(rows, CompareGroup(g, base, "final", 0, opt.Confidence)...)
		for _, lvl := range opt.MarginLevels {
			rows = append(rows, CompareGroup(g, base, "margin "+fmtG(lvl), lvl, opt.Confidence)...)
		}
		if !opt.NoCommonMargin {
			if lvl := CommonMargin(g, base); lvl > 0 {
				rows = append(rows, CompareGroup(g, base, MarginCommon, lvl, opt.Confidence)...)
			}
		}
		for i := range rows {
			rows[i].Failed, rows[i].Unpaired = nFailed, nUnpaired
		}
		cmp.Rows = append(cmp.Rows, rows...)
	}
	cmp.Sizes = compareSizes(groups, opt.Confidence)
	return cmp
}

// seedAccount counts the seeds of a gated group and its baseline that are
// not paired: failed (either side's run failed and the pair is not
// complete) and unpaired (a complete run on one side, nothing on the other).
func seedAccount(g, base *Group, failedG, failedU map[int]bool) (failed, unpaired int) {
	have := func(gr *Group) map[int]bool {
		m := map[int]bool{}
		for _, c := range gr.Cells {
			m[c.Config.Seed] = true
		}
		return m
	}
	hg, hu := have(g), have(base)
	seeds := map[int]bool{}
	for _, m := range []map[int]bool{hg, hu, failedG, failedU} {
		for s := range m {
			seeds[s] = true
		}
	}
	for s := range seeds {
		switch {
		case hg[s] && hu[s]:
		case failedG[s] || failedU[s]:
			failed++
		default:
			unpaired++
		}
	}
	return failed, unpaired
}

func failureReason(s CellSummary) string {
	if f := s.Failure; f != nil {
		return fmt.Sprintf("failed in %s at step %d: %s", f.Stage, f.Step, f.Reason)
	}
	return "failed"
}

// CompareGroup compares a gated group with its ungated baseline at one
// matching point, one row per CompareMetrics metric: at the final probe
// (level 0) or at margin level L by the matched-margin rule (Cell.AtMargin;
// the mean is over the paired seeds where both runs reach L).
func CompareGroup(g, base *Group, at string, level, conf float64) []ComparisonRow {
	type pair struct {
		seed   int
		gc, uc *Cell
		gp, up MarginPoint
	}
	var pairs []pair
	var reachedG, reachedU int
	all := pairBySeed(g, base)
	for _, p := range all {
		gp, up := p.g.FinalPoint(), p.u.FinalPoint()
		if level != 0 {
			gp, up = p.g.AtMargin(level), p.u.AtMargin(level)
		}
		if gp.Reached {
			reachedG++
		}
		if up.Reached {
			reachedU++
		}
		if gp.Reached && up.Reached {
			pairs = append(pairs, pair{p.seed, p.g, p.u, gp, up})
		}
	}
	seedsBoth := len(all)
	var rows []ComparisonRow
	for _, m := range CompareMetrics {
		row := ComparisonRow{
			Context: g.Context, Gate: g.Gate, GateLabel: GateLabel(g.Gate), At: at, MarginLevel: level, Metric: m,
			Gated: math.NaN(), Ungated: math.NaN(), StepGated: math.NaN(), StepUngated: math.NaN(),
		}
		if level != 0 {
			row.Reached = [2]string{fmt.Sprintf("%d/%d", reachedG, seedsBoth), fmt.Sprintf("%d/%d", reachedU, seedsBoth)}
			row.NotReached = seedsBoth - len(pairs)
		}
		var diffs, gv, uv, gsteps, usteps []float64
		for _, p := range pairs {
			split := p.gc.MainSplit()
			a, ok1 := p.gc.ValueAt(split, m.Column, p.gp)
			b, ok2 := p.uc.ValueAt(split, m.Column, p.up)
			if !ok1 || !ok2 {
				continue
			}
			row.Split = split
			row.Seeds = append(row.Seeds, p.seed)
			diffs, gv, uv = append(diffs, a-b), append(gv, a), append(uv, b)
			gsteps, usteps = append(gsteps, p.gp.Step), append(usteps, p.up.Step)
		}
		row.Diff = TInterval(diffs, conf)
		row.Gated, row.Ungated = meanOf(gv), meanOf(uv)
		row.StepGated, row.StepUngated = meanOf(gsteps), meanOf(usteps)
		switch {
		case seedsBoth == 0:
			row.Note = "no seed in common with the ungated cells"
		case level != 0 && len(pairs) == 0:
			row.Note = fmt.Sprintf("not reached (gated %d/%d, ungated %d/%d seeds)", reachedG, seedsBoth, reachedU, seedsBoth)
		case len(diffs) == 0:
			row.Note = "metric not recorded"
		case len(diffs) < 2:
			row.Note = "n<2: no CI"
		}
		rows = append(rows, row)
	}
	return rows
}

// ComparisonCSVColumns are the columns of comparison.csv (one row per
// gated configuration × matching point × metric).
var ComparisonCSVColumns = []string{
	"pipeline", "arch", "dataset", "objective", "variant",
	"gate", "gate_kind", "level", "relative", "tau",
	"at", "margin_level", "metric", "split", "n", "seeds",
	"mean_gated", "mean_ungated", "diff_mean", "ci_lo", "ci_hi", "excludes_zero",
	"step_gated", "step_ungated", "reached_gated", "reached_ungated", "note",
	"not_reached", "failed", "unpaired",
}

// WriteCSV writes the comparison as comparison.csv.
func (c *Comparison) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ComparisonCSVColumns); err != nil {
		return err
	}
	for _, r := range c.Rows {
		if err := cw.Write(rowRecord(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// rowRecord is a comparison row as ComparisonCSVColumns values.
func rowRecord(r ComparisonRow) []string {
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = strconv.Itoa(s)
	}
	level := r.Gate.Level
	if level == "" {
		level = "token"
	}
	return []string{
		r.Context.Pipeline, r.Context.Arch, r.Context.Dataset, r.Context.Objective, r.Context.Variant,
		r.GateLabel, r.Gate.Kind, level, strconv.FormatBool(r.Gate.Relative), fmtG(r.Gate.Tau),
		r.At, fmtG(r.MarginLevel), r.Metric.Column, r.Split, strconv.Itoa(r.Diff.N), strings.Join(seeds, " "),
		fmtG(r.Gated), fmtG(r.Ungated), fmtG(r.Diff.Mean), fmtG(r.Diff.Lo), fmtG(r.Diff.Hi),
		strconv.FormatBool(r.Diff.ExcludesZero()),
		fmtG(r.StepGated), fmtG(r.StepUngated), r.Reached[0], r.Reached[1], r.Note,
		strconv.Itoa(r.NotReached), strconv.Itoa(r.Failed), strconv.Itoa(r.Unpaired),
	}
}

// FormatCell formats a difference for a table: "+29.1 [+12.0, +46.2] *",
// "+29.1 (n<2: no CI)" or the row's note.
func FormatCell(r ComparisonRow) string {
	if r.Diff.N == 0 {
		switch {
		case r.Note == "":
			return "—"
		case strings.HasPrefix(r.Note, "not reached"):
			return "not reached"
		}
		return r.Note
	}
	if !r.Diff.HasCI {
		return signed(r.Diff.Mean) + " (n<2: no CI)"
	}
	s := fmt.Sprintf("%s [%s, %s]", signed(r.Diff.Mean), signed(r.Diff.Lo), signed(r.Diff.Hi))
	if r.Diff.ExcludesZero() {
		s += " *"
	}
	return s
}

// signed formats a number with a sign and three significant digits
// (at least one decimal for numbers ≥ 100 is not needed: nats at this scale).
func signed(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%+.0f", v)
	case a >= 10:
		return fmt.Sprintf("%+.1f", v)
	case a >= 1:
		return fmt.Sprintf("%+.2f", v)
	default:
		return fmt.Sprintf("%+.3f", v)
	}
}

// TableRow is one line of a wide comparison table: a gated configuration at
// one matching point, with one entry per CompareMetrics metric.
type TableRow struct {
	Context   Context
	GateLabel string
	At        string
	N         int    // paired seeds (the largest over metrics)
	Steps     string // "gated/ungated" mean step read (interpolated at a margin level)
	Reached   string // "g k/n, u k/n": seeds that reached the margin, gated and ungated (margin rows)
	// NotReached, Failed and Unpaired are the seeds left out: a run did not
	// reach the level, a run failed, a run had no partner.
	NotReached, Failed, Unpaired int
	Cells                        []string
	Rows                         []ComparisonRow // the underlying rows, one per metric
}

// Table returns the wide rows of the comparison for one matching point
// ("final" or "margin 10"), in display order.
func (c *Comparison) Table(at string) []TableRow {
	var out []TableRow
	for i := 0; i < len(c.Rows); {
		j := i
		for j < len(c.Rows) && c.Rows[j].Context.Key == c.Rows[i].Context.Key &&
			GateKey(c.Rows[j].Gate) == GateKey(c.Rows[i].Gate) && c.Rows[j].At == c.Rows[i].At {
			j++
		}
		if c.Rows[i].At == at {
			tr := TableRow{Context: c.Rows[i].Context, GateLabel: c.Rows[i].GateLabel, At: at, Rows: c.Rows[i:j]}
			for _, r := range c.Rows[i:j] {
				tr.N = max(tr.N, r.Diff.N)
				tr.Cells = append(tr.Cells, FormatCell(r))
			}
			r0 := c.Rows[i]
			tr.NotReached, tr.Failed, tr.Unpaired = r0.NotReached, r0.Failed, r0.Unpaired
			if !math.IsNaN(r0.StepGated) {
				tr.Steps = fmt.Sprintf("%.0f/%.0f", r0.StepGated, r0.StepUngated)
			}
			if r0.MarginLevel != 0 {
				tr.Reached = "g " + r0.Reached[0] + ", u " + r0.Reached[1]
			}
			if at == MarginCommon {
				// Every paired run reaches the common level by construction.
				tr.Reached = "L = " + strconv.FormatFloat(r0.MarginLevel, 'g', 3, 64) + " nats"
			}
			out = append(out, tr)
		}
		i = j
	}
	return out
}

// Points returns the matching points of the comparison: "final", then
// MarginCommon (when any row has it), then one per margin level.
func (c *Comparison) Points() []string {
	pts := []string{"final"}
	for _, r := range c.Rows {
		if r.At == MarginCommon {
			pts = append(pts, MarginCommon)
			break
		}
	}
	for _, l := range c.MarginLevels {
		pts = append(pts, "margin "+fmtG(l))
	}
	return pts
}

// Pipelines returns the pipelines present in the rows, in display order.
func (c *Comparison) Pipelines() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.Rows {
		if !seen[r.Context.Pipeline] {
			seen[r.Context.Pipeline] = true
			out = append(out, r.Context.Pipeline)
		}
	}
	return out
}

// NoneReached reports whether no row of a margin table has a paired seed
// that reached the level (the table would be all "not reached").
func NoneReached(rows []TableRow) bool {
	for _, tr := range rows {
		if tr.At == "final" || tr.N > 0 {
			return false
		}
	}
	return len(rows) > 0
}

// PointTitle describes a matching point in words.
func PointTitle(at string) string {
	if at == "final" {
		return "At the final probe (matched step)"
	}
	if at == MarginCommon {
		return "At the largest train-probe reward margin every paired run reaches (L per row, nats of log-ratio, no β)"
	}
	return "At matched train-probe reward margin L = " + strings.TrimPrefix(at, "margin ") +
		" nats of log-ratio (r⁺ − r⁻, no β; each run interpolated between the two probes that bracket L)"
}

// Markdown renders the comparison as Markdown: an explanation, then per
// pipeline one table per matching point.
func (c *Comparison) Markdown() string {
	var b strings.Builder
	pct := fmtG(c.Confidence * 100)
	b.WriteString("# Gated vs ungated\n\n")
	fmt.Fprintf(&b, "Paired by seed: each entry is the mean over seeds of (gated − ungated) for the same "+
		"arch, dataset, pipeline, objective, settings and seed, with its %s %% confidence interval "+
		"[Student t, df = n − 1]. n = number of paired seeds; with n = 2 the interval uses t = %.1f and is wide. "+
		"`*` marks an interval that excludes 0. Metrics are read on the held-out probe split (train split when "+
		"a cell has no held-out probe). ΔLP_chosen, gap and LP_argmax are in nats; top-1 mass, suppression and reward "+
		"accuracy are fractions.\n\n", pct, TQuantile((1+c.Confidence)/2, 1))
	b.WriteString("Matched margin (docs/method.md): the level L is the train-probe reward margin r⁺ − r⁻ in nats of " +
		"log-ratio (summed over the response, without β; TRL's rewards/margins in train.csv is β times a batch " +
		"mean of it). Each run is read where its train margin first crosses L, by linear interpolation between " +
		"the two consecutive probes that bracket L (every metric and the step). Only seeds where both runs reach L " +
		"count; \"not reached\" counts the others. step g/u is the mean step read. Only complete cells are " +
		"compared: \"failed\" counts seeds whose gated or ungated run failed, \"unpaired\" seeds with a complete " +
		"run on one side only.\n\n")
	if len(c.Rows) == 0 {
		b.WriteString("No gated cell with an ungated partner in this sweep: nothing to compare.\n\n")
	}
	for _, p := range c.Pipelines() {
		fmt.Fprintf(&b, "## Pipeline %s\n\n", p)
		for _, at := range c.Points() {
			var rows []TableRow
			for _, tr := range c.Table(at) {
				if tr.Context.Pipeline == p {
					rows = append(rows, tr)
				}
			}
			if len(rows) == 0 {
				continue
			}
			if NoneReached(rows) {
				fmt.Fprintf(&b, "### %s\n\nNot reached by any run.\n\n", PointTitle(at))
				continue
			}
			fmt.Fprintf(&b, "### %s\n\n", PointTitle(at))
			showSettings := false
			for _, tr := range rows {
				showSettings = showSettings || tr.Context.Variant != ""
			}
			hdr := []string{"arch", "dataset", "objective", "settings", "gate", "n", "failed", "unpaired", "step g/u"}
			if !showSettings {
				hdr = append(hdr[:3], hdr[4:]...)
			}
			if at != "final" {
				hdr = append(hdr, "reached", "not reached")
			}
			for _, m := range CompareMetrics {
				h := m.Label
				if m.Unit != "" {
					h += " (" + m.Unit + ")"
				}
				hdr = append(hdr, h)
			}
			b.WriteString("| " + strings.Join(hdr, " | ") + " |\n")
			b.WriteString(strings.Repeat("|---", len(hdr)) + "|\n")
			for _, tr := range rows {
				cells := []string{tr.Context.Arch, tr.Context.Dataset, tr.Context.Objective, orDash(tr.Context.Variant),
					tr.GateLabel, strconv.Itoa(tr.N), strconv.Itoa(tr.Failed), strconv.Itoa(tr.Unpaired), orDash(tr.Steps)}
				if !showSettings {
					cells = append(cells[:3], cells[4:]...)
				}
				if at != "final" {
					cells = append(cells, tr.Reached, strconv.Itoa(tr.NotReached))
				}
				cells = append(cells, tr.Cells...)
				for i := range cells {
					cells[i] = strings.ReplaceAll(cells[i], "|", "\\|")
				}
				b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			}
			b.WriteString("\n")
		}
	}
	c.sizeMarkdown(&b)
	for _, n := range c.Notes {
		b.WriteString("- " + n + "\n")
	}
	if len(c.FailedCells) > 0 {
		b.WriteString("\n## Failed cells (not compared)\n\n")
		for _, f := range c.FailedCells {
			b.WriteString("- `" + f.ID + "`: " + f.Reason + "\n")
		}
	}
	if len(c.Duplicates) > 0 {
		b.WriteString("\n## Duplicate runs (same context, gate and seed; the newest complete one is counted)\n\n")
		for _, d := range c.Duplicates {
			b.WriteString("- `" + d.ID + "`: set aside, counted `" + d.Kept + "`\n")
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteFiles writes comparison.csv and comparison.md into dir and returns
// their paths.
func (c *Comparison) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	csvPath := filepath.Join(dir, ComparisonCSVFile)
	var sb strings.Builder
	if err := c.WriteCSV(&sb); err != nil {
		return nil, fmt.Errorf("%s: %v", csvPath, err)
	}
	if err := WriteBytesAtomic(csvPath, []byte(sb.String())); err != nil {
		return nil, err
	}
	mdPath := filepath.Join(dir, ComparisonMDFile)
	if err := WriteBytesAtomic(mdPath, []byte(c.Markdown())); err != nil {
		return nil, err
	}
	paths := []string{csvPath, mdPath}
	sizePath := filepath.Join(dir, ComparisonSizeCSVFile)
	if len(c.Sizes) == 0 {
		// a stale size table of an earlier rebuild would contradict comparison.md
		if err := os.Remove(sizePath); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		return paths, nil
	}
	sb.Reset()
	if err := c.WriteSizeCSV(&sb); err != nil {
		return nil, fmt.Errorf("%s: %v", sizePath, err)
	}
	if err := WriteBytesAtomic(sizePath, []byte(sb.String())); err != nil {
		return nil, err
	}
	return append(paths, sizePath), nil
}

package results

// The model-size comparison (figure F6's question): does a smaller model
// under a gate at least match a larger ungated one?

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ComparisonSizeCSVFile holds the size comparison (Comparison.Sizes), one
// row per (smaller gated, larger ungated) pair × matching point × metric.
const ComparisonSizeCSVFile = "comparison_size.csv"

// SizeRow compares a gated group of a smaller model with the ungated group
// of a larger model whose settings are otherwise the same (dataset,
// pipeline, objective, training), paired by seed: Diff is the mean over
// seeds of (small gated − large ungated). Context and Gate are the small
// gated model's; Ungated holds the larger model's means.
type SizeRow struct {
	ComparisonRow
	LargerArch string // the ungated model's arch
}

// ModelSize is a size proxy for ordering archs: the model's "params" (or
// "n_params") when its config records one, else 12·d²·layers for a
// transformer, window·d·hidden for an MLP, else d_model.
func ModelSize(c *Cell) float64 {
	num := func(keys ...string) float64 {
		for _, k := range keys {
			if x, ok := c.Config.Model[k].(float64); ok {
				return x
			}
		}
		return 0
	}
	if p := num("params", "n_params"); p > 0 {
		return p
	}
	d := num("d_model")
	if l := num("n_layers", "layers"); l > 0 {
		return 12 * d * d * l
	}
	if h, w := num("hidden"), num("window"); h > 0 {
		return max(w, 1) * d * h
	}
	return d
}

// sizeContextKey is ContextKey with the arch and its model table cleared:
// two groups with the same key differ only in model (and gate).
func sizeContextKey(g *Group) string {
	c := g.Cells[0].Config
	c.Gate, c.Seed, c.Sweep, c.Arch, c.Model = GateSpec{}, 0, "", "", nil
	b, _ := json.Marshal(c)
	return string(b)
}

// compareSizes pairs every gated group with the ungated baseline of every
// strictly larger model of otherwise equal settings, at the final probe and
// at the largest train margin both runs of every pair reach.
func compareSizes(groups []*Group, conf float64) []SizeRow {
	var out []SizeRow
	for _, g := range groups {
		if g.Gate.Ungated() || len(g.Cells) == 0 {
			continue
		}
		key, size := sizeContextKey(g), ModelSize(g.Cells[0])
		for _, b := range groups {
			if !b.Gate.Ungated() || len(b.Cells) == 0 || b.Context.Arch == g.Context.Arch ||
				Baseline(groups, b.Context.Key) != b || sizeContextKey(b) != key || !(ModelSize(b.Cells[0]) > size) {
				continue
			}
			rows := CompareGroup(g, b, "final", 0, conf)
			if lvl := CommonMargin(g, b); lvl > 0 {
				rows = append(rows, CompareGroup(g, b, MarginCommon, lvl, conf)...)
			}
			for _, r := range rows {
				out = append(out, SizeRow{ComparisonRow: r, LargerArch: b.Context.Arch})
			}
		}
	}
	return out
}

// WriteSizeCSV writes the size comparison as comparison_size.csv: the
// columns of comparison.csv (arch is the smaller, gated model's) and
// larger_arch, the ungated model's.
func (c *Comparison) WriteSizeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(append([]string{}, ComparisonCSVColumns...), "larger_arch")); err != nil {
		return err
	}
	for _, r := range c.Sizes {
		if err := cw.Write(append(rowRecord(r.ComparisonRow), r.LargerArch)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SizeTableRow is one wide row of the size comparison: a (smaller gated,
// larger ungated) pair at one matching point, every metric formatted.
type SizeTableRow struct {
	Pipeline, Dataset, Objective string
	Gated                        string  // smaller arch and gate label
	Larger                       string  // the ungated larger arch
	N                            int     // paired seeds (the largest over metrics)
	Steps                        string  // "gated/ungated" mean step read, or "—"
	Level                        float64 // the margin level (0 at the final probe)
	Cells                        []string
	Rows                         []ComparisonRow // one per CompareMetrics metric
}

// SizePoints are the matching points of the size comparison.
var SizePoints = []string{"final", MarginCommon}

// SizeTitle is the heading of a size-comparison matching point.
func SizeTitle(at string) string {
	if at == MarginCommon {
		return "At the largest train-probe reward margin both runs reach (L per row, nats of log-ratio, no β)"
	}
	return "At the final probe (matched step)"
}

// SizeTable returns the wide rows of the size comparison at one matching
// point ("final" or MarginCommon), in display order.
func (c *Comparison) SizeTable(at string) []SizeTableRow {
	var out []SizeTableRow
	for i := 0; i < len(c.Sizes); {
		j := i
		for j < len(c.Sizes) && c.Sizes[j].Context.Key == c.Sizes[i].Context.Key && c.Sizes[j].LargerArch == c.Sizes[i].LargerArch &&
			GateKey(c.Sizes[j].Gate) == GateKey(c.Sizes[i].Gate) && c.Sizes[j].At == c.Sizes[i].At {
			j++
		}
		r0 := c.Sizes[i]
		if r0.At == at {
			tr := SizeTableRow{Pipeline: r0.Context.Pipeline, Dataset: r0.Context.Dataset, Objective: r0.Context.Objective,
				Gated: r0.Context.Arch + " " + r0.GateLabel, Larger: r0.LargerArch, Steps: "—", Level: r0.MarginLevel}
			if !math.IsNaN(r0.StepGated) {
				tr.Steps = fmt.Sprintf("%.0f/%.0f", r0.StepGated, r0.StepUngated)
			}
			for _, r := range c.Sizes[i:j] {
				tr.N = max(tr.N, r.Diff.N)
				tr.Cells = append(tr.Cells, FormatCell(r.ComparisonRow))
				tr.Rows = append(tr.Rows, r.ComparisonRow)
			}
			out = append(out, tr)
		}
		i = j
	}
	return out
}

// SizeHeader is the header of a size table at one matching point.
func SizeHeader(at string) []string {
	hdr := []string{"pipeline", "dataset", "objective", "gated (smaller)", "ungated (larger)", "n", "step g/u"}
	if at == MarginCommon {
		hdr = append(hdr, "L (nats)")
	}
	for _, m := range CompareMetrics {
		h := m.Label
		if m.Unit != "" {
			h += " (" + m.Unit + ")"
		}
		hdr = append(hdr, h)
	}
	return hdr
}

// Fields are the row's columns under SizeHeader(at).
func (tr SizeTableRow) Fields(at string) []string {
	cells := []string{tr.Pipeline, tr.Dataset, tr.Objective, tr.Gated, tr.Larger, strconv.Itoa(tr.N), tr.Steps}
	if at == MarginCommon {
		cells = append(cells, strconv.FormatFloat(tr.Level, 'g', 3, 64))
	}
	return append(cells, tr.Cells...)
}

// SizeNote explains the size comparison (comparison.md, report.html).
const SizeNote = "Paired by seed: each entry is the mean over seeds of (smaller model, gated − larger model, ungated) " +
	"for the same dataset, pipeline, objective and training settings, with its 95 % confidence interval. " +
	"A positive ΔLP_chosen means the small gated model kept more chosen likelihood than the larger ungated one; " +
	"a negative gap, less squeezing. At the final probe, and at the largest train-probe reward margin both runs " +
	"of every pair reach (nats of log-ratio, no β). Also in " + ComparisonSizeCSVFile + "."

// sizeMarkdown renders the size comparison: one table per matching point.
func (c *Comparison) sizeMarkdown(b *strings.Builder) {
	if len(c.Sizes) == 0 {
		return
	}
	b.WriteString("## Smaller gated model vs larger ungated model (F6)\n\n" + SizeNote + "\n\n")
	for _, at := range SizePoints {
		rows := c.SizeTable(at)
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "### %s\n\n", SizeTitle(at))
		hdr := SizeHeader(at)
		b.WriteString("| " + strings.Join(hdr, " | ") + " |\n")
		b.WriteString(strings.Repeat("|---", len(hdr)) + "|\n")
		for _, tr := range rows {
			cells := tr.Fields(at)
			for k := range cells {
				cells[k] = strings.ReplaceAll(cells[k], "|", "\\|")
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
}

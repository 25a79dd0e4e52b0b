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

// sizeMarkdown renders the size comparison: one table per matching point.
func (c *Comparison) sizeMarkdown(b *strings.Builder) {
	if len(c.Sizes) == 0 {
		return
	}
	b.WriteString("## Smaller gated model vs larger ungated model (F6)\n\n")
	b.WriteString("Paired by seed: each entry is the mean over seeds of (smaller model, gated − larger model, ungated) " +
		"for the same dataset, pipeline, objective and training settings, with its 95 % confidence interval. " +
		"A positive ΔLP_chosen means the small gated model kept more chosen likelihood than the larger ungated one; " +
		"a negative gap, less squeezing. At the final probe, and at the largest train-probe reward margin both runs " +
		"of every pair reach (nats of log-ratio, no β). Also in " + ComparisonSizeCSVFile + ".\n\n")
	for _, at := range []string{"final", MarginCommon} {
		var rows []SizeRow
		for _, r := range c.Sizes {
			if r.At == at {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		title := "At the final probe (matched step)"
		if at == MarginCommon {
			title = "At the largest train-probe reward margin both runs reach (L per row, nats of log-ratio, no β)"
		}
		fmt.Fprintf(b, "### %s\n\n", title)
		hdr := []string{"pipeline", "dataset", "objective", "gated (smaller)", "ungated (larger)", "n", "step g/u"}
		if at == MarginCommon {
			hdr = append(hdr, "L")
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
		for i := 0; i < len(rows); i += len(CompareMetrics) {
			r0 := rows[i]
			n := 0
			for _, r := range rows[i:min(i+len(CompareMetrics), len(rows))] {
				n = max(n, r.Diff.N)
			}
			steps := "—"
			if !math.IsNaN(r0.StepGated) {
				steps = fmt.Sprintf("%.0f/%.0f", r0.StepGated, r0.StepUngated)
			}
			cells := []string{r0.Context.Pipeline, r0.Context.Dataset, r0.Context.Objective,
				r0.Context.Arch + " " + r0.GateLabel, r0.LargerArch, strconv.Itoa(n), steps}
			if at == MarginCommon {
				cells = append(cells, strconv.FormatFloat(r0.MarginLevel, 'g', 3, 64))
			}
			for _, r := range rows[i:min(i+len(CompareMetrics), len(rows))] {
				cells = append(cells, FormatCell(r.ComparisonRow))
			}
			for k := range cells {
				cells[k] = strings.ReplaceAll(cells[k], "|", "\\|")
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
}

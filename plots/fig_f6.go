package plots

// F6: model size, gated vs ungated.

import (
	"gatedpo/results"
)

func figF6(v *sweepView) ([]*figure, string) {
	figs, _ := categoryFigure(v, "F6", "F6_model_size", "F6: model size, gated vs ungated",
		"Final held-out metrics for each model size (ordered by size), ungated (black, solid) and each gate "+
			"(coloured, dashed), mean over seeds with 95 % error bars. Does a small gated model keep more chosen "+
			"likelihood (higher ΔLP_chosen) than a larger ungated one?", "model (arch)",
		func(c results.CellConfig) results.CellConfig { c.Arch, c.Model = "", nil; return c },
		func(ctx results.Context, _ *results.Cell) string { return ctx.Arch },
		func(a, b *results.Cell) bool {
			sa, sb := results.ModelSize(a), results.ModelSize(b)
			if sa != sb {
				return sa < sb
			}
			return a.Config.Arch < b.Config.Arch
		}, f67Metrics)
	if len(figs) == 0 {
		return nil, "one model size (no two archs with otherwise equal settings)"
	}
	return figs, ""
}

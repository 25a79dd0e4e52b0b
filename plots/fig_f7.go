package plots

// F7: objectives and pipelines, gated vs ungated.

import (
	"gatedpo/results"
)

func objectiveName(ctx results.Context) string {
	if ctx.Pipeline == "extended_sft" {
		return "ext-SFT\n→" + ctx.Objective // two lines: a tick label as wide as two
	}
	return ctx.Objective
}

var objectiveOrder = map[string]int{"dpo": 0, "ipo": 1, "cal_dpo": 2, "rpo": 3, "simpo": 4,
	"dpop": 5, "apo_zero": 6, "apo_down": 7, "nca_pair": 8, "sft": 9}

func figF7(v *sweepView) ([]*figure, string) {
	figs, _ := categoryFigure(v, "F7", "F7_objectives", "F7: objectives × {ungated, gated}",
		"Final held-out metrics for each objective (and the extended-SFT pipeline), ungated (black) and gated "+
			"(coloured), mean over seeds with 95 % error bars. Look for whether the gate adds to what each objective "+
			"already does against squeezing (complementarity) or only helps plain DPO.", "objective",
		func(c results.CellConfig) results.CellConfig {
			c.Objective, c.Pipeline = results.ObjectiveSpec{}, ""
			return c
		},
		func(ctx results.Context, _ *results.Cell) string { return objectiveName(ctx) },
		func(a, b *results.Cell) bool {
			if a.Config.Pipeline != b.Config.Pipeline {
				return a.Config.Pipeline < b.Config.Pipeline
			}
			oa, ob := objectiveOrder[a.Config.Objective.Name], objectiveOrder[b.Config.Objective.Name]
			if oa != ob {
				return oa < ob
			}
			return a.Config.Objective.Name < b.Config.Objective.Name
		}, f67Metrics)
	if len(figs) == 0 {
		return nil, "one objective (no two objectives or pipelines with otherwise equal settings)"
	}
	return figs, ""
}

package experiments

import (
	"log/slog"
	"path/filepath"

	"gatedpo/experiments/toy"
	"gatedpo/gating"
	"gatedpo/plots"
	"gatedpo/results"
)

// writeToy writes the toy records (toy.Write): F1, and F1b with DPO and
// DPO with each gate of the grid, for [toy] seeds seeds and steps steps.
func writeToy(out string, g *Grid) error {
	gates := make([]gating.Spec, len(g.Gates))
	for i, gs := range g.Gates {
		gates[i] = gating.Spec(gs)
	}
	return toy.Write(out, g.Toy.Steps, g.Toy.Seeds, gates)
}

// writeFigures regenerates the sweep's figures, comparison and report
// from its records (plots.WriteAll). Serialised across shards by the same
// lock as summary.csv, so the last process to finish draws the newest.
func writeFigures(out string, log *slog.Logger) error {
	unlock, err := results.LockFile(filepath.Join(out, ".figures.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	rep, err := plots.WriteAll(out)
	if err != nil {
		return err
	}
	log.Info("figures", "figures", len(rep.Figures), "skipped", len(rep.Skipped), "report", rep.HTML)
	return nil
}
